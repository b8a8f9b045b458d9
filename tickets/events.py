"""Domain events: what changed, published on the bus only after the transaction commits.

Events are flat, JSON-safe dataclasses so the same object crosses the in-process bus and
Redis unchanged. ``event_from_dict`` rebuilds one from its wire form by its ``type`` name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True, slots=True)
class Event:
    """``event_id`` is set by the relay from the event outbox row (``ev-<id>``), so every
    durable consumer can recognise an event it has already handled; events that never
    pass the outbox (broadcasts) have none."""

    type_name: ClassVar[str] = "Event"
    event_id: str | None = field(default=None, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["type"] = self.type_name
        return data


_REGISTRY: dict[str, type[Event]] = {}


def register(cls: type[Event]) -> type[Event]:
    cls.type_name = cls.__name__
    _REGISTRY[cls.__name__] = cls
    return cls


register_event = register


def event_from_dict(data: dict[str, Any]) -> Event:
    cls = _REGISTRY.get(str(data.get("type")))
    if cls is None:
        raise ValueError(f"unknown event type {data.get('type')!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@register
@dataclass(frozen=True, slots=True)
class TicketCreated(Event):
    ticket_id: int
    number: str
    channel: str
    queue: str | None
    priority: str
    customer_id: int


@register
@dataclass(frozen=True, slots=True)
class MessageReceived(Event):
    ticket_id: int
    number: str
    message_id: int
    channel: str
    customer_id: int


@register
@dataclass(frozen=True, slots=True)
class MessageSent(Event):
    """An outbound message (or a note) was written; ``direction`` tells which."""

    ticket_id: int
    number: str
    message_id: int
    channel: str
    direction: str
    author: str | None


@register
@dataclass(frozen=True, slots=True)
class DeliveryStatusChanged(Event):
    ticket_id: int
    number: str
    message_id: int
    status: str
    error: str | None = None


@register
@dataclass(frozen=True, slots=True)
class OutboxQueued(Event):
    message_id: int
    channel: str


@register
@dataclass(frozen=True, slots=True)
class TicketUpdated(Event):
    ticket_id: int
    number: str
    changes: dict[str, Any]


@register
@dataclass(frozen=True, slots=True)
class TicketStatusChanged(Event):
    ticket_id: int
    number: str
    old: str
    new: str
    channel: str


@register
@dataclass(frozen=True, slots=True)
class TicketAssigned(Event):
    ticket_id: int
    number: str
    assignee_id: int | None
    assignee: str | None
    reason: str


@register
@dataclass(frozen=True, slots=True)
class StaffChanged(Event):
    """A staff user, a queue or a queue membership was added or changed: every process
    re-reads its routing configuration."""

    user_id: int | None = None
    queue_id: int | None = None
    what: str = ""


@register
@dataclass(frozen=True, slots=True)
class CustomersMerged(Event):
    kept_id: int
    merged_id: int
    merge_id: int = 0
    """The ``customer_merges`` row that lets ``unmerge_customers`` undo it."""


@register
@dataclass(frozen=True, slots=True)
class CustomersUnmerged(Event):
    """A merge was undone: every identity and ticket it moved is back on ``merged_id``."""

    kept_id: int
    merged_id: int
    merge_id: int


@register
@dataclass(frozen=True, slots=True)
class MessageSeen(Event):
    """The customer's chat showed the agent message ``message_id`` (and the earlier ones)."""

    ticket_id: int
    number: str
    message_id: int


@register
@dataclass(frozen=True, slots=True)
class TicketRated(Event):
    ticket_id: int
    number: str
    rating: int
    queue: str | None


EventHandler = Callable[[Event], Awaitable[None]]


class EventPublisher(Protocol):
    """The bus as the core sees it, by promise."""

    async def publish(self, events: Sequence[Event]) -> None:
        """Durable work: handled once per consumer group, retried, dead-lettered after
        repeated failure, never dropped; broadcast listeners see it too."""

    async def broadcast(self, events: Sequence[Event]) -> None:
        """May be missed: typing, frames for open sockets, live screens (which reload
        their state on reconnect)."""
