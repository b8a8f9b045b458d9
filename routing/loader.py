"""What the routing engine reads from the database: agents (staff who are members of a
queue, with routing's own profile: skills, capacity, presence) and each queue's routing
settings. Staff, queues and tickets come through the public surface of ``tickets``; only
routing's own tables are read here directly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from routing.models import DEFAULT_CAPACITY, OFFER_CHANNELS, AgentProfile, QueueRouting
from routing.state import AgentInfo
from tickets import all_queues, queue_members


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


async def load_agents(session: AsyncSession) -> tuple[list[AgentInfo], dict[int, str]]:
    """Active staff who are members of at least one queue, and their stored presence. A
    user without a profile gets the default capacity and no skills (a user added with no
    options takes work at once)."""
    members = await queue_members(session)
    profiles = {p.user_id: p for p in (await session.execute(select(AgentProfile))).scalars()}
    infos, presence = [], {}
    for member in members:
        profile = profiles.get(member.id)
        capacity = dict(DEFAULT_CAPACITY)
        if profile is not None:
            capacity.update({k: int(v) for k, v in profile.capacity.items()})
        infos.append(
            AgentInfo(
                id=member.id,
                email=member.email,
                queues=member.queue_ids,
                skills={k: int(v) for k, v in (profile.skills if profile else {}).items()},
                languages=frozenset(member.languages),
                capacity=capacity,
                keep_email_on_offline=profile.keep_email_on_offline if profile else True,
            )
        )
        presence[member.id] = profile.presence if profile else "offline"
    return infos, presence


async def load_queues(session: AsyncSession) -> dict[int, QueueConfig]:
    """Every queue, with its routing row where it has one."""
    rows = {r.queue_id: r for r in (await session.execute(select(QueueRouting))).scalars()}
    out = {}
    for queue in await all_queues(session):
        cfg = rows.get(queue.id)
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


async def stored_presence(session: AsyncSession) -> dict[int, str]:
    """Presence as the database has it (the record the reconcile compares with)."""
    rows = await session.execute(select(AgentProfile.user_id, AgentProfile.presence))
    return {user_id: presence for user_id, presence in rows.all()}


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
