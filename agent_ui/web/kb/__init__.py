"""Knowledge-base pages: the public help center (``/help``) and the staff editor
(``/agent/kb``)."""

from agent_ui.web.kb.help import ROUTES as HELP_ROUTES

ROUTES = [*HELP_ROUTES]

__all__ = ["ROUTES"]
