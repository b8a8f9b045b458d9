"""The outbox's database side: lease due entries, then record the outcome.

A worker leases entries (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of
workers share the table) by pushing their next attempt past a lease time, commits, sends
outside any transaction, then records sent / retry / dead. A worker that dies mid-send
leaves the entry to be retried when the lease runs out; nothing is silently dropped.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.contracts import Channel, DeliveryStatus, Direction, OutboundMessage, ThreadHints
from tickets.events import DeliveryStatusChanged, Event
from tickets.models import Message, OutboxEntry, Ticket, format_number

PENDING, DONE, DEAD = "pending", "done", "dead"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float = 5.0
    cap_s: float = 3600.0
    max_attempts: int = 8
    lease_s: float = 120.0

    def delay(self, attempts: int) -> float:
        raw = min(self.cap_s, self.base_s * (2 ** max(0, attempts - 1)))
        return float(raw * random.uniform(0.8, 1.0))


async def lease_due(
    session: AsyncSession, now: datetime, policy: RetryPolicy, limit: int = 50
) -> list[OutboundMessage]:
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
        .values(next_attempt_at=now + timedelta(seconds=policy.lease_s))
    )
    keys = {r.message_id: r.idempotency_key for r in rows}
    found = (
        await session.execute(
            select(Message, Ticket.subject)
            .join(Ticket, Ticket.id == Message.ticket_id)
            .where(Message.id.in_(keys))
        )
    ).all()
    out = []
    for msg, subject in found:
        in_reply_to = None
        if msg.channel == Channel.EMAIL:
            in_reply_to = (
                await session.execute(
                    select(Message.email_message_id)
                    .where(
                        Message.ticket_id == msg.ticket_id,
                        Message.direction == Direction.IN.value,
                        Message.email_message_id.is_not(None),
                    )
                    .order_by(Message.id.desc())
                    .limit(1)
                )
            ).scalar()
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
                thread=ThreadHints(in_reply_to=in_reply_to),
                author=msg.author_name,
                created_at=msg.created_at,
            )
        )
    return out


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
        # A fast receipt ("delivered") may land before the sender's own "sent": keep it.
        stmt = stmt.where(Message.delivery_status != DeliveryStatus.DELIVERED.value)
    ticket_id = (
        await session.execute(stmt.values(**values).returning(Message.ticket_id))
    ).scalar_one_or_none()
    if ticket_id is None:
        return []
    return [
        DeliveryStatusChanged(ticket_id, format_number(ticket_id), message_id, status.value, error)
    ]


async def mark_sent(
    session: AsyncSession,
    message_id: int,
    external_id: str | None = None,
    status: DeliveryStatus = DeliveryStatus.SENT,
) -> list[Event]:
    await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.message_id == message_id)
        .values(state=DONE, attempts=OutboxEntry.attempts + 1, last_error=None)
    )
    return await _status(session, message_id, status, None, external_id)


async def mark_failed(
    session: AsyncSession,
    message_id: int,
    error: str,
    now: datetime,
    policy: RetryPolicy,
    *,
    permanent: bool = False,
    retry_after: float | None = None,
) -> list[Event]:
    """Schedules the next attempt, or dead-letters the entry (failed on the message)."""
    entry = (
        await session.execute(select(OutboxEntry).where(OutboxEntry.message_id == message_id))
    ).scalar_one()
    attempts = entry.attempts + 1
    if permanent or attempts >= policy.max_attempts:
        await session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id == entry.id)
            .values(state=DEAD, attempts=attempts, last_error=error[:2000])
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
        )
    )
    return []


async def record_delivery(
    session: AsyncSession, message_id: int, status: DeliveryStatus, error: str | None = None
) -> list[Event]:
    """A provider's later status report (delivered, failed) for a sent message."""
    return await _status(session, message_id, status, error)
