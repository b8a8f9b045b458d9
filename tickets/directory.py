"""Read-only views of queues, staff and tickets for rooms that decide who works on what
(routing): plain values, never models, so those rooms depend on this surface and not on
the core's tables."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.models import Queue, QueueMember, Ticket, User
from tickets.status import OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class QueueRef:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class QueueMemberRef:
    """An active staff user who belongs to at least one queue."""

    id: int
    email: str
    languages: tuple[str, ...]
    queue_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class TicketFacts:
    id: int
    queue_id: int | None
    channel: str
    priority: str
    status: str
    language: str | None
    assignee_id: int | None
    customer_id: int
    created_at: datetime
    sla: dict[str, object]


async def all_queues(session: AsyncSession) -> list[QueueRef]:
    rows = await session.execute(select(Queue.id, Queue.name).order_by(Queue.id))
    return [QueueRef(r.id, r.name) for r in rows.all()]


async def queue_members(session: AsyncSession) -> list[QueueMemberRef]:
    members: dict[int, set[int]] = defaultdict(set)
    for queue_id, user_id in (
        await session.execute(select(QueueMember.queue_id, QueueMember.user_id))
    ).all():
        members[user_id].add(queue_id)
    if not members:
        return []
    rows = await session.execute(
        select(User.id, User.email, User.languages)
        .where(User.is_active.is_(True), User.id.in_(list(members)))
        .order_by(User.id)
    )
    return [
        QueueMemberRef(r.id, r.email, tuple(r.languages or ()), frozenset(members[r.id]))
        for r in rows.all()
    ]


def _facts(t: Ticket) -> TicketFacts:
    return TicketFacts(
        t.id,
        t.queue_id,
        t.channel,
        t.priority,
        t.status,
        t.language,
        t.assignee_id,
        t.customer_id,
        t.created_at,
        dict(t.sla or {}),
    )


async def ticket_facts(session: AsyncSession, ticket_id: int) -> TicketFacts | None:
    ticket = await session.get(Ticket, ticket_id)
    return None if ticket is None else _facts(ticket)


async def open_ticket_facts(session: AsyncSession) -> list[TicketFacts]:
    """Every open ticket in a queue or with an assignee (what routing state is built of)."""
    rows = await session.execute(
        select(Ticket).where(
            Ticket.status.in_([s.value for s in OPEN_STATUSES]),
            (Ticket.queue_id.is_not(None)) | (Ticket.assignee_id.is_not(None)),
        )
    )
    return [_facts(t) for t in rows.scalars()]


async def previous_assignee(
    session: AsyncSession, customer_id: int, ticket_id: int, since: datetime
) -> int | None:
    """The assignee of the customer's most recently updated other ticket since ``since``."""
    return (
        await session.execute(
            select(Ticket.assignee_id)
            .where(
                Ticket.customer_id == customer_id,
                Ticket.id != ticket_id,
                Ticket.assignee_id.is_not(None),
                Ticket.updated_at >= since,
            )
            .order_by(Ticket.updated_at.desc())
            .limit(1)
        )
    ).scalar()


__all__ = [
    "QueueMemberRef",
    "QueueRef",
    "TicketFacts",
    "all_queues",
    "open_ticket_facts",
    "previous_assignee",
    "queue_members",
    "ticket_facts",
]
