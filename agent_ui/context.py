"""Typed application state the agent UI needs, declared in one place."""

from __future__ import annotations

from aiohttp import web

from channels import SenderRegistry
from routing.engine import RoutingEngine
from tickets import Desk, StaffUser

DESK = web.AppKey("desk", Desk)
ROUTING = web.AppKey("routing", RoutingEngine)
SENDERS = web.AppKey("senders", SenderRegistry)
"""The channels this server can send on; a reply on any other is refused when asked."""
STAFF_KEY = web.RequestKey("staff", StaffUser)


def staff_of(request: web.Request) -> StaffUser:
    staff: StaffUser | None = request.get(STAFF_KEY)
    if staff is None:
        raise RuntimeError("route is missing authentication")
    return staff
