"""The customer's side of a conversation: what a chat visitor may read and do in their own
ticket (seen marks, a satisfaction rating, a contact to be answered on, their own
attachments) and the facts their chat window shows (who answers, business hours).

Every function here is addressed by the visitor's identity (channel and address), never
by a ticket number the visitor sends, so a visitor reaches only their own conversation.

Decisions where the issue is silent:
- "seen" is a ``seen_at`` on the agent's message (the first time only); seeing a message
  also counts as seeing every earlier agent message of the ticket, as in any chat app.
  The visitor is not shown when agents have seen theirs: an agent answering has seen it.
- a rating is 1 to 5 with an optional comment, allowed while the ticket is solved or
  closed; rating again replaces the earlier rating (Zendesk lets a customer change it).
- a contact left in the chat (offline notice) is an unverified identity like the chat's
  email claim: shown to agents, never used to thread or merge.
- the chat's business calendar is the calendar of the first SLA policy (by position)
  that matches the ticket's queue, else of the first policy that has one, else 24x7.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tickets import audit
from tickets.contracts import Actor, Channel, Direction, TicketStatus
from tickets.errors import Conflict, Invalid, NotFound
from tickets.events import Event, MessageSeen, TicketRated, TicketStatusChanged, TicketUpdated
from tickets.identity import (
    PHONE_IDENTITY,
    InvalidAddress,
    identity_channel,
    normalize_email,
    normalize_phone,
)
from tickets.models import (
    Attachment,
    BusinessCalendar,
    CustomerIdentity,
    Message,
    Queue,
    SlaPolicy,
    Ticket,
    TicketTag,
    User,
    format_number,
)
from tickets.sla.calendar import ALWAYS, Calendar
from tickets.sla.clocks import calendar_from_row
from tickets.staff import StaffUser, may_see
from tickets.textcheck import storable_text

MAX_COMMENT = 2000
RATED_STATUSES = frozenset({TicketStatus.SOLVED.value, TicketStatus.CLOSED.value})


@dataclass(frozen=True, slots=True)
class ChatState:
    """What the visitor's window needs about their open ticket."""

    ticket_id: int
    number: str
    status: str
    queue: str | None
    assignee: str | None
    rating: int | None


@dataclass(frozen=True, slots=True)
class BusinessHours:
    calendar: str
    timezone: str
    is_open: bool
    opens_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredFile:
    """An attachment's stored facts, for serving it."""

    id: int
    ticket_id: int
    name: str
    content_type: str
    size: int
    blob_ref: str


def _customers_of(channel: str, address: str) -> Any:
    return select(CustomerIdentity.customer_id).where(
        CustomerIdentity.channel == identity_channel(channel),
        CustomerIdentity.address == address,
        CustomerIdentity.verified,
    )


