"""The agent workspace: ``/agent`` (views, counts, list, search, paging), the top bar of
every ``/agent`` page (presence switch, offer banner), and the new-ticket form.

The ticket page (``/agent/tickets/{number}``) is its own package; its templates extend
``agent/frame.html`` to get the same top bar, shortcuts and realtime socket."""

from __future__ import annotations

from aiohttp import web

from agent_ui.web.workspace import new_ticket, pages, topbar

ROUTES: list[web.RouteDef] = [*pages.ROUTES, *topbar.ROUTES, *new_ticket.ROUTES]

__all__ = ["ROUTES"]
