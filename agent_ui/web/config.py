"""Typed state of the web app, declared in one place (``web.AppKey``/``RequestKey``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from agent_ui.web.lockout import LoginGuard
from channels.webchat import ClientPolicy
from tickets import StaffUser
from tickets.websessions import WebSession

SESSION_COOKIE = "sb_session"
LOGIN_CSRF_COOKIE = "sb_login_csrf"
LANGUAGE_COOKIE = "sb_lang"


@dataclass(frozen=True)
class WebConfig:
    secure_cookies: bool
    """Cookies carry ``Secure`` when the public URL is https."""
    idle: timedelta
    clients: ClientPolicy
    guard: LoginGuard
    time_zone: str
    """The zone for users who chose none (the business calendar's)."""
    public_origin: str | None


WEB_CONFIG = web.AppKey("web_config", WebConfig)
WEB_SESSION = web.RequestKey("web_session", WebSession)
LOGIN_CSRF = web.RequestKey("login_csrf", str)


def web_session(request: web.Request) -> WebSession | None:
    found: WebSession | None = request.get(WEB_SESSION)
    return found


def page_user(request: web.Request) -> StaffUser:
    """The signed-in user of a page route (the middleware sent everyone else to ``/``)."""
    found = web_session(request)
    if found is None:
        raise RuntimeError("page route is missing its session")
    return found.staff
