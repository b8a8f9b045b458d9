"""The ticket page, ``/agent/tickets/{number}``, its fragments and its posts.

Every handler loads the ticket through the services first, so a ticket outside the
user's queues is the 404 page (``tickets.NotFound`` through ``page_errors``) for the
page, every fragment and every post alike. Posts work as plain forms (303 back to the
page; a refusal re-renders the page with the reason next to the control) and through
htmx (the fragment that changed; a refusal answers its 4xx with the reason as text, which
``ticket.js`` shows inline).

Decisions where the issue is silent:
- Email HTML (nh3-sanitized at ingest) is shown in ``<iframe sandbox srcdoc=...>`` with
  an empty sandbox: no scripts, no forms, no same-origin access, and it inherits the
  page's CSP (``img-src 'self' data:``), so remote images and tracking pixels never load.
  No extra route serves customer HTML, so there is no second URL to authorize.
- Retrying a failed message goes through ``tickets.retry_message`` (outbox entry due
  again, audited); only members of the ticket's queue see the button.
- Customer search for a merge is the ticket search (name, email, phone, text) plus an
  exact customer id; supervisors and admins only, like the merge itself.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aiohttp import web

import tickets
from agent_ui.context import DESK
from agent_ui.uploads import UPLOAD_KEY
from agent_ui.web.config import page_user
from agent_ui.web.i18n import gettext_
from agent_ui.web.render import render
from agent_ui.web.ticket import data
from agent_ui.web.ticket.files import keep_files, read_composer
from agent_ui.web.ticket.labels import (
    channel_name,
    delivery_name,
    duration,
    priority_name,
    sla_name,
    status_name,
)
from agent_ui.web.ticket.view import TicketView, finish, load, reachable_channels
from tickets import Channel, StaffUser, TicketChanges

REFUSED = (tickets.Invalid, tickets.Conflict, tickets.Forbidden)
STATUS = {tickets.Invalid: 400, tickets.Forbidden: 403, tickets.Conflict: 409}
MAX_QUERY = 200


def _number(request: web.Request) -> str:
    return request.match_info["number"]


def _is_htmx(request: web.Request) -> bool:
    return bool(request.headers.get("HX-Request"))


async def _view(request: web.Request, staff: StaffUser, number: str) -> TicketView:
    view = await request.app[DESK].read(lambda s: load(request, s, staff, number))
    return await finish(request, view, staff)


def _context(view: TicketView, errors: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "v": view,
        "base": f"/agent/tickets/{view.number}",
        "errors": defaultdict(str, errors or {}),
        "channel_name": channel_name,
        "status_name": status_name,
        "priority_name": priority_name,
        "delivery_name": delivery_name,
        "sla_name": sla_name,
        "duration": duration,
        "tr": gettext_,
    }


async def _fragment(request: web.Request, template: str, **extra: Any) -> web.Response:
    staff = page_user(request)
    view = await _view(request, staff, _number(request))
    return await render(request, f"agent/ticket/{template}", {**_context(view), **extra})


async def ticket_page(request: web.Request) -> web.Response:
    return await _fragment(request, "page.html")


async def timeline(request: web.Request) -> web.Response:
    return await _fragment(request, "_timeline.html")


async def controls(request: web.Request) -> web.Response:
    return await _fragment(request, "_controls.html")


async def side(request: web.Request) -> web.Response:
    return await _fragment(request, "_side.html")


async def _refused(
    request: web.Request, staff: StaffUser, number: str, area: str, err: tickets.TicketError
) -> web.Response:
    status = next((code for kind, code in STATUS.items() if isinstance(err, kind)), 400)
    if _is_htmx(request):
        return web.Response(status=status, text=str(err))
    view = await _view(request, staff, number)
    return await render(
        request, "agent/ticket/page.html", _context(view, {area: str(err)}), status=status
    )


async def _done(
    request: web.Request, staff: StaffUser, number: str, template: str
) -> web.StreamResponse:
    if not _is_htmx(request):
        raise web.HTTPSeeOther(f"/agent/tickets/{number}")
    view = await _view(request, staff, number)
    response = await render(request, f"agent/ticket/{template}", _context(view))
    return response


async def _form(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def post_message(request: web.Request) -> web.StreamResponse:
    """The composer: a reply on the chosen channel, or an internal note."""
    staff, number = page_user(request), _number(request)
    current = await request.app[DESK].read(lambda s: data.ticket(s, staff, number))
    number = current["number"]
    max_bytes = request.app[UPLOAD_KEY].max_bytes
    try:
        form, files = await read_composer(request, max_bytes)
        text = form.get("text", "")
        if form.get("note") or current["status"] == tickets.TicketStatus.CLOSED.value:
            if files:
                raise tickets.Invalid("an internal note cannot carry files")
            work = data.note(staff, number, text)
        else:
            try:
                channel = Channel(form["channel"]) if form.get("channel") else None
            except ValueError as err:
                raise tickets.Invalid(f"unknown channel {form.get('channel')!r}") from err
            reachable = reachable_channels(request)

            def can_send(via: Channel) -> bool:
                return reachable is None or via in reachable

            refs = await keep_files(request, files, max_bytes)
            work = data.reply(staff, number, text, channel, can_send, refs)
        await request.app[DESK].write(work)
    except REFUSED as err:
        return await _refused(request, staff, number, "composer", err)
    response = await _done(request, staff, number, "_timeline.html")
    opened = current["status"] == tickets.TicketStatus.NEW.value and not form.get("note")
    # A reply opens a new ticket and stops SLA clocks: refresh what shows them.
    response.headers["HX-Trigger"] = "ticket-changed" if opened else "ticket-side"
    return response


async def post_update(request: web.Request) -> web.StreamResponse:
    """Status, priority, queue, assignee and tags through ``tickets.update_ticket``; only
    what differs from the ticket as shown is sent, so an unchanged field is no change."""
    staff, number = page_user(request), _number(request)
    current = await request.app[DESK].read(lambda s: data.ticket(s, staff, number))
    number = current["number"]
    form = await _form(request)

    def changed(name: str, now: object) -> str | None:
        value = form.get(name)
        return None if value is None or value == (now or "") else value

    tags: list[str] | None = None
    if "tags" in form:
        wanted = sorted({t.strip().lower() for t in form["tags"].split(",") if t.strip()})
        tags = None if wanted == sorted(current["tags"]) else wanted
    changes = TicketChanges(
        status=changed("status", current["status"]),
        priority=changed("priority", current["priority"]),
        queue=changed("queue", current["queue"]),
        assignee=changed("assignee", current["assignee"]),
        tags=tags,
    )
    try:
        await request.app[DESK].write(data.update(staff, number, changes))
    except REFUSED as err:
        return await _refused(request, staff, number, "controls", err)
    response = await _done(request, staff, number, "_controls.html")
    if changes.status == tickets.TicketStatus.CLOSED.value:
        response.headers["HX-Refresh"] = "true"  # the whole page turns read-only
    else:
        response.headers["HX-Trigger"] = "ticket-side"
    return response


async def post_retry(request: web.Request) -> web.StreamResponse:
    staff, number = page_user(request), _number(request)
    message_id = tickets.parse_id(request.match_info["message"])
    if message_id is None:
        raise tickets.NotFound("no such message")
    current = await request.app[DESK].read(lambda s: data.ticket(s, staff, number))
    number = current["number"]
    try:
        await request.app[DESK].write(data.retry(staff, number, message_id))
    except REFUSED as err:
        return await _refused(request, staff, number, "timeline", err)
    return await _done(request, staff, number, "_timeline.html")


async def customers(request: web.Request) -> web.Response:
    """Merge candidates (supervisors and admins)."""
    staff, number = page_user(request), _number(request)
    query = request.query.get("q", "")[:MAX_QUERY]
    if not tickets.storable_text(query):
        raise tickets.Invalid("the search contains characters that cannot be stored")

    async def work(s: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        ticket = await data.ticket(s, staff, number)
        if not staff.supervises:
            raise tickets.Forbidden("only supervisors and admins merge customers")
        found = await data.find_customers(s, staff, query, exclude=ticket["customer"]["id"])
        return ticket, found

    ticket, found = await request.app[DESK].read(work)
    return await render(
        request,
        "agent/ticket/_candidates.html",
        {
            "candidates": found,
            "query": query,
            "base": f"/agent/tickets/{ticket['number']}",
            "channel_name": channel_name,
        },
    )


async def _customer_change(request: web.Request, field: str, make: Any) -> web.StreamResponse:
    staff, number = page_user(request), _number(request)
    current = await request.app[DESK].read(lambda s: data.ticket(s, staff, number))
    number = current["number"]
    form = await _form(request)
    try:
        try:
            target = int(form.get(field, ""))
        except ValueError as err:
            raise tickets.Invalid(f"{field} must be a number") from err
        await request.app[DESK].write(make(staff, number, target))
    except REFUSED as err:
        return await _refused(request, staff, number, "customer", err)
    return await _done(request, staff, number, "_side.html")


async def post_merge(request: web.Request) -> web.StreamResponse:
    return await _customer_change(request, "merge", data.merge)


async def post_unmerge(request: web.Request) -> web.StreamResponse:
    return await _customer_change(request, "merge_id", data.unmerge)


ROUTES = [
    web.get("/agent/tickets/{number}", ticket_page),
    web.get("/agent/tickets/{number}/timeline", timeline),
    web.get("/agent/tickets/{number}/controls", controls),
    web.get("/agent/tickets/{number}/side", side),
    web.get("/agent/tickets/{number}/customers", customers),
    web.post("/agent/tickets/{number}/messages", post_message),
    web.post("/agent/tickets/{number}/update", post_update),
    web.post("/agent/tickets/{number}/messages/{message}/retry", post_retry),
    web.post("/agent/tickets/{number}/merge", post_merge),
    web.post("/agent/tickets/{number}/unmerge", post_unmerge),
]
