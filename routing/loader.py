"""What the routing engine reads from the database: agents, queue settings, and the
facts routing state is rebuilt from (who holds which open ticket, what is waiting)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from routing.models import DEFAULT_CAPACITY, OFFER_CHANNELS, AgentProfile, QueueRouting
from routing.state import AgentInfo
from tickets.models import Customer, Queue, QueueMember, Ticket, User

OPEN_STATUSES = ("new", "open", "pending", "waiting_parts")


@dataclass(frozen=True, slots=True)
class QueueConfig:
    id: int
    name: str
    position: int = 100
    channels: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    is_default: bool = False
    required_skills: tuple[str, ...] = ()
    required_language: str | None = None
    offer_channels: tuple[str, ...] = tuple(OFFER_CHANNELS)
    offer_timeout_s: int = 30
    overflow_queue_id: int | None = None
    overflow_after_s: int | None = None


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


async def load_agents(session: AsyncSession) -> tuple[list[AgentInfo], dict[int, str]]:
    """Active staff who are members of at least one queue, and their stored presence."""
    members: dict[int, set[int]] = defaultdict(set)
    for queue_id, user_id in (
        await session.execute(select(QueueMember.queue_id, QueueMember.user_id))
    ).all():
        members[user_id].add(queue_id)
    users = (
        await session.execute(select(User).where(User.is_active.is_(True), User.id.in_(members)))
    ).scalars()
    profiles = {p.user_id: p for p in (await session.execute(select(AgentProfile))).scalars()}
    infos, presence = [], {}
    for user in users:
        profile = profiles.get(user.id)
        capacity = dict(DEFAULT_CAPACITY)
        if profile is not None:
            capacity.update({k: int(v) for k, v in profile.capacity.items()})
        infos.append(
            AgentInfo(
                id=user.id,
                email=user.email,
                queues=frozenset(members[user.id]),
                skills={k: int(v) for k, v in (profile.skills if profile else {}).items()},
                languages=frozenset(user.languages or ()),
                capacity=capacity,
                keep_email_on_offline=profile.keep_email_on_offline if profile else True,
            )
        )
        presence[user.id] = profile.presence if profile else "offline"
    return infos, presence


async def load_queues(session: AsyncSession) -> dict[int, QueueConfig]:
    rows = (
        await session.execute(
            select(Queue, QueueRouting).outerjoin(QueueRouting, QueueRouting.queue_id == Queue.id)
        )
    ).all()
    out = {}
    for queue, found in rows:
        cfg: QueueRouting | None = found
        if cfg is None:
            out[queue.id] = QueueConfig(queue.id, queue.name)
            continue
        out[queue.id] = QueueConfig(
            id=queue.id,
            name=queue.name,
            position=cfg.position,
            channels=tuple(cfg.channels),
            keywords=tuple(cfg.keywords),
            languages=tuple(cfg.languages),
            tiers=tuple(cfg.tiers),
            is_default=cfg.is_default,
            required_skills=tuple(cfg.required_skills),
            required_language=cfg.required_language,
            offer_channels=tuple(cfg.offer_channels),
            offer_timeout_s=cfg.offer_timeout_s,
            overflow_queue_id=cfg.overflow_queue_id,
            overflow_after_s=cfg.overflow_after_s,
        )
    return out


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


async def open_tickets(session: AsyncSession) -> list[TicketFacts]:
    """Every open ticket in a queue or with an assignee: the source of a rebuild."""
    rows = await session.execute(
        select(Ticket).where(
            Ticket.status.in_(OPEN_STATUSES),
            (Ticket.queue_id.is_not(None)) | (Ticket.assignee_id.is_not(None)),
        )
    )
    return [_facts(t) for t in rows.scalars()]


async def previous_agent(
    session: AsyncSession, customer_id: int, ticket_id: int, now: datetime, days: int
) -> int | None:
    """The agent of the customer's most recent other ticket within ``days`` (sticky)."""
    return (
        await session.execute(
            select(Ticket.assignee_id)
            .where(
                Ticket.customer_id == customer_id,
                Ticket.id != ticket_id,
                Ticket.assignee_id.is_not(None),
                Ticket.updated_at >= now - timedelta(days=days),
            )
            .order_by(Ticket.updated_at.desc())
            .limit(1)
        )
    ).scalar()


async def customer_tier(session: AsyncSession, customer_id: int) -> str:
    return (
        await session.execute(select(Customer.tier).where(Customer.id == customer_id))
    ).scalar() or "standard"


async def save_presence(session: AsyncSession, agent_id: int, presence: str, now: datetime) -> None:
    profile = await session.get(AgentProfile, agent_id)
    if profile is None:
        session.add(
            AgentProfile(
                user_id=agent_id, presence=presence, presence_changed_at=now, skills={}, capacity={}
            )
        )
    else:
        profile.presence = presence
        profile.presence_changed_at = now
