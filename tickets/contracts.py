"""Our own value types at the room boundaries: what channels hand to ``ingest`` and what
the outbox hands back to channels. Frozen and slotted; unknown provider fields stay in
``extra`` rather than being flattened into text."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"
    WEBCHAT = "webchat"
    TELEGRAM = "telegram"
    API = "api"


class TicketStatus(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    WAITING_PARTS = "waiting_parts"
    SOLVED = "solved"
    CLOSED = "closed"


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"
    NOTE = "note"


class DeliveryStatus(enum.StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    name: str
    content_type: str
    size: int
    blob_ref: str


@dataclass(frozen=True, slots=True)
class ThreadHints:
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    conversation_id: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    channel: Channel
    external_id: str
    sender: str
    text: str
    received_at: datetime
    display_name: str | None = None
    subject: str | None = None
    html: str | None = None
    attachments: tuple[AttachmentRef, ...] = ()
    thread: ThreadHints = field(default_factory=ThreadHints)
    claimed_email: str | None = None
    raw_ref: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    # Email: CC addresses (they become the ticket's participants), the queue of the
    # support address it was sent to, and ``noise`` (``auto_reply``, ``bounce``, ...):
    # recorded on the ticket it refers to, never opening one, never reopening one.
    cc: tuple[str, ...] = ()
    queue: str | None = None
    noise: str | None = None


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    message_id: int
    ticket_number: str
    channel: Channel
    recipient: str
    text: str
    html: str | None
    idempotency_key: str
    subject: str | None = None
    attachments: tuple[AttachmentRef, ...] = ()
    thread: ThreadHints = field(default_factory=ThreadHints)
    author: str | None = None
    created_at: datetime | None = None
    # Why the recipient cannot be reached (opted out after this was queued): the outbox
    # fails the message with this reason instead of calling the provider.
    unreachable: str | None = None
    # Email: the ticket's CC participants and the support address it came in on.
    cc: tuple[str, ...] = ()
    reply_from: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did a change: a staff user, a customer, or the system itself (with a reason)."""

    kind: str
    id: int | None = None
    label: str = ""

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls("system", None, label)

    @classmethod
    def customer(cls, customer_id: int | None, label: str = "") -> Actor:
        return cls("customer", customer_id, label)

    @classmethod
    def user(cls, user_id: int, label: str = "") -> Actor:
        return cls("user", user_id, label)
