"""Macros in the workspace: ``/agent/kb/macros`` lists the macros a user may use and
makes new ones (personal, or for a queue by supervisors and admins); the composer asks
``/agent/tickets/{number}/macros?q=`` for the macros matching what follows a typed ``/``
or ``#`` and ``/agent/tickets/{number}/macros/{id}`` for one filled in for that ticket
(``static/kb.js``)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

import knowledge
import tickets
from agent_ui.context import DESK
from agent_ui.erp_api import ERP
from agent_ui.http import dumps
from agent_ui.web.config import page_user
from agent_ui.web.render import render
from agent_ui.web.workspace.topbar import topbar_context

log = logging.getLogger(__name__)


async def _queue_names(session: AsyncSession) -> dict[int, str]:
    return {q.id: q.name for q in await tickets.all_queues(session)}


async def ticket_macros(request: web.Request) -> web.Response:
    staff = page_user(request)
    number = request.match_info["number"]
    query = request.query.get("q", "")[:100]

    async def read(session: AsyncSession) -> list[dict[str, Any]]:
        await tickets.ticket_detail(session, staff, number)  # visible, or NotFound
        found = await knowledge.macros_for(session, staff, query, await _queue_names(session))
        return [{"id": m.id, "name": m.name, "scope": m.scope} for m in found[:20]]

    return web.json_response({"macros": await request.app[DESK].read(read)}, dumps=dumps)


async def ticket_macro(request: web.Request) -> web.Response:
    staff = page_user(request)
    number = request.match_info["number"]
    macro_id = tickets.parse_id(request.match_info["id"])
    if macro_id is None:
        raise tickets.NotFound("no such macro")

    async def read(session: AsyncSession) -> tuple[dict[str, Any], str]:
        ticket = await tickets.ticket_detail(session, staff, number)
        macro = await knowledge.macro_for(session, staff, macro_id)
        return ticket, macro.body

    ticket, body = await request.app[DESK].read(read)
    values = knowledge.placeholders(ticket, staff)
    values.update(await _order_values(request, ticket["number"]))
    return web.json_response({"text": knowledge.render_macro(body, values)}, dumps=dumps)


async def _order_values(request: web.Request, number: str) -> dict[str, str]:
    """``{order.number}`` and ``{order.status}`` from the ERP room's findings for the
    ticket (the order its messages named), when the ERP is set up and knows one; else
    the placeholders stay as written."""
    service = request.app.get(ERP)
    ticket_id = tickets.parse_number(number)
    if service is None or ticket_id is None:
        return {}
    try:
        found = await service.findings(ticket_id)
    except Exception:
        log.warning("macros: the ERP findings of %s could not be read", number, exc_info=True)
        return {}
    for item in found.get("items", []):
        data = item.get("data") if isinstance(item, dict) else None
        if item.get("kind") == "order" and isinstance(data, dict) and data.get("state"):
            return {"order.number": str(item.get("ref", "")), "order.status": str(data["state"])}
    return {}


async def macros_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    staff = page_user(request)

    async def read(session: AsyncSession) -> dict[str, Any]:
        names = await _queue_names(session)
        mine = (
            names
            if staff.sees_all_queues
            else {i: n for i, n in names.items() if i in staff.queue_ids}
        )
        return {
            "macros": await knowledge.macros_for(session, staff, "", names),
            "queues": sorted(mine.items(), key=lambda item: item[1]) if staff.supervises else [],
        }

    found = await request.app[DESK].read(read)
    response = await render(
        request,
        "agent/kb/macros.html",
        {**await topbar_context(request), **found, "error": error},
    )
    response.set_status(status)
    return response


async def macros_list(request: web.Request) -> web.Response:
    return await macros_page(request)


async def macros_add(request: web.Request) -> web.StreamResponse:
    staff = page_user(request)
    form = await request.post()
    queue = str(form.get("queue", ""))
    queue_id = tickets.parse_id(queue) if queue else None

    async def work(session: AsyncSession, now: Any) -> tuple[None, tuple[()]]:
        await knowledge.add_macro(
            session,
            staff,
            str(form.get("name", "")),
            str(form.get("body", "")).replace("\r\n", "\n"),
            now,
            queue_id=queue_id,
        )
        return None, ()

    try:
        await request.app[DESK].write(work)
    except (tickets.Invalid, tickets.Forbidden) as err:
        return await macros_page(request, error=str(err), status=400)
    raise web.HTTPSeeOther("/agent/kb/macros")


async def macros_delete(request: web.Request) -> web.StreamResponse:
    staff = page_user(request)
    macro_id = tickets.parse_id(request.match_info["id"])
    if macro_id is None:
        raise tickets.NotFound("no such macro")

    async def work(session: AsyncSession, now: Any) -> tuple[None, tuple[()]]:
        await knowledge.delete_macro(session, staff, macro_id)
        return None, ()

    await request.app[DESK].write(work)
    raise web.HTTPSeeOther("/agent/kb/macros")


ROUTES = [
    web.get("/agent/kb/macros", macros_list),
    web.post("/agent/kb/macros", macros_add),
    web.post("/agent/kb/macros/{id}/delete", macros_delete),
    web.get("/agent/tickets/{number}/macros", ticket_macros),
    web.get("/agent/tickets/{number}/macros/{id}", ticket_macro),
]
