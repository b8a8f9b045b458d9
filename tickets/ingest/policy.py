"""``ingest``: one inbound message into the ticket store, in the caller's transaction.

Order of work, chosen so that concurrent re-deliveries are safe on PostgreSQL and SQLite:
resolve (or create) the sender's identity, lock the customer row, and only then check
``(channel, external_id)`` for a duplicate. The lock serializes every message of one
customer, so the duplicate check after it sees what a concurrent twin committed, and
threading ("is there an open ticket?") never opens two tickets for one conversation.
The unique constraint on messages stays as the last line of defence.

Threading (DESIGN.md): email by ``tickets.ingest.email`` (In-Reply-To, References, the
``[#SB-1234]`` subject token, then the same sender's open ticket with the same normalized
subject; the rule that matched is stored as ``thread_reason``); every other channel by the
customer's open (not closed) ticket on that channel. Decisions where the design is silent:
- an email thread id or subject number is only trusted when the sender is the ticket's
  customer or a participant (CC) of it, so neither a guessed number nor a shared thread
  glues a stranger into someone's ticket; CC addresses of a mail become participants;
- an email marked as ``noise`` (auto-reply, bounce, our own mail) is stored on the
  ticket it refers to without touching, reopening or announcing it, and is ignored
  (``IngestResult.ignored``) when it refers to none: it never opens a ticket;
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
from typing import Any, Protocol

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
from tickets.ingest.email import DEFAULT_SUBJECT_DAYS, clean_subject, thread_email
from tickets.ingest.sanitize import sanitize_html
from tickets.ingest.sql import SqlIngestStore
from tickets.ingest.store import EventsFor, IngestRace, IngestStore
from tickets.language import detect_language
from tickets.models import format_number
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

    @property
    def ignored(self) -> bool:
        """A noise mail that referred to no ticket: nothing was stored."""
        return self.ticket_id == 0


async def ingest(
    session: AsyncSession,
    msg: InboundMessage,
    *,
    now: datetime,
    choose_queue: QueueChooser | None = None,
    subject_days: int = DEFAULT_SUBJECT_DAYS,
) -> IngestResult:
    """Ingest through any SQLAlchemy session (the portable path)."""
    store = SqlIngestStore(await session.connection())
    return await ingest_with(
        store, msg, now=now, choose_queue=choose_queue, subject_days=subject_days
    )


async def ingest_with(
    store: IngestStore,
    msg: InboundMessage,
    *,
    now: datetime,
    choose_queue: QueueChooser | None = None,
    subject_days: int = DEFAULT_SUBJECT_DAYS,
) -> IngestResult:
    channel = msg.channel.value
    address = normalize_address(msg.channel, msg.sender)
    customer_id = await store.find_customer(channel, address)
    if customer_id is None and msg.noise:
        customer_id = 0  # machine mail (MAILER-DAEMON, vacation notices) makes no customer
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
    reason: str | None = None
    if is_email:
        found, reason = await thread_email(store, msg, customer_id, address, now, subject_days)
    else:
        found = open_ticket
    if msg.noise:
        if found is None:
            return IngestResult(0, 0, customer_id, False, False, ())
        return await _record_noise(store, msg, found.id, customer_id, address, reason, now)
    follow_up_of: int | None = None
    if found is not None and found.status == TicketStatus.CLOSED.value:
        follow_up_of, found, reason = found.id, None, "follow_up"
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
        "thread_reason": reason,
        "email_meta": _email_meta(msg) if is_email else None,
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
            values["thread_reason"] = "follow_up" if is_email else None
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
    if is_email:
        cc = [a for a in _addresses(msg.cc) if a != address]
        if cc:
            await store.add_participants(ticket_id, cc, now)
    if msg.claimed_email:
        # A chat visitor's "my email is ..." is a claim, not an identity: it is kept as
        # an unverified identity of this customer, ignored by identity lookup, and never
        # attaches the chat to whoever owns the address (that would be an account
        # take-over); an agent merges the two customers when they are one person.
        with contextlib.suppress(InvalidAddress):
            await store.claim_email(customer_id, normalize_email(msg.claimed_email), now)
    return IngestResult(ticket_id, message_id, customer_id, False, new_ticket, tuple(recorded))


async def _record_noise(
    store: IngestStore,
    msg: InboundMessage,
    ticket_id: int,
    customer_id: int,
    address: str,
    reason: str | None,
    now: datetime,
) -> IngestResult:
    """An auto-reply or bounce on the ticket it refers to: stored (closed tickets too),
    but the ticket is not touched, reopened or announced, so nobody answers it."""
    stored = await store.insert_message(
        {
            "ticket_id": ticket_id,
            "direction": Direction.IN.value,
            "channel": msg.channel.value,
            "external_id": msg.external_id,
            "author_name": (msg.display_name or address)[:200],
            "text": msg.text[:MAX_TEXT],
            "html": sanitize_html(msg.html),
            "email_message_id": msg.thread.message_id,
            "delivery_status": DeliveryStatus.RECEIVED.value,
            "created_at": msg.received_at,
            "thread_reason": reason,
            "email_meta": _email_meta(msg),
            "now": now,
        },
        touch=False,
        reopen=False,
        events=lambda _message_id: [],
    )
    if stored is None:
        raise IngestRace(f"ticket {ticket_id} vanished")
    if msg.attachments:
        await store.insert_attachments(stored[0], msg.attachments)
    return IngestResult(ticket_id, stored[0], customer_id, False, False, ())


def _email_meta(msg: InboundMessage) -> dict[str, Any]:
    meta = {k: v for k, v in msg.extra.items() if isinstance(k, str)}
    meta["cc"] = list(_addresses(msg.cc))
    if msg.raw_ref:
        meta["raw_ref"] = msg.raw_ref
    if msg.noise:
        meta["noise"] = msg.noise
    return meta


def _addresses(raw: Sequence[str]) -> list[str]:
    out: list[str] = []
    for one in raw:
        with contextlib.suppress(InvalidAddress):
            out.append(normalize_email(one))
    return list(dict.fromkeys(out))


def _subject_for(msg: InboundMessage) -> str:
    if msg.channel is Channel.EMAIL and msg.subject and clean_subject(msg.subject):
        return clean_subject(msg.subject)[:500]
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
    if msg.queue:  # the channel's own choice (an email support address's queue) first
        queue_id = await store.queue_id(msg.queue)
        queue_name = msg.queue if queue_id is not None else None
    if queue_id is None and choose_queue is not None:
        tier = await store.customer_tier(customer_id)
        for candidate in choose_queue(msg, tier):
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
