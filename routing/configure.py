"""Edits of routing's own configuration (a queue's rules, an agent's skills and capacity).

Each edit returns the ``RoutingConfigChanged`` event to commit with it: from a ``Desk``
transaction return it as the work's event; from code holding only a session (the CLI)
pass it to ``tickets.record_events``. Every process re-reads its configuration when it
sees the event, so an edit takes effect without a restart.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from routing.events import RoutingConfigChanged
from routing.models import AgentProfile, QueueRouting

QUEUE_FIELDS = frozenset(
    {
        "position",
        "channels",
        "keywords",
        "languages",
        "tiers",
        "is_default",
        "required_skills",
        "required_language",
        "offer_channels",
        "offer_timeout_s",
        "overflow_queue_id",
        "overflow_after_s",
    }
)
AGENT_FIELDS = frozenset({"skills", "capacity", "keep_email_on_offline"})


async def configure_queue(
    session: AsyncSession, queue_id: int, **fields: Any
) -> RoutingConfigChanged:
    """Creates or updates the queue's routing row. Marking a queue the default unmarks
    the others (one default queue)."""
    unknown = set(fields) - QUEUE_FIELDS
    if unknown:
        raise ValueError(f"unknown queue routing fields: {', '.join(sorted(unknown))}")
    if fields.get("is_default"):
        await session.execute(
            update(QueueRouting).where(QueueRouting.queue_id != queue_id).values(is_default=False)
        )
    row = await session.get(QueueRouting, queue_id)
    if row is None:
        session.add(QueueRouting(queue_id=queue_id, **fields))
    else:
        for name, value in fields.items():
            setattr(row, name, value)
    await session.flush()
    return RoutingConfigChanged(queue_id=queue_id, what="queue")


async def configure_agent(
    session: AsyncSession, user_id: int, **fields: Any
) -> RoutingConfigChanged:
    """Creates or updates the agent's routing profile (skills, capacity per channel)."""
    unknown = set(fields) - AGENT_FIELDS
    if unknown:
        raise ValueError(f"unknown agent profile fields: {', '.join(sorted(unknown))}")
    row = await session.get(AgentProfile, user_id)
    if row is None:
        session.add(
            AgentProfile(
                user_id=user_id,
                skills=fields.get("skills", {}),
                capacity=fields.get("capacity", {}),
                presence="offline",
                keep_email_on_offline=fields.get("keep_email_on_offline", True),
            )
        )
    else:
        for name, value in fields.items():
            setattr(row, name, value)
    await session.flush()
    return RoutingConfigChanged(user_id=user_id, what="agent")
