"""Sign-in, sessions and CSRF for the web app.

``GET /`` is the login page; ``POST /login`` checks the password (argon2, off the loop),
honours the lock-out (``agent_ui.web.lockout``) and starts a server-side session whose
cookie is HttpOnly, SameSite=Lax and Secure when the public URL is https. ``POST /logout``
deletes the session row, so the cookie is dead at once everywhere.

CSRF: every unsafe request (POST, PUT, PATCH, DELETE) outside the token-authenticated API,
the customer chat and the provider webhooks must carry the session's CSRF token, as the
form field ``csrf_token`` or the ``X-CSRF-Token`` header (htmx sends it from the
``hx-headers`` on ``<body>``); the login form, which has no session yet, uses a
double-submit cookie. A request without it gets 403. API calls authenticated by the
session cookie (the pages' own JSON calls) need the header too; bearer tokens do not.

Pages (``/agent``, ``/supervisor``, ``/account``) need a session: a browser is sent to the
login page with ``next``, an htmx request gets 401 with ``HX-Redirect``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from datetime import datetime, timedelta
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from agent_ui.context import DESK
from agent_ui.http import Handler
from agent_ui.stream import STREAM, Authenticator
from agent_ui.web import i18n
from agent_ui.web.config import (
    LANGUAGE_COOKIE,
    LOGIN_CSRF,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    WEB_CONFIG,
    WEB_SESSION,
    web_session,
)
from agent_ui.web.i18n import _
from agent_ui.web.render import render, request_language

log = logging.getLogger(__name__)

PAGE_PREFIXES = ("/agent", "/supervisor", "/account")
CSRF_EXEMPT_PREFIXES = ("/chat", "/webhooks/", "/healthz", "/metrics", "/help/")
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
RECONNECT = 1012
"""Close code telling realtime.js to reconnect at once (the server is restarting)."""


def is_page(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES)


async def _resolve_session(request: web.Request) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 200:
        return
    desk = request.app[DESK]
    now = desk.clock()
    found = await desk.read(lambda s: tickets.session_for_token(s, token, now))
    if found is None:
        return
    session, due = found
    if due:
        idle = request.app[WEB_CONFIG].idle
        await desk.write(lambda s, at: _touch(s, session.id, at, idle))
    request[WEB_SESSION] = session


async def _touch(
    s: AsyncSession, session_id: int, at: datetime, idle: timedelta
) -> tuple[None, tuple[()]]:
    await tickets.touch_session(s, session_id, at, idle=idle)
    return None, ()


async def _presented_csrf(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else ""
    return ""


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def _csrf_exempt(request: web.Request) -> bool:
    path = request.path
    if any(path.startswith(p) for p in CSRF_EXEMPT_PREFIXES):
        return True
    # The API with a bearer token is not reachable by a forged browser request.
    return path.startswith("/api/") and request.headers.get("Authorization") is not None


async def _check_csrf(request: web.Request) -> None:
    if request.method not in UNSAFE or _csrf_exempt(request):
        return
    if request.path.startswith("/api/") and web_session(request) is None:
        return  # no credentials at all: the API answers 401 itself
    session = web_session(request)
    expected = session.csrf_token if session else request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not _same(await _presented_csrf(request), expected):
        log.info("%s %s -> 403: missing or wrong CSRF token", request.method, request.path)
        raise web.HTTPForbidden(text="CSRF token missing or wrong; reload the page.\n")


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    await _resolve_session(request)
    i18n.set_current(request_language(request))
    await _check_csrf(request)
    if is_page(request.path) and web_session(request) is None:
        if request.headers.get("HX-Request"):
            raise web.HTTPUnauthorized(headers={"HX-Redirect": "/"})
        target = request.path_qs if request.method == "GET" else request.path
        raise web.HTTPFound("/?next=" + quote(target, safe="/"))
    return await handler(request)


def safe_next(value: str | None) -> str:
    """Only a local path: never ``//host`` or ``/\\host`` (an open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/agent"
    if any(ord(c) < 32 for c in value):
        return "/agent"
    return value


def _login_csrf(request: web.Request) -> str:
    current = request.cookies.get(LOGIN_CSRF_COOKIE)
    return current if current and 20 <= len(current) <= 100 else secrets.token_urlsafe(24)


