"""The storage port ``ingest`` works through: the few reads and writes that threading and
identity need, so the policy lives once in ``tickets.ingest`` while each database gets the
fastest honest implementation (``ingest_sql`` for any SQLAlchemy database, ``ingest_pg``
with prepared asyncpg statements for PostgreSQL's hot path)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from tickets.contracts import AttachmentRef
from tickets.events import Event


class TicketRef(NamedTuple):
    id: int
    status: str


class MessageRef(NamedTuple):
    id: int
    ticket_id: int


EventsFor = Callable[[int], list[Event]]
"""The events of an ingest, given the stored message's id (0 while it is not known)."""


class IngestRace(Exception):
    """A uniqueness race was lost; the caller retries the whole ingest once."""


class IngestStore(Protocol):
    async def find_customer(self, channel: str, address: str) -> int | None:
        """The identity's customer, locked for the rest of the transaction (a store may
        remember its tier from the same read for ``customer_tier``)."""

    async def create_customer(
        self, channel: str, address: str, name: str, now: datetime
    ) -> int | None:
        """A new customer with this identity; None when a concurrent ingest made it first."""

    async def lookup(
        self, channel: str, external_id: str, customer_id: int, *, open_ticket: bool
    ) -> tuple[MessageRef | None, TicketRef | None]:
        """The duplicate (if this message was stored before) and, when asked, the
        customer's open ticket on the channel: one round trip where the database allows."""

    async def ticket_by_email_refs(self, refs: Sequence[str]) -> TicketRef | None: ...

    async def ticket_of_customer(self, ticket_id: int, customer_id: int) -> TicketRef | None: ...

    async def ticket_by_id(self, ticket_id: int) -> TicketRef | None: ...

    async def may_write(self, ticket_id: int, customer_id: int, address: str) -> bool:
        """The sender is the ticket's customer or one of its participants (CC)."""

    async def open_email_tickets(
        self, customer_id: int, since: datetime
    ) -> list[tuple[int, str, str]]:
        """The customer's open email tickets updated since ``since``: id, status, subject."""

    async def add_participants(
        self, ticket_id: int, addresses: Sequence[str], now: datetime
    ) -> None: ...

    async def queue_id(self, name: str) -> int | None: ...

    async def customer_tier(self, customer_id: int) -> str:
        """The customer's tier (``standard`` unless set), for choosing the queue."""

    async def insert_ticket(self, values: dict[str, Any], *, audit: dict[str, Any]) -> int:
        """Stores a new ticket and its ``ticket.created`` audit entry (by the customer,
        at the ticket's ``created_at``, with ``audit`` as its data)."""

    async def insert_message(
        self, values: dict[str, Any], *, touch: bool, reopen: bool, events: EventsFor
    ) -> tuple[int, list[Event]] | None:
        """Stores the message and the events ``events(message_id)`` of this ingest (in the
        event outbox); ``touch`` bumps the ticket's activity times (and ``reopen`` sets it
        open) in the same trip, but only while the ticket is not closed: None means it
        was closed meanwhile and nothing was stored. Returns the message id and the
        events stamped with their ids."""

    async def insert_attachments(
        self, message_id: int, attachments: Sequence[AttachmentRef]
    ) -> None: ...

    async def claim_email(self, customer_id: int, email: str, now: datetime) -> None: ...
