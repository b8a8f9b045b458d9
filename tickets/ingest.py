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
- a message on a pending or solved ticket re-opens it; a closed ticket is never re-opened,
  a follow-up ticket starts instead (as Zendesk does).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tickets import audit
from tickets.contracts import (
    Actor,
    Channel,
    DeliveryStatus,
    Direction,
    InboundMessage,
    Priority,
    TicketStatus,
)
from tickets.dbutil import insert_ignoring_conflicts
from tickets.events import Event, MessageReceived, TicketCreated, TicketStatusChanged
from tickets.identity import normalize_address, normalize_email
from tickets.language import detect_language
from tickets.models import (
    Attachment,
    Customer,
    CustomerIdentity,
    Message,
    Queue,
    Ticket,
    format_number,
    parse_number,
)
from tickets.status import REOPEN_ON_CUSTOMER_MESSAGE

SUBJECT_NUMBER = re.compile(r"\[#(SB-\d+)\]", re.IGNORECASE)
MAX_TEXT = 200_000

QueueChooser = Callable[[AsyncSession, InboundMessage], Awaitable[str | None]]
"""Returns the queue name a new ticket enters (routing rules live outside this room)."""


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
    address = normalize_address(msg.channel, msg.sender)
    customer_id = await _resolve_identity(session, msg.channel, address, msg.display_name, now)
    await session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())

    existing = (
        await session.execute(
            select(Message.id, Message.ticket_id).where(
                Message.channel == msg.channel.value, Message.external_id == msg.external_id
            )
        )
    ).first()
    if existing is not None:
        return IngestResult(existing.ticket_id, existing.id, customer_id, True, False, ())

    events: list[Event] = []
    found = await _thread(session, msg, customer_id)
    if found is None:
        ticket_id = await _open_ticket(session, msg, customer_id, now, choose_queue, events)
        new_ticket = True
    else:
        ticket_id, status = found
        new_ticket = False
        values: dict[str, object] = {"updated_at": now, "last_inbound_at": now}
        if TicketStatus(status) in REOPEN_ON_CUSTOMER_MESSAGE:
            values["status"] = TicketStatus.OPEN.value
            values["solved_at"] = None
            events.append(
                TicketStatusChanged(
                    ticket_id, format_number(ticket_id), status, "open", msg.channel.value
                )
            )
        await session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**values))

    message_id = (
        await session.execute(
            insert(Message)
            .values(
                ticket_id=ticket_id,
                direction=Direction.IN.value,
                channel=msg.channel.value,
                external_id=msg.external_id,
                author_name=(msg.display_name or address)[:200],
                recipient=None,
                text=msg.text[:MAX_TEXT],
                html=msg.html,
                email_message_id=msg.thread.message_id,
                delivery_status=DeliveryStatus.RECEIVED.value,
                created_at=msg.received_at,
            )
            .returning(Message.id)
        )
    ).scalar_one()
    if msg.attachments:
        await session.execute(
            insert(Attachment),
            [
                {
                    "message_id": message_id,
                    "name": a.name,
                    "content_type": a.content_type,
                    "size": a.size,
                    "blob_ref": a.blob_ref,
                }
                for a in msg.attachments
            ],
        )
    if msg.claimed_email:
        await _claim_email(session, customer_id, msg.claimed_email, now)

    events.append(
        MessageReceived(
            ticket_id, format_number(ticket_id), message_id, msg.channel.value, customer_id
        )
    )
    return IngestResult(ticket_id, message_id, customer_id, False, new_ticket, tuple(events))


async def _resolve_identity(
    session: AsyncSession, channel: Channel, address: str, name: str | None, now: datetime
) -> int:
    query = select(CustomerIdentity.customer_id).where(
        CustomerIdentity.channel == channel.value, CustomerIdentity.address == address
    )
    found = (await session.execute(query)).scalar_one_or_none()
    if found is not None:
        return found
    try:
        async with session.begin_nested():
            customer_id = (
                await session.execute(
                    insert(Customer)
                    .values(name=(name or "")[:200], tier="standard", created_at=now)
                    .returning(Customer.id)
                )
            ).scalar_one()
            await session.execute(
                insert(CustomerIdentity).values(
                    customer_id=customer_id, channel=channel.value, address=address, created_at=now
                )
            )
            return customer_id
    except IntegrityError:
        return (await session.execute(query)).scalar_one()


