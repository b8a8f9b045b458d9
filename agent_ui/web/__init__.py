"""The staff web app: login, sessions, CSRF, translations, page rendering, security
headers, static files, and the pages of the workspace and the wallboard.

``setup_web(app)`` installs templates, routes and static files; the composition root puts
``session_middleware``/``security_headers``/``page_errors`` in the app's middleware chain
and stores a ``WebConfig`` under ``WEB_CONFIG`` at start-up."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from agent_ui.web import account, auth, erp, wallboard, workspace
from agent_ui.web.auth import session_authenticator, session_middleware
from agent_ui.web.config import WEB_CONFIG, WEB_SESSION, WebConfig, page_user, web_session
from agent_ui.web.kb import ROUTES as KB_ROUTES
from agent_ui.web.lockout import Limits, LoginGuard, MemoryCounter, RedisCounter
from agent_ui.web.pages_errors import page_errors
from agent_ui.web.render import render, setup_templates
from agent_ui.web.security import security_headers
from agent_ui.web.ticket import ROUTES as TICKET_ROUTES

STATIC = Path(__file__).resolve().parent.parent / "static"


def web_routes() -> list[web.AbstractRouteDef]:
    return [
        *auth.ROUTES,
        *account.ROUTES,
        *wallboard.ROUTES,
        *workspace.ROUTES,
        *TICKET_ROUTES,
        *KB_ROUTES,
        *erp.ROUTES,
    ]


def setup_web(app: web.Application) -> None:
    setup_templates(app)
    app.add_routes(web_routes())
    app.router.add_static("/static/", STATIC, append_version=True)


__all__ = [
    "WEB_CONFIG",
    "WEB_SESSION",
    "Limits",
    "LoginGuard",
    "MemoryCounter",
    "RedisCounter",
    "WebConfig",
    "page_errors",
    "page_user",
    "render",
    "security_headers",
    "session_authenticator",
    "session_middleware",
    "setup_web",
    "web_session",
]
