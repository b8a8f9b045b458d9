"""What travels on the staff socket: which event types are streamed, the frame shape,
and the control frames.

A frame is ``{"id": ..., "type": <EventType>, "data": {...}}``. Type names are the event
class names (letters only), so a page can listen with
``hx-trigger="sb-TicketUpdated from:body"``. Control frames carry no id: ``hello`` (the id
to resume from), ``reload`` (what was missed is gone: reload state), ``pong``, ``error``,
and ``Collision`` (another staff member is viewing or typing on a ticket; ephemeral, so a
resume does not replay stale notices).
"""

from __future__ import annotations

import json
from typing import Any

STREAMED = frozenset(
    {
        "TicketCreated",
        "MessageReceived",
        "MessageSent",
        "DeliveryStatusChanged",
        "TicketUpdated",
        "TicketStatusChanged",
        "TicketAssigned",
        "SlaStarted",
        "SlaWarning",
        "SlaBreached",
        "OfferMade",
        "OfferEnded",
        "AgentPresenceChanged",
        "QueueChanged",
        "CustomersMerged",
        "CustomersUnmerged",
        "StaffChanged",
        "ErpFindingsUpdated",
        "CallChanged",
    }
)
"""Event types appended to the live feed."""

INTERNAL = frozenset({"StaffChanged"})
"""In the feed so every process hears of them, never sent to a client."""


def dumps(frame: dict[str, Any]) -> bytes:
    """Encoded once, sent as is to every socket of the audience."""
    return json.dumps(frame, ensure_ascii=False, default=str, separators=(",", ":")).encode()


def event_frame(entry_id: str, wire: dict[str, Any]) -> bytes:
    data = {k: v for k, v in wire.items() if k != "type"}
    return dumps({"id": entry_id, "type": wire.get("type"), "data": data})


def control(kind: str, **data: Any) -> bytes:
    return dumps({"type": kind, "data": data})


def error(code: str, message: str) -> bytes:
    return dumps({"type": "error", "data": {"code": code, "message": message}})
