"""Errors on pages are pages: a ticket the user may not see is the same 404 page as one
that does not exist (nothing reveals it exists), a refused change a 403, bad input a 400."""

from __future__ import annotations

import logging

from aiohttp import web

import tickets
from agent_ui.http import Handler
from agent_ui.web.auth import is_page
from agent_ui.web.i18n import _
from agent_ui.web.render import render

log = logging.getLogger(__name__)

STATUS = {
    tickets.NotFound: 404,
    tickets.Forbidden: 403,
    tickets.Invalid: 400,
    tickets.Conflict: 409,
}


@web.middleware
async def page_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_page(request.path):
        return await handler(request)
    try:
        return await handler(request)
    except tickets.TicketError as err:
        status = next((code for kind, code in STATUS.items() if isinstance(err, kind)), 400)
        log.info("%s %s -> %s: %s", request.method, request.path, status, err)
        message = _("Not found.") if status == 404 else str(err)
        if request.headers.get("HX-Request"):
            return web.Response(status=status, text=message)
        return await render(
            request, "error.html", {"status": status, "message": message}, status=status
        )
    except web.HTTPNotFound:
        return await render(
            request, "error.html", {"status": 404, "message": _("Not found.")}, status=404
        )