async def chat_state(session: AsyncSession, channel: str, address: str) -> ChatState | None:
    """The address's latest not-closed ticket on the channel, with its assignee's name."""
    row = (
        await session.execute(
            select(Ticket, Queue.name, User.name)
            .outerjoin(Queue, Queue.id == Ticket.queue_id)
            .outerjoin(User, User.id == Ticket.assignee_id)
            .where(
                Ticket.customer_id.in_(_customers_of(channel, address)),
                Ticket.channel == channel,
                Ticket.status != TicketStatus.CLOSED.value,
            )
            .order_by(Ticket.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    ticket, queue, assignee = row
    return ChatState(ticket.id, ticket.number, ticket.status, queue, assignee, ticket.rating)


async def _own_ticket(session: AsyncSession, channel: str, address: str, ticket_id: int) -> Ticket:
    ticket = (
        await session.execute(
            select(Ticket).where(
                Ticket.id == ticket_id,
                Ticket.customer_id.in_(_customers_of(channel, address)),
            )
        )
    ).scalar_one_or_none()
    if ticket is None:
        raise NotFound(f"no ticket {format_number(ticket_id)}")
    return ticket


async def mark_seen(
    session: AsyncSession, channel: str, address: str, message_id: int, now: datetime
) -> list[Event]:
    """The visitor saw the agent message ``message_id`` (and so every earlier one)."""
    msg = (
        await session.execute(
            select(Message).where(
                Message.id == message_id,
                Message.direction == Direction.OUT.value,
                Message.ticket_id.in_(
                    select(Ticket.id).where(Ticket.customer_id.in_(_customers_of(channel, address)))
                ),
            )
        )
    ).scalar_one_or_none()
    if msg is None:
        raise NotFound(f"no message {message_id} in your conversation")
    if msg.seen_at is not None:
        return []
    await session.execute(
        update(Message)
        .where(
            Message.ticket_id == msg.ticket_id,
            Message.direction == Direction.OUT.value,
            Message.id <= msg.id,
            Message.seen_at.is_(None),
        )
        .values(seen_at=now)
    )
    return [MessageSeen(msg.ticket_id, format_number(msg.ticket_id), msg.id)]


async def rate_ticket(
    session: AsyncSession,
    channel: str,
    address: str,
    ticket_id: int,
    score: object,
    comment: object,
    now: datetime,
) -> list[Event]:
    """Stores the customer's 1-5 rating (and comment) of their solved or closed ticket."""
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise Invalid("a rating is a whole number from 1 to 5")
    text: str | None = None
    if comment is not None:
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
            raise Invalid(f"a comment is text of at most {MAX_COMMENT} characters")
        text = storable_text(comment, "the comment").strip() or None
    ticket = await _own_ticket(session, channel, address, ticket_id)
    if ticket.status not in RATED_STATUSES:
        raise Conflict(f"{ticket.number} is not solved yet")
    await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id)
        .values(rating=score, rating_comment=text, rated_at=now)
    )
    await audit.record(
        session,
        Actor.customer(ticket.customer_id),
        "ticket.rated",
        now,
        ticket_id=ticket.id,
        rating=score,
        comment=text,
    )
    queue = await session.get(Queue, ticket.queue_id) if ticket.queue_id else None
    return [TicketRated(ticket.id, ticket.number, score, queue.name if queue else None)]


async def claim_contact(
    session: AsyncSession, channel: str, address: str, contact: object, now: datetime
) -> str:
    """Keeps a phone number or email the visitor asked to be answered on, as an
    unverified identity of their customer; returns the kind stored (``email``/``phone``)."""
    if not isinstance(contact, str) or not contact.strip() or len(contact) > 320:
        raise Invalid("leave a phone number or an email address")
    storable_text(contact, "the contact")
    try:
        kind, value = (
            (Channel.EMAIL.value, normalize_email(contact))
            if "@" in contact
            else (PHONE_IDENTITY, normalize_phone(contact))
        )
    except InvalidAddress as err:
        raise Invalid("that is neither a phone number nor an email address") from err
    customer_id = (await session.execute(_customers_of(channel, address).limit(1))).scalar()
    if customer_id is None:
        raise NotFound("write a message first")
    held = (
        await session.execute(
            select(CustomerIdentity.id).where(
                CustomerIdentity.customer_id == customer_id,
                CustomerIdentity.channel == kind,
                CustomerIdentity.address == value,
            )
        )
    ).first()
    if held is None:
        session.add(
            CustomerIdentity(
                customer_id=customer_id, channel=kind, address=value, verified=False, created_at=now
            )
        )
        await session.flush()
    return "email" if kind == Channel.EMAIL.value else "phone"


async def visitor_file(
    session: AsyncSession, channel: str, address: str, attachment_id: int
) -> StoredFile | None:
    """An attachment of a message the visitor may see (not on a note), else None."""
    row = (
        await session.execute(
            select(Attachment, Message.ticket_id)
            .join(Message, Message.id == Attachment.message_id)
            .join(Ticket, Ticket.id == Message.ticket_id)
            .where(
                Attachment.id == attachment_id,
                Message.direction != Direction.NOTE.value,
                Ticket.customer_id.in_(_customers_of(channel, address)),
            )
        )
    ).first()
    return None if row is None else _stored(row[0], row[1])


async def staff_file(session: AsyncSession, staff: StaffUser, attachment_id: int) -> StoredFile:
    """An attachment of a ticket the staff user may see; ``NotFound`` otherwise."""
    row = (
        await session.execute(
            select(Attachment, Ticket)
            .join(Message, Message.id == Attachment.message_id)
            .join(Ticket, Ticket.id == Message.ticket_id)
            .where(Attachment.id == attachment_id)
        )
    ).first()
    if row is None or not may_see(staff, row[1]):
        raise NotFound(f"no attachment {attachment_id}")
    return _stored(row[0], row[1].id)


async def staff_original(session: AsyncSession, staff: StaffUser, message_id: int) -> StoredFile:
    """The original of an email (the raw mail as received) on a ticket the staff user may
    see; ``NotFound`` otherwise, or when no original is kept."""
    row = (
        await session.execute(
            select(Message.email_meta, Ticket)
            .join(Ticket, Ticket.id == Message.ticket_id)
            .where(Message.id == message_id)
        )
    ).first()
    if row is None or not may_see(staff, row[1]):
        raise NotFound(f"no message {message_id}")
    ref = (row[0] or {}).get("raw_ref")
    if not isinstance(ref, str):
        raise NotFound(f"message {message_id} has no original")
    return StoredFile(message_id, row[1].id, f"message-{message_id}.eml", "message/rfc822", 0, ref)


async def message_files(session: AsyncSession, message_id: int) -> list[dict[str, Any]]:
    """The attachments of one message, in the shape of ``message_dict``'s."""
    rows = (
        await session.execute(
            select(Attachment).where(Attachment.message_id == message_id).order_by(Attachment.id)
        )
    ).scalars()
    return [
        {"id": a.id, "name": a.name, "content_type": a.content_type, "size": a.size} for a in rows
    ]


def _stored(a: Attachment, ticket_id: int) -> StoredFile:
    return StoredFile(a.id, ticket_id, a.name, a.content_type, a.size, a.blob_ref)


async def _calendar(session: AsyncSession, queue: str | None) -> Calendar:
    queue_id = (
        (await session.execute(select(Queue.id).where(Queue.name == queue))).scalar()
        if queue
        else None
    )
    policies = (
        await session.execute(
            select(SlaPolicy.match_queue_id, SlaPolicy.calendar_id)
            .where(SlaPolicy.calendar_id.is_not(None))
            .order_by(SlaPolicy.position, SlaPolicy.id)
        )
    ).all()
    chosen = next((c for q, c in policies if queue_id is not None and q == queue_id), None)
    if chosen is None:
        chosen = next((c for q, c in policies if q is None), None)
    row = await session.get(BusinessCalendar, chosen) if chosen is not None else None
    return calendar_from_row(row) if row is not None else ALWAYS


async def business_hours(session: AsyncSession, queue: str | None, now: datetime) -> BusinessHours:
    """Whether the queue's (or the default) business calendar is open at ``now``."""
    calendar = await _calendar(session, queue)
    try:
        opens = calendar.add(now, 0)
    except ValueError:
        return BusinessHours(calendar.name, calendar.timezone, False, None)
    is_open = opens <= now + timedelta(seconds=1)
    return BusinessHours(calendar.name, calendar.timezone, is_open, None if is_open else opens)


async def ratings_since(session: AsyncSession, since: datetime) -> list[dict[str, Any]]:
    """Average rating and count per queue of the ratings given since ``since`` (the
    wallboard passes the start of today); ``queue`` is None for tickets in no queue."""
    rows = (
        await session.execute(
            select(Queue.name, func.count(Ticket.id), func.avg(Ticket.rating))
            .select_from(Ticket)
            .outerjoin(Queue, Queue.id == Ticket.queue_id)
            .where(Ticket.rated_at >= since, Ticket.rating.is_not(None))
            .group_by(Queue.name)
            .order_by(Queue.name)
        )
    ).all()
    return [
        {"queue": name, "count": int(count), "average": round(float(avg), 2)}
        for name, count, avg in rows
    ]


SELF_SERVED_TAG = "self-served"
"""The tag of a conversation the customer solved themselves with an article."""


async def solve_self_served(
    session: AsyncSession,
    channel: str,
    address: str,
    ticket_id: int,
    now: datetime,
    *,
    article: str | None = None,
) -> list[Event]:
    """The customer says an article solved their question: their own open conversation
    becomes solved and tagged ``self-served`` (counted apart from agents' solves). Routing
    and SLA clocks follow the status event like any solve."""
    ticket = await _own_ticket(session, channel, address, ticket_id)
    old = ticket.status
    if old not in (TicketStatus.NEW.value, TicketStatus.OPEN.value, TicketStatus.PENDING.value):
        raise Conflict(f"{ticket.number} is not open")
    await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id)
        .values(status=TicketStatus.SOLVED.value, solved_at=now, updated_at=now)
    )
    tagged = (
        await session.execute(
            select(TicketTag.tag).where(
                TicketTag.ticket_id == ticket.id, TicketTag.tag == SELF_SERVED_TAG
            )
        )
    ).scalar()
    if tagged is None:
        session.add(TicketTag(ticket_id=ticket.id, tag=SELF_SERVED_TAG))
        await session.flush()
    await audit.record(
        session,
        Actor.customer(ticket.customer_id),
        "ticket.self_served",
        now,
        ticket_id=ticket.id,
        article=article,
    )
    changes = {"status": TicketStatus.SOLVED.value, "tags_added": [SELF_SERVED_TAG]}
    return [
        TicketUpdated(ticket.id, ticket.number, changes),
        TicketStatusChanged(
            ticket.id, ticket.number, old, TicketStatus.SOLVED.value, ticket.channel
        ),
    ]


async def self_served_since(
    session: AsyncSession, since: datetime, queue_ids: Collection[int] | None = None
) -> int:
    """Conversations the customer solved with an article since ``since`` (still solved or
    closed), in the given queues (None: every queue)."""
    query = (
        select(func.count())
        .select_from(Ticket)
        .join(TicketTag, TicketTag.ticket_id == Ticket.id)
        .where(
            TicketTag.tag == SELF_SERVED_TAG,
            Ticket.solved_at >= since,
            Ticket.status.in_(sorted(RATED_STATUSES)),
        )
    )
    if queue_ids is not None:
        query = query.where(Ticket.queue_id.in_(sorted(queue_ids)))
    count = await session.execute(query)
    return int(count.scalar_one())
