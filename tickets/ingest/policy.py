"""``ingest``: one inbound message into the ticket store, in the caller's transaction.

Order of work, chosen so that concurrent re-deliveries are safe on PostgreSQL and SQLite:
resolve (or create) the sender's identity, lock the customer row, and only then check
``(channel, external_id)`` for a duplicate. The lock serializes every message of one
customer, so the duplicate check after it sees what a concurrent twin committed, and
threading ("is there an open ticket?") never opens two tickets for one conversation.
The unique constraint on messages stays as the last line of defence.

Threading (DESIGN.md): email by In-Reply-To/References, then by ``[#SB-1234]`` in the
subject; every other channel by the customer's open (not closed) ticket on that channel.
Decisions where the design is silent:
- a subject number is only trusted when the ticket belongs to the sender (a guessed
  number must not let a stranger write into someone's ticket); Message-ID references are
  unguessable and trusted from anyone (a colleague on CC replying);
- a message on a pending or solved ticket re-opens it (through the transition table); a
  closed ticket is never re-opened, a follow-up ticket linked to it (``follow_up_of_id``)
  starts instead, as Zendesk does. This holds under a race too: the store touches the
  ticket and stores the message only while the ticket is not closed (one conditional
  statement), and a ticket closed in between gets its follow-up. Chat, SMS and the other
  identity-threaded channels link the follow-up only in that race (their lookup sees open
  tickets only, and a second query on every new ticket is not worth it);
- the ``html`` of a message is sanitized here, once, before either store writes it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from tickets.contracts import (
    Channel,
    DeliveryStatus,
    Direction,
    InboundMessage,
    Priority,
    TicketStatus,
)
from tickets.events import Event, MessageReceived, TicketCreated, TicketStatusChanged
from tickets.identity import InvalidAddress, normalize_address, normalize_email
from tickets.ingest.sanitize import sanitize_html
from tickets.ingest.sql import SqlIngestStore
from tickets.ingest.store import EventsFor, IngestRace, IngestStore, TicketRef
from tickets.language import detect_language
from tickets.models import format_number, parse_number
from tickets.status import customer_message_reopens

SUBJECT_NUMBER = re.compile(r"\[#(SB-\d+)\]", re.IGNORECASE)
MAX_TEXT = 200_000


class QueueChooser(Protocol):
    """The queue names a new ticket may enter, best first, given the message and the
    customer's tier; the first that exists wins. The queue is chosen here, once (routing
    rules live outside this room and never re-classify a ticket)."""

    def __call__(self, msg: InboundMessage, tier: str) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class IngestResult:
    ticket_id: int
    message_id: int
    customer_id: int
    duplicate: bool
    new_ticket: bool
    events: tuple[Event, ...]

    @property
    def number(self) -> str:
        return format_number(self.ticket_id)


async def ingest(
    session: AsyncSession,
    msg: InboundMessage,
    *,
    now: datetime,
    choose_queue: QueueChooser | None = None,
) -> IngestResult:
    """Ingest through any SQLAlchemy session (the portable path)."""
    store = SqlIngestStore(await session.connection())
    return await ingest_with(store, msg, now=now, choose_queue=choose_queue)


async def ingest_with(
    store: IngestStore,
    msg: InboundMessage,
    *,
    now: datetime,
    choose_queue: QueueChooser | None = None,
) -> IngestResult:
    channel = msg.channel.value
    address = normalize_address(msg.channel, msg.sender)
    customer_id = await store.find_customer(channel, address)
    if customer_id is None:
        created = await store.create_customer(channel, address, (msg.display_name or "")[:200], now)
        customer_id = (
            created if created is not None else await store.find_customer(channel, address)
        )
        if customer_id is None:
            raise IngestRace(f"identity {channel}:{address} vanished")

    is_email = msg.channel is Channel.EMAIL
    existing, open_ticket = await store.lookup(
        channel, msg.external_id, customer_id, open_ticket=not is_email
    )
    if existing is not None:
        return IngestResult(existing.ticket_id, existing.id, customer_id, True, False, ())

    events: list[Event] = []
    found = await _email_thread(store, msg, customer_id) if is_email else open_ticket
    follow_up_of: int | None = None
    if found is not None and found.status == TicketStatus.CLOSED.value:
        follow_up_of, found = found.id, None
    values = {
        "direction": Direction.IN.value,
        "channel": channel,
        "external_id": msg.external_id,
        "author_name": (msg.display_name or address)[:200],
        "text": msg.text[:MAX_TEXT],
        "html": sanitize_html(msg.html),
        "email_message_id": msg.thread.message_id,
        "delivery_status": DeliveryStatus.RECEIVED.value,
        "created_at": msg.received_at,
        "now": now,
    }

    def with_message(ticket_id: int, before: list[Event]) -> EventsFor:
        def build(message_id: int) -> list[Event]:
            number = format_number(ticket_id)
            return [*before, MessageReceived(ticket_id, number, message_id, channel, customer_id)]

        return build

    stored: tuple[int, list[Event]] | None = None
    new_ticket = False
    if found is not None:
        ticket_id, status = found
        reopen = customer_message_reopens(TicketStatus(status))
        before = list(events)
        if reopen:
            before.append(
                TicketStatusChanged(ticket_id, format_number(ticket_id), status, "open", channel)
            )
        stored = await store.insert_message(
            {**values, "ticket_id": ticket_id},
            touch=True,
            reopen=reopen,
            events=with_message(ticket_id, before),
        )
        if stored is None:  # closed while we looked: a follow-up ticket starts
            follow_up_of = ticket_id
    if stored is None:
        ticket_id = await _open_ticket(
            store, msg, customer_id, now, choose_queue, events, follow_up_of=follow_up_of
        )
        new_ticket = True
        stored = await store.insert_message(
            {**values, "ticket_id": ticket_id},
            touch=False,
            reopen=False,
            events=with_message(ticket_id, events),
        )
        if stored is None:
            raise IngestRace(f"ticket {ticket_id} vanished")
    message_id, recorded = stored
    if msg.attachments:
        await store.insert_attachments(message_id, msg.attachments)
    if msg.claimed_email:
        # A chat visitor's "my email is ..." is a claim, not an identity: it is kept as
        # an unverified identity of this customer, ignored by identity lookup, and never
        # attaches the chat to whoever owns the address (that would be an account
        # take-over); an agent merges the two customers when they are one person.
        with contextlib.suppress(InvalidAddress):
            await store.claim_email(customer_id, normalize_email(msg.claimed_email), now)
    return IngestResult(ticket_id, message_id, customer_id, False, new_ticket, tuple(recorded))


async def _email_thread(
    store: IngestStore, msg: InboundMessage, customer_id: int
) -> TicketRef | None:
    """The ticket an email answers (perhaps a closed one, which the caller follows up)."""
    refs = [r for r in (msg.thread.in_reply_to, *reversed(msg.thread.references)) if r]
    if refs:
        found = await store.ticket_by_email_refs(refs)
        if found is not None:
            return found
    match = SUBJECT_NUMBER.search(msg.subject or "")
    ticket_id = parse_number(match.group(1)) if match else None
    if ticket_id is not None:
        return await store.ticket_of_customer(ticket_id, customer_id)
    return None


def _subject_for(msg: InboundMessage) -> str:
    if msg.subject and msg.subject.strip():
        return SUBJECT_NUMBER.sub("", msg.subject).strip()[:500]
    first_line = next((line.strip() for line in msg.text.splitlines() if line.strip()), "")
    return first_line[:80] or f"{msg.channel.value} conversation"


async def _open_ticket(
    store: IngestStore,
    msg: InboundMessage,
    customer_id: int,
    now: datetime,
    choose_queue: QueueChooser | None,
    events: list[Event],
    *,
    follow_up_of: int | None = None,
) -> int:
    queue_name: str | None = None
    queue_id: int | None = None
    tier = await store.customer_tier(customer_id) if choose_queue else ""
    for candidate in choose_queue(msg, tier) if choose_queue else ():
        queue_id = await store.queue_id(candidate)
        if queue_id is not None:
            queue_name = candidate
            break
    ticket_id = await store.insert_ticket(
        {
            "subject": _subject_for(msg),
            "status": TicketStatus.NEW.value,
            "priority": Priority.NORMAL.value,
            "channel": msg.channel.value,
            "language": detect_language(f"{msg.subject or ''} {msg.text}"),
            "queue_id": queue_id,
            "customer_id": customer_id,
            "created_at": now,
            "updated_at": now,
            "last_inbound_at": now,
            "follow_up_of_id": follow_up_of,
        },
        audit={"channel": msg.channel.value, "queue": queue_name, "follow_up_of": follow_up_of},
    )
    events.append(
        TicketCreated(
            ticket_id,
            format_number(ticket_id),
            msg.channel.value,
            queue_name,
            Priority.NORMAL.value,
            customer_id,
        )
    )
    return ticket_id


__all__ = ["IngestResult", "QueueChooser", "ingest", "ingest_with"]
