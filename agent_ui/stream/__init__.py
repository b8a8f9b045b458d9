"""The realtime socket for staff, ``GET /api/v1/stream``: every event the user may see,
each with an id, resumable after a network blip, fanned out to every server process.

``feed`` (where events wait, in order), ``tap`` (how they get there: at the publisher),
``audience`` (who may receive what), ``auth`` (bearer token, or the web app's session
cookie with an Origin check), ``conn`` (one socket), ``hub`` (the socket handler and the
delivery loop), ``grace`` (away after the last socket closed), ``events`` (collision
notices).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_ui.stream.auth import Authenticator, bearer, origin_allowed
from agent_ui.stream.events import StaffActivity
from agent_ui.stream.feed import Entry, LiveFeed, MemoryFeed, RedisFeed, make_feed
from agent_ui.stream.frames import STREAMED
from agent_ui.stream.grace import (
    LocalSockets,
    PresenceGrace,
    RedisSockets,
    SetAway,
    SocketRegistry,
)
from agent_ui.stream.hub import STREAM, Stream, stream_socket
from agent_ui.stream.tap import FeedTap
from routing.engine import RoutingEngine
from tickets import Actor, Desk

if TYPE_CHECKING:
    import redis.asyncio as aioredis

STREAM_PATH = "/api/v1/stream"


def away_setter(routing: RoutingEngine) -> SetAway:
    """Sets an agent who is still ``online`` away, as ``POST /api/v1/presence`` would."""

    async def set_away(user_id: int) -> None:
        if routing.agents.get(user_id) is None:
            return
        live = (await routing.store.live([user_id])).get(user_id)
        if live is None or live.presence != "online":
            return
        await routing.set_presence(
            user_id, "away", Actor.system("stream disconnected"), reason="disconnected"
        )

    return set_away


def make_stream(
    feed: LiveFeed,
    desk: Desk,
    routing: RoutingEngine,
    *,
    redis: aioredis.Redis | None,
    prefix: str,
    grace_s: float,
    public_url: str | None,
) -> Stream:
    registry: SocketRegistry = (
        LocalSockets() if redis is None else RedisSockets(redis, prefix=prefix)
    )
    grace = PresenceGrace(registry, away_setter(routing), grace_s)
    return Stream(feed, desk, [bearer(desk)], grace, public_url=public_url)


__all__ = [
    "STREAM",
    "STREAMED",
    "STREAM_PATH",
    "Authenticator",
    "Entry",
    "FeedTap",
    "LiveFeed",
    "LocalSockets",
    "MemoryFeed",
    "PresenceGrace",
    "RedisFeed",
    "RedisSockets",
    "SocketRegistry",
    "StaffActivity",
    "Stream",
    "away_setter",
    "bearer",
    "make_feed",
    "make_stream",
    "origin_allowed",
    "stream_socket",
]
