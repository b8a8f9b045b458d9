"""Who is on the socket: a chain of authenticators, tried in order.

An ``Authenticator`` turns the upgrade request into a staff user (or None). Non-browser
clients send ``Authorization: Bearer <token>`` (``bearer``); the browser cannot set
headers on a WebSocket, so the web app's session cookie is a second authenticator (the
web foundation adds it). A cookie is sent by the browser whatever page opened the socket,
so an authenticator marked ``browser`` also requires the ``Origin`` header to be this
server's own (``SWITCHBOARD_PUBLIC_URL``'s origin, or the request's host): that is what
stops cross-site WebSocket hijacking. A bearer token is never sent by the browser on its
own, so it needs no origin check.

The same chain runs again on an open socket every ``reauth_s`` and whenever the user's
account or queues change, so a revoked token, an ended session or a deactivated user
closes the socket, and a changed queue membership changes what it receives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

import tickets
from tickets import Desk, StaffUser

Check = Callable[[web.Request], Awaitable[StaffUser | None]]


@dataclass(frozen=True, slots=True)
class Authenticator:
    check: Check
    browser: bool = False
    """True for credentials the browser attaches by itself (cookies): Origin is checked."""


class OriginRefused(Exception):
    pass


def bearer(desk: Desk) -> Authenticator:
    async def check(request: web.Request) -> StaffUser | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return await tickets.authenticate_token(desk, token.strip())

    return Authenticator(check)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    port = parts.port or default
    host = parts.hostname.lower()
    return f"{parts.scheme}://{host}" + ("" if port == default else f":{port}")


def origin_allowed(request: web.Request, public_url: str | None) -> bool:
    """The Origin header names this server: the public URL's origin, or the host the
    request was sent to (on http or https)."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    seen = _origin(origin)
    if seen is None:
        return False
    allowed = set()
    if public_url:
        mine = _origin(public_url)
        if mine is not None:
            allowed.add(mine)
    if request.host:
        for scheme in ("http", "https"):
            own = _origin(f"{scheme}://{request.host}")
            if own is not None:
                allowed.add(own)
    return seen in allowed


async def authenticate(
    request: web.Request, chain: Sequence[Authenticator], public_url: str | None
) -> StaffUser | None:
    """The first authenticator's user; ``OriginRefused`` for a browser credential sent
    from a foreign page."""
    for authenticator in chain:
        staff = await authenticator.check(request)
        if staff is None:
            continue
        if authenticator.browser and not origin_allowed(request, public_url):
            raise OriginRefused(request.headers.get("Origin", ""))
        return staff
    return None
