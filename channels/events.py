"""Transport events of the channels: frames for a customer's open sockets and typing
signals. They are broadcast (a process that is down misses them, and a reconnecting page
reloads its history), never part of a ticket transaction, so they live with the channels
rather than in ``tickets``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tickets import Event
from tickets import register_event as register


@register
@dataclass(frozen=True, slots=True)
class WebchatFrame(Event):
    """A frame for a web chat visitor's sockets, wherever they are connected: every
    server process pushes it to the visitor's open sockets. ``message_id`` is set for an
    agent's message, so its delivery can be confirmed."""

    visitor: str
    frame: dict[str, Any]
    message_id: int | None = None


@register
@dataclass(frozen=True, slots=True)
class VisitorTyping(Event):
    visitor: str
    ticket_number: str | None


@register
@dataclass(frozen=True, slots=True)
class AgentTyping(Event):
    ticket_number: str
    author: str
