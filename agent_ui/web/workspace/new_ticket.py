"""``/agent/new``: a ticket for work that arrived outside the channels (a phone call
logged by hand, a walk-in), through the same ``tickets.create_ticket`` as
``POST /api/v1/tickets``.

Decisions where the issue is silent:
- the form carries an idempotency key made when it is shown, so a double click or a
  re-sent form opens one ticket, not two (the second answer is the first ticket);
- the customer is found by the phone or email typed (any spelling of the phone), else
  made; the service owns that rule. The channel choices are the ones a ticket made by
  hand can be answered on: phone call (voice), email, SMS, or other (walk-in, no
  channel). An invalid form is shown again with the reason and what was typed.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

import tickets
from agent_ui.context import DESK
from agent_ui.web.config import page_user
from agent_ui.web.i18n import _
from agent_ui.web.render import render
from agent_ui.web.workspace import data, labels
from agent_ui.web.workspace.topbar import topbar_context

CHANNELS = ("voice", "email", "sms", "api")
PRIORITIES = ("normal", "low", "high", "urgent")
FIELDS = ("customer_name", "phone", "email", "channel", "queue", "priority", "subject", "text")


def _field(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


async def _form(
    request: web.Request, values: dict[str, str], *, error: str = "", status: int = 200
) -> web.Response:
    staff = page_user(request)
    queues = await data.queues_for(request.app[DESK], staff)
    return await render(
        request,
        "agent/new.html",
        {
            "values": values,
            "error": error,
            "queues": queues,
            "channels": [(c, labels.channel(c)) for c in CHANNELS],
            "priorities": [(p, labels.priority(p)) for p in PRIORITIES],
            "agent_topbar": await topbar_context(request),
        },
        status=status,
    )


async def new_ticket_page(request: web.Request) -> web.Response:
    values = dict.fromkeys(FIELDS, "")
    values["channel"], values["priority"] = "voice", "normal"
    values["key"] = secrets.token_urlsafe(18)
    return await _form(request, values)


async def create(request: web.Request) -> web.StreamResponse:
    staff = page_user(request)
    form = await request.post()
    values = {name: _field(form, name) for name in (*FIELDS, "key")}
    if not values["key"]:
        values["key"] = secrets.token_urlsafe(18)
    if not (values["customer_name"] and values["subject"] and values["text"]):
        message = _("Name, subject and text are required.")
        return await _form(request, values, error=message, status=400)
    if not (values["phone"] or values["email"]):
        message = _("Give the customer's phone or email, so they can be answered.")
        return await _form(request, values, error=message, status=400)
    try:
        number = await data.create_ticket(
            request.app[DESK],
            staff,
            data.NewTicketForm(
                customer_name=values["customer_name"],
                subject=values["subject"],
                text=values["text"],
                email=values["email"] or None,
                phone=values["phone"] or None,
                channel=values["channel"] or None,
                queue=values["queue"] or None,
                priority=values["priority"] or None,
            ),
            idempotency_key="web:" + values["key"],
        )
    except (tickets.Invalid, tickets.Forbidden, tickets.Conflict) as err:
        return await _form(request, values, error=str(err), status=400)
    raise web.HTTPSeeOther("/agent/tickets/" + number)


ROUTES = [
    web.get("/agent/new", new_ticket_page),
    web.post("/agent/new", create),
]
