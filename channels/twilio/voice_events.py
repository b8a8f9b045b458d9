"""The voice channel's event: a call of a ticket changed (queued, bridged, voicemail,
ended, its outcome...). Broadcast, not durable: it only tells open ticket pages to
redraw the call card (they reload their state on reconnect anyway)."""

from __future__ import annotations

from dataclasses import dataclass

from tickets import Event
from tickets import register_event as register


@register
@dataclass(frozen=True, slots=True)
class CallChanged(Event):
    ticket_id: int
    number: str
    call_sid: str
    state: str
    outcome: str | None = None
