"""HTTP for staff: the REST API (``/api/v1``), its OpenAPI document, and (later) the agent
and supervisor web app and realtime socket."""

from agent_ui.api import api_routes
from agent_ui.context import DESK
from agent_ui.errors import error_middleware

__all__ = ["DESK", "api_routes", "error_middleware"]
