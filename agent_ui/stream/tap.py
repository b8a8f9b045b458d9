"""Where events enter the live feed: at the publisher, exactly once per publish.

``FeedTap`` wraps the event bus the desk, routing and the relay publish through. It hands
every event to the bus unchanged and appends the ones a staff screen shows (``STREAMED``)
to the live feed. Appending where the event is published, and not where it is received,
is what makes one entry per event with many server processes: every process receives a
broadcast, only one published it. A failed append fails the publish, so the desk leaves
the events to the relay, which publishes them again (consumers dedupe by event id and the
stream does too). Events the relay hands to one consumer group only are never streamed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from agent_ui.stream.feed import LiveFeed
from agent_ui.stream.frames import STREAMED
from tickets import Event, EventHandler


class _Bus(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...
    async def broadcast(self, events: Sequence[Event]) -> None: ...
    async def relay(self, wires: Sequence[dict[str, Any]], group: str | None = None) -> None: ...
    def subscribe(self, handler: EventHandler) -> None: ...
    def consume(self, group: str, handler: EventHandler) -> None: ...
    def set_bury(
        self, bury: Callable[[str, str, dict[str, Any], str, int], Awaitable[None]]
    ) -> None: ...
    async def start(self, *, consumers: bool = True) -> None: ...
    async def stop(self) -> None: ...
    async def ping(self) -> None: ...


def _streamed(wires: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [w for w in wires if w.get("type") in STREAMED]


class FeedTap:
    def __init__(self, bus: _Bus, feed: LiveFeed) -> None:
        self.bus = bus
        self.feed = feed

    async def publish(self, events: Sequence[Event]) -> None:
        await self.bus.publish(events)
        await self.feed.append(_streamed([e.to_dict() for e in events]))

    async def broadcast(self, events: Sequence[Event]) -> None:
        await self.bus.broadcast(events)
        await self.feed.append(_streamed([e.to_dict() for e in events]))

    async def relay(self, wires: Sequence[dict[str, Any]], group: str | None = None) -> None:
        await self.bus.relay(wires, group)
        if group is None:
            await self.feed.append(_streamed(wires))

    def subscribe(self, handler: EventHandler) -> None:
        self.bus.subscribe(handler)

    def consume(self, group: str, handler: EventHandler) -> None:
        self.bus.consume(group, handler)

    def set_bury(
        self, bury: Callable[[str, str, dict[str, Any], str, int], Awaitable[None]]
    ) -> None:
        self.bus.set_bury(bury)

    async def start(self, *, consumers: bool = True) -> None:
        await self.bus.start(consumers=consumers)

    async def stop(self) -> None:
        await self.bus.stop()

    async def ping(self) -> None:
        await self.bus.ping()
