"""Routing's domain events (registered on the shared event registry)."""

from __future__ import annotations

from dataclasses import dataclass

from tickets import Event
from tickets import register_event as register


@register
@dataclass(frozen=True, slots=True)
class OfferMade(Event):
    offer_id: str
    ticket_id: int
    number: str
    agent_id: int
    channel: str
    expires_at: str
    reason: str


@register
@dataclass(frozen=True, slots=True)
class OfferEnded(Event):
    """An offer was accepted, rejected, or timed out (``outcome``)."""

    offer_id: str
    ticket_id: int
    number: str
    agent_id: int
    outcome: str


@register
@dataclass(frozen=True, slots=True)
class AgentPresenceChanged(Event):
    agent_id: int
    email: str
    old: str
    new: str
    reason: str


@register
@dataclass(frozen=True, slots=True)
class QueueChanged(Event):
    """Waiting work of a queue changed (supervisor screens refresh their counts)."""

    queue_id: int


@register
@dataclass(frozen=True, slots=True)
class RoutingConfigChanged(Event):
    """A queue's routing rules or an agent's skills or capacity changed: every process
    re-reads its routing configuration (received by broadcast, never by a group)."""

    queue_id: int | None = None
    user_id: int | None = None
    what: str = ""
