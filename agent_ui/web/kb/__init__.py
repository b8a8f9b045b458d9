"""Knowledge-base pages: the public help center (``/help``) and the staff editor
(``/agent/kb``)."""

from aiohttp import web

from agent_ui.kb_panel import post_insert
from agent_ui.web.kb.editor import ROUTES as EDITOR_ROUTES
from agent_ui.web.kb.help import ROUTES as HELP_ROUTES
from agent_ui.web.kb.macros import ROUTES as MACRO_ROUTES

ROUTES = [
    *HELP_ROUTES,
    *MACRO_ROUTES,
    *EDITOR_ROUTES,
    web.post("/agent/tickets/{number}/kb/{slug}/insert", post_insert),
]

__all__ = ["ROUTES"]
