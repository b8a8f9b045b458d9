"""The outbox's database side: lease due entries, then record the outcome.

A worker leases entries (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of
workers share the table) by pushing their next attempt past a lease time and writing its
lease token into ``lease_owner``, commits, sends outside any transaction, then records
sent / retry / dead. A worker that dies mid-send leaves the entry to be retried when the
lease runs out; nothing is silently dropped.

The result of a send is fenced by the lease: ``mark_sent`` and ``mark_failed`` change the
entry only while the caller's token is still the one on the row and the entry is still
pending. A worker whose lease ran out (paused process, slow database) and was taken over
has its late result discarded and logged, so the new holder's outcome is the one kept.
The provider call itself is bounded by ``RetryPolicy.call_timeout_s``, which is shorter
than the lease, so in normal operation a lease never runs out under a call in flight.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tickets import audit, reachability
from tickets.contracts import (
    AttachmentRef,
    Channel,
    DeliveryStatus,
    Direction,
    OutboundMessage,
    ThreadHints,
)
from tickets.errors import Conflict, Forbidden, NotFound
from tickets.events import DeliveryStatusChanged, Event, OutboxQueued
from tickets.models import (
    Attachment,
    Message,
    OutboxEntry,
    Ticket,
    TicketParticipant,
    format_number,
)
from tickets.services import Written, _read_only, load_visible
from tickets.staff import StaffUser, may_change

PENDING, DONE, DEAD = "pending", "done", "dead"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff, attempts and the lease. ``send_timeout_s`` bounds one provider call and
    must be shorter than ``lease_s`` (default: half of it), so that a call ends, one way
    or the other, before another worker may take the entry over."""

    base_s: float = 5.0
    cap_s: float = 3600.0
    max_attempts: int = 8
    lease_s: float = 120.0
    send_timeout_s: float | None = None

    def __post_init__(self) -> None:
        if self.lease_s <= 0:
            raise ValueError(f"the outbox lease must be positive, not {self.lease_s}s")
        if self.send_timeout_s is not None and not 0 < self.send_timeout_s < self.lease_s:
            raise ValueError(
                f"the send timeout ({self.send_timeout_s}s) must be positive and shorter "
                f"than the outbox lease ({self.lease_s}s)"
            )

    @property
    def call_timeout_s(self) -> float:
        return self.send_timeout_s if self.send_timeout_s is not None else self.lease_s / 2

    def delay(self, attempts: int) -> float:
        raw = min(self.cap_s, self.base_s * (2 ** max(0, attempts - 1)))
        return float(raw * random.uniform(0.8, 1.0))


