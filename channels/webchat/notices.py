"""What the chat tells a visitor about the desk: the expected wait while nobody has
accepted, and whether the desk is open.

The chat does not know routing (rooms beside each other do not import each other): the
composition root hands in a ``WaitEstimator`` (``switchboard.chatwait`` builds one from
the routing engine's queues)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import tickets


@dataclass(frozen=True, slots=True)
class WaitEstimate:
    """``position`` 1 means next; ``minutes`` is None when no agent of the queue is online
    (the page then says an agent will answer as soon as one is free)."""

    position: int
    agents_online: int
    minutes: int | None

    def frame(self) -> dict[str, Any]:
        return {
            "type": "wait",
            "position": self.position,
            "agents_online": self.agents_online,
            "minutes": self.minutes,
        }


WaitEstimator = Callable[[int, str | None], Awaitable[WaitEstimate | None]]
"""``(ticket id, queue name)`` to the estimate, or None when it cannot tell."""


def hours_frame(hours: tickets.BusinessHours) -> dict[str, Any]:
    return {
        "type": "hours",
        "open": hours.is_open,
        "opens_at": hours.opens_at.isoformat() if hours.opens_at else None,
        "timezone": hours.timezone,
    }


def agent_frame(state: tickets.ChatState) -> dict[str, Any]:
    return {"type": "agent", "name": state.assignee, "ticket": state.number}
