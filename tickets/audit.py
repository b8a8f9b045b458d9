"""The audit trail: every visible change writes one row inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.contracts import Actor
from tickets.models import AuditEntry


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    at: datetime,
    ticket_id: int | None = None,
    **data: Any,
) -> None:
    await session.execute(
        insert(AuditEntry).values(
            at=at,
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_label=actor.label,
            action=action,
            ticket_id=ticket_id,
            data=data,
        )
    )