async def lease_due(
    session: AsyncSession, now: datetime, policy: RetryPolicy, limit: int = 50, *, owner: str
) -> list[OutboundMessage]:
    """Leases up to ``limit`` due entries to ``owner`` (a token unique to this lease) until
    ``now + policy.lease_s``; the caller records each outcome with the same token."""
    rows = (
        (
            await session.execute(
                select(OutboxEntry)
                .where(OutboxEntry.state == PENDING, OutboxEntry.next_attempt_at <= now)
                .order_by(OutboxEntry.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        return []
    await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.id.in_([r.id for r in rows]))
        .values(next_attempt_at=now + timedelta(seconds=policy.lease_s), lease_owner=owner)
    )
    keys = {r.message_id: r.idempotency_key for r in rows}
    found = (
        await session.execute(
            select(Message, Ticket.subject)
            .join(Ticket, Ticket.id == Message.ticket_id)
            .where(Message.id.in_(keys))
        )
    ).all()
    files: dict[int, list[AttachmentRef]] = {}
    for a in (
        await session.execute(
            select(Attachment).where(Attachment.message_id.in_(keys)).order_by(Attachment.id)
        )
    ).scalars():
        files.setdefault(a.message_id, []).append(
            AttachmentRef(a.name, a.content_type, a.size, a.blob_ref)
        )
    out = []
    for msg, subject in found:
        thread = ThreadHints()
        cc: tuple[str, ...] = ()
        reply_from: str | None = None
        if msg.channel == Channel.EMAIL:
            thread, cc, reply_from = await _email_context(session, msg.ticket_id, msg.recipient)
        out.append(
            OutboundMessage(
                message_id=msg.id,
                ticket_number=format_number(msg.ticket_id),
                channel=Channel(msg.channel),
                recipient=msg.recipient or "",
                text=msg.text,
                html=msg.html,
                idempotency_key=keys[msg.id],
                subject=subject,
                thread=thread,
                author=msg.author_name,
                created_at=msg.created_at,
                unreachable=await reachability.unreachable_reason(
                    session, Channel(msg.channel), msg.recipient or ""
                ),
                cc=cc,
                reply_from=reply_from,
                attachments=tuple(files.get(msg.id, ())),
            )
        )
    return out


async def _email_context(
    session: AsyncSession, ticket_id: int, recipient: str | None
) -> tuple[ThreadHints, tuple[str, ...], str | None]:
    """A reply threads onto the customer's last mail (In-Reply-To it, References its
    chain plus it), keeps the ticket's participants on CC, and goes out from the support
    address that mail was sent to."""
    last = (
        await session.execute(
            select(Message.email_message_id, Message.email_meta)
            .where(
                Message.ticket_id == ticket_id,
                Message.direction == Direction.IN.value,
                Message.email_message_id.is_not(None),
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
    ).first()
    in_reply_to, meta = (last[0], last[1] or {}) if last is not None else (None, {})
    refs = [r for r in meta.get("references", []) if isinstance(r, str)]
    if in_reply_to:
        refs.append(in_reply_to)
    people = (
        await session.execute(
            select(TicketParticipant.address)
            .where(TicketParticipant.ticket_id == ticket_id)
            .order_by(TicketParticipant.created_at, TicketParticipant.address)
        )
    ).scalars()
    cc = tuple(a for a in people if a != recipient)
    reply_from = meta.get("support_address")
    return (
        ThreadHints(in_reply_to=in_reply_to, references=tuple(dict.fromkeys(refs[-20:]))),
        cc,
        reply_from if isinstance(reply_from, str) else None,
    )


async def _status(
    session: AsyncSession,
    message_id: int,
    status: DeliveryStatus,
    error: str | None,
    external_id: str | None = None,
) -> list[Event]:
    values: dict[str, object] = {"delivery_status": status.value, "delivery_error": error}
    if external_id:
        values["external_id"] = external_id
    stmt = update(Message).where(Message.id == message_id)
    if status is DeliveryStatus.SENT:
        # A fast receipt (delivered, or the provider's own failure report) may land
        # before the sender's own "sent": keep it.
        stmt = stmt.where(
            Message.delivery_status.not_in(
                [DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value]
            )
        )
    ticket_id = (
        await session.execute(stmt.values(**values).returning(Message.ticket_id))
    ).scalar_one_or_none()
    if ticket_id is None:
        return []
    return [
        DeliveryStatusChanged(ticket_id, format_number(ticket_id), message_id, status.value, error)
    ]


def _discard(message_id: int, owner: str, outcome: str) -> list[Event]:
    log.warning(
        "discarding the %s result for outbox message %s: lease %s is no longer held "
        "(it ran out and another worker took the entry over, or it was already recorded)",
        outcome,
        message_id,
        owner,
    )
    return []


def _held(message_id: int, owner: str) -> ColumnElement[bool]:
    return and_(
        OutboxEntry.message_id == message_id,
        OutboxEntry.state == PENDING,
        OutboxEntry.lease_owner == owner,
    )


async def mark_sent(
    session: AsyncSession,
    message_id: int,
    external_id: str | None = None,
    status: DeliveryStatus = DeliveryStatus.SENT,
    *,
    owner: str,
) -> list[Event]:
    """Records a send, only while ``owner`` still holds the lease (else discarded)."""
    done = (
        await session.execute(
            update(OutboxEntry)
            .where(_held(message_id, owner))
            .values(
                state=DONE, attempts=OutboxEntry.attempts + 1, last_error=None, lease_owner=None
            )
            .returning(OutboxEntry.id)
        )
    ).scalar_one_or_none()
    if done is None:
        return _discard(message_id, owner, "sent")
    return await _status(session, message_id, status, None, external_id)


async def mark_failed(
    session: AsyncSession,
    message_id: int,
    error: str,
    now: datetime,
    policy: RetryPolicy,
    *,
    owner: str,
    permanent: bool = False,
    retry_after: float | None = None,
) -> list[Event]:
    """Schedules the next attempt, or dead-letters the entry (failed on the message);
    only while ``owner`` still holds the lease (else discarded)."""
    entry = (
        await session.execute(select(OutboxEntry).where(_held(message_id, owner)).with_for_update())
    ).scalar_one_or_none()
    if entry is None:
        return _discard(message_id, owner, "failed" if permanent else "retry")
    attempts = entry.attempts + 1
    if permanent or attempts >= policy.max_attempts:
        await session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id == entry.id)
            .values(state=DEAD, attempts=attempts, last_error=error[:2000], lease_owner=None)
        )
        return await _status(session, message_id, DeliveryStatus.FAILED, error[:2000])
    delay = max(policy.delay(attempts), retry_after or 0.0)
    await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.id == entry.id)
        .values(
            attempts=attempts,
            last_error=error[:2000],
            next_attempt_at=now + timedelta(seconds=delay),
            lease_owner=None,
        )
    )
    return []


async def outbound_by_external_id(
    session: AsyncSession, channel: Channel, external_id: str
) -> int | None:
    """Our outbound message a provider names by its id (an email bounce quotes our
    Message-ID): the message id, or None when it is not ours."""
    return (
        await session.execute(
            select(Message.id).where(
                Message.channel == channel.value,
                Message.external_id == external_id,
                Message.direction == Direction.OUT.value,
            )
        )
    ).scalar()