async def login_page(request: web.Request) -> web.StreamResponse:
    if web_session(request) is not None:
        raise web.HTTPFound(safe_next(request.query.get("next")))
    chosen = i18n.normalize(request.query.get("lang"))
    if chosen:
        i18n.set_current(chosen)
    return await _login_form(request, status=200, language_cookie=chosen)


async def _login_form(
    request: web.Request,
    *,
    status: int,
    error: str = "",
    email: str = "",
    language_cookie: str | None = None,
) -> web.Response:
    token = _login_csrf(request)
    request[LOGIN_CSRF] = token
    response = await render(
        request,
        "login.html",
        {"error": error, "email": email, "next": safe_next(request.query.get("next"))},
        status=status,
    )
    config = request.app[WEB_CONFIG]
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=config.secure_cookies,
        path="/",
    )
    if language_cookie:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language_cookie,
            max_age=365 * 86400,
            samesite="Lax",
            secure=config.secure_cookies,
            path="/",
        )
    return response


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    email = str(form.get("email", "")).strip()[:320]
    password = str(form.get("password", ""))[:1024]
    target = safe_next(str(form.get("next", "")) or None)
    config = request.app[WEB_CONFIG]
    address = config.clients.address(request)
    if not tickets.storable_text(email) or not tickets.storable_text(password):
        return await _login_form(request, status=400, error=_("Wrong email or password."))
    locked = await config.guard.locked_for(email, address)
    if locked > 0:
        minutes = max(1, round(locked / 60))
        log.info("sign-in refused for %r from %s: locked out", email, address)
        message = _("Too many failed sign-ins. Try again in %(minutes)d minutes.") % {
            "minutes": minutes
        }
        return await _login_form(request, status=429, error=message, email=email)
    desk = request.app[DESK]
    staff = await desk.read(lambda s: tickets.staff_for_password(s, email, password))
    if staff is None:
        await config.guard.failed(email, address)
        log.info("sign-in failed for %r from %s", email, address)
        return await _login_form(
            request, status=401, error=_("Wrong email or password."), email=email
        )
    await config.guard.succeeded(email)
    agent = request.headers.get("User-Agent", "")
    started = await desk.write(lambda s, now: _start(s, staff, now, config.idle, address, agent))
    response = web.HTTPFound(target)
    response.set_cookie(
        SESSION_COOKIE,
        started.token,
        httponly=True,
        samesite="Lax",
        secure=config.secure_cookies,
        path="/",
    )
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/")
    raise response


async def _start(
    s: AsyncSession,
    staff: tickets.StaffUser,
    now: datetime,
    idle: timedelta,
    address: str,
    agent: str,
) -> tuple[tickets.NewSession, tuple[()]]:
    started = await tickets.start_session(
        s, staff, now, idle=idle, address=address, user_agent=agent
    )
    return started, ()


async def logout(request: web.Request) -> web.StreamResponse:
    session = web_session(request)
    if session is not None:
        await request.app[DESK].write(lambda s, now: _end(s, session.id, session.staff.actor, now))
        await recheck_sockets(request, session.staff.id)
    response = web.HTTPFound("/")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def _end(
    s: AsyncSession, session_id: int, actor: tickets.Actor, now: datetime
) -> tuple[bool, tuple[()]]:
    return await tickets.end_session(s, session_id, actor, now), ()


ROUTES = [
    web.get("/", login_page),
    web.post("/login", login),
    web.post("/logout", logout),
]


def session_authenticator(desk: tickets.Desk) -> Authenticator:
    """The stream's browser credential: the session cookie, re-read from the database on
    every check, so an ended session closes the socket at the next re-check."""

    async def check(request: web.Request) -> tickets.StaffUser | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token or len(token) > 200:
            return None
        now = desk.clock()
        found = await desk.read(lambda s: tickets.session_for_token(s, token, now))
        return None if found is None else found[0].staff

    return Authenticator(check, browser=True)


async def recheck_sockets(request: web.Request, user_id: int) -> None:
    """After a session of ``user_id`` ended: every live socket of the user reconnects and
    authenticates again, so the ended one is refused now rather than at the next re-check."""
    stream = request.app.get(STREAM)
    if stream is None:
        return
    # In the background: a close waits for each browser's answer, the response must not.
    task = asyncio.create_task(
        stream.disconnect(user_id, code=RECONNECT, reason="sessions changed")
    )
    _closing.add(task)
    task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[int]] = set()
