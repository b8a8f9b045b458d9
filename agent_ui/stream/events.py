"""The stream's own event: a staff member is viewing or typing on a ticket. Broadcast
(never stored): every server process tells the others on that ticket (collision notice)."""

from __future__ import annotations

from dataclasses import dataclass

from tickets import Event
from tickets import register_event as register

ACTIVITIES = frozenset({"viewing", "typing", "left"})


@register
@dataclass(frozen=True, slots=True)
class StaffActivity(Event):
    ticket_id: int
    number: str
    user_id: int
    name: str
    action: str
    at: str