async def _claim_email(session: AsyncSession, customer_id: int, raw: str, now: datetime) -> None:
    """A chat visitor's "my email is ..." becomes an identity when nobody owns it yet;
    it never merges into another customer (that would let anyone read others' tickets)."""
    try:
        email = normalize_email(raw)
    except ValueError:
        return
    stmt = insert_ignoring_conflicts(
        session,
        CustomerIdentity.__table__,  # type: ignore[arg-type]
        ["channel", "address"],
    ).values(customer_id=customer_id, channel=Channel.EMAIL.value, address=email, created_at=now)
    await session.execute(stmt)


async def _thread(
    session: AsyncSession, msg: InboundMessage, customer_id: int
) -> tuple[int, str] | None:
    if msg.channel is Channel.EMAIL:
        refs = [r for r in (msg.thread.in_reply_to, *reversed(msg.thread.references)) if r]
        if refs:
            row = (
                await session.execute(
                    select(Ticket.id, Ticket.status)
                    .join(Message, Message.ticket_id == Ticket.id)
                    .where(Message.email_message_id.in_(refs))
                    .order_by(Message.id.desc())
                    .limit(1)
                )
            ).first()
            if row is not None and row.status != TicketStatus.CLOSED.value:
                return row.id, row.status
        match = SUBJECT_NUMBER.search(msg.subject or "")
        ticket_id = parse_number(match.group(1)) if match else None
        if ticket_id is not None:
            row = (
                await session.execute(
                    select(Ticket.id, Ticket.status).where(
                        Ticket.id == ticket_id, Ticket.customer_id == customer_id
                    )
                )
            ).first()
            if row is not None and row.status != TicketStatus.CLOSED.value:
                return row.id, row.status
        return None
    row = (
        await session.execute(
            select(Ticket.id, Ticket.status)
            .where(
                Ticket.customer_id == customer_id,
                Ticket.channel == msg.channel.value,
                Ticket.status != TicketStatus.CLOSED.value,
            )
            .order_by(Ticket.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (row.id, row.status)


def _subject_for(msg: InboundMessage) -> str:
    if msg.subject and msg.subject.strip():
        return SUBJECT_NUMBER.sub("", msg.subject).strip()[:500]
    first_line = next((line.strip() for line in msg.text.splitlines() if line.strip()), "")
    return first_line[:80] or f"{msg.channel.value} conversation"


async def _open_ticket(
    session: AsyncSession,
    msg: InboundMessage,
    customer_id: int,
    now: datetime,
    choose_queue: QueueChooser | None,
    events: list[Event],
) -> int:
    queue_name = await choose_queue(session, msg) if choose_queue else None
    queue_id = None
    if queue_name is not None:
        queue_id = (
            await session.execute(select(Queue.id).where(Queue.name == queue_name))
        ).scalar_one_or_none()
    ticket_id = (
        await session.execute(
            insert(Ticket)
            .values(
                subject=_subject_for(msg),
                status=TicketStatus.NEW.value,
                priority=Priority.NORMAL.value,
                channel=msg.channel.value,
                language=detect_language(f"{msg.subject or ''} {msg.text}"),
                queue_id=queue_id,
                customer_id=customer_id,
                created_at=now,
                updated_at=now,
                last_inbound_at=now,
                sla={},
            )
            .returning(Ticket.id)
        )
    ).scalar_one()
    await audit.record(
        session,
        Actor.customer(customer_id),
        "ticket.created",
        now,
        ticket_id,
        channel=msg.channel.value,
        queue=queue_name if queue_id is not None else None,
    )
    events.append(
        TicketCreated(
            ticket_id,
            format_number(ticket_id),
            msg.channel.value,
            queue_name if queue_id is not None else None,
            Priority.NORMAL.value,
            customer_id,
        )
    )
    return ticket_id


__all__ = ["IngestResult", "QueueChooser", "ingest"]
