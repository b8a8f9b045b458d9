"""The supervisor wallboard at ``/supervisor``: live tiles per queue and channel, the SLA
list, the agents table, two charts, and the supervisor's actions. Supervisors see their
own queues, admins every queue, agents a 404."""

from __future__ import annotations

from aiohttp import web

from agent_ui.web.wallboard import actions, pages

ROUTES = [
    web.get("/supervisor", pages.wallboard_page),
    web.get("/supervisor/fragments/tiles", pages.tiles_fragment),
    web.get("/supervisor/fragments/sla", pages.sla_fragment),
    web.get("/supervisor/fragments/agents", pages.agents_fragment),
    web.get("/supervisor/charts.json", pages.charts_data),
    web.post("/supervisor/actions/assign", actions.force_assign),
    web.post("/supervisor/actions/move", actions.move_ticket),
    web.post("/supervisor/actions/presence", actions.set_presence),
]

__all__ = ["ROUTES"]