async def record_delivery(
    session: AsyncSession, message_id: int, status: DeliveryStatus, error: str | None = None
) -> list[Event]:
    """A provider's later status report (delivered, failed) for a sent message."""
    return await _status(session, message_id, status, error)


PROVIDER_STATUS_RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.FAILED: 2,
    DeliveryStatus.DELIVERED: 3,
}


async def record_provider_status(
    session: AsyncSession,
    channel: Channel,
    status: DeliveryStatus,
    error: str | None = None,
    *,
    message_id: int | None = None,
    external_id: str | None = None,
    attempt: str | None = None,
) -> list[Event]:
    """A provider's status callback for an outbound message, found by our id (the
    callback URL carries it, so a receipt that beats the sender's own ``mark_sent`` is
    still matched) or else by the provider's id. Callbacks arrive late and out of order,
    so a status only moves forward: queued < sent < failed < delivered. A delivered
    message never moves back; a second failure refreshes the error. The provider's id is
    kept when the message has none yet. ``attempt`` (the outbox entry's idempotency key the
    send carried) ties the callback to one send: after an agent's Retry makes a new send,
    a late report about the earlier one changes nothing. Returns no events when nothing
    changed."""
    if message_id is None and external_id is None:
        return []
    where: list[ColumnElement[bool]] = [
        Message.channel == channel.value,
        Message.direction == Direction.OUT.value,
    ]
    where.append(
        Message.id == message_id if message_id is not None else Message.external_id == external_id
    )
    if attempt is not None:
        where.append(
            Message.id.in_(
                select(OutboxEntry.message_id).where(OutboxEntry.idempotency_key == attempt)
            )
        )
    if message_id is not None and external_id:
        await session.execute(
            update(Message)
            .where(*where, Message.external_id.is_(None))
            .values(external_id=external_id[:255])
        )
    rank = PROVIDER_STATUS_RANK[status]
    behind = [s.value for s, r in PROVIDER_STATUS_RANK.items() if r < rank]
    if status is DeliveryStatus.FAILED:
        behind.append(DeliveryStatus.FAILED.value)
    changed = (
        await session.execute(
            update(Message)
            .where(
                *where,
                Message.delivery_status.in_(behind) | Message.delivery_status.is_(None),
            )
            .values(delivery_status=status.value, delivery_error=error[:2000] if error else None)
            .returning(Message.id, Message.ticket_id)
        )
    ).first()
    if changed is None:
        return []
    msg_id, ticket_id = changed
    return [
        DeliveryStatusChanged(
            ticket_id,
            format_number(ticket_id),
            msg_id,
            status.value,
            error[:2000] if error else None,
        )
    ]


async def retry_message(
    session: AsyncSession, staff: StaffUser, number: str, message_id: int, now: datetime
) -> Written:
    """An agent's "Retry" on a failed outbound message: its outbox entry is due again now
    with a fresh attempt count, the message shows ``queued``, and ``OutboxQueued`` wakes
    the dispatcher. A dead-lettered entry keeps its idempotency key (the provider may
    have taken the first try after all and dedupes it); an entry that was sent and later
    reported failed by the provider gets a new key, since that send must happen anew.
    Only a failed message on a ticket the caller may change can be retried; a closed
    ticket is read-only."""
    ticket = await load_visible(session, staff, number, lock=True)
    if not may_change(staff, ticket):
        raise Forbidden(f"you are not a member of the queue of {number}")
    _read_only(ticket)
    msg = (
        await session.execute(
            select(Message).where(Message.id == message_id, Message.ticket_id == ticket.id)
        )
    ).scalar_one_or_none()
    if msg is None:
        raise NotFound(f"no message {message_id} on {number}")
    if msg.direction != Direction.OUT.value or msg.delivery_status != DeliveryStatus.FAILED.value:
        raise Conflict("only a failed outbound message can be retried")
    entry = (
        await session.execute(
            select(OutboxEntry).where(OutboxEntry.message_id == msg.id).with_for_update()
        )
    ).scalar_one_or_none()
    if entry is None:
        raise Conflict("this message has no outbox entry to retry")
    values: dict[str, object] = {
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "lease_owner": None,
    }
    if entry.state == DONE:
        values["idempotency_key"] = uuid.uuid4().hex
    await session.execute(update(OutboxEntry).where(OutboxEntry.id == entry.id).values(**values))
    await session.execute(
        update(Message)
        .where(Message.id == msg.id)
        .values(delivery_status=DeliveryStatus.QUEUED.value, delivery_error=None)
    )
    await audit.record(
        session,
        staff.actor,
        "message.retried",
        now,
        ticket.id,
        message_id=msg.id,
        channel=msg.channel,
        previous_error=(msg.delivery_error or "")[:500],
    )
    events: tuple[Event, ...] = (
        DeliveryStatusChanged(ticket.id, ticket.number, msg.id, DeliveryStatus.QUEUED.value, None),
        OutboxQueued(msg.id, msg.channel),
    )
    return Written(ticket.id, msg.id, events)
