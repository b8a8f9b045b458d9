"""The transactional event outbox: domain events are rows written in the same
transaction as the change they describe, so a change and its events commit or vanish
together. A relay (``switchboard.relay``) reads rows not yet relayed, hands them to the
bus as durable work and marks them relayed; a process killed between commit and relay
loses nothing, because the next relay to start picks the rows up.

Every relayed event carries ``event_id`` (``ev-<row id>``), so a consumer that sees an
event twice (the relay died after publishing, before marking) can tell.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.events import Event, event_from_dict
from tickets.models import DeadEvent, EventRecord

EVENT_ID_PREFIX = "ev-"


async def record_events(session: AsyncSession, events: Sequence[Event], now: datetime) -> None:
    """Adds ``events`` to the event outbox inside the caller's transaction."""
    if not events:
        return
    await session.execute(
        insert(EventRecord),
        [
            {"type": e.type_name, "payload": _payload(e), "created_at": now, "relayed_at": None}
            for e in events
        ],
    )


def _payload(event: Event) -> dict[str, Any]:
    data = event.to_dict()
    data.pop("event_id", None)
    return data


def event_id_of(row_id: int) -> str:
    return f"{EVENT_ID_PREFIX}{row_id}"


@dataclasses.dataclass(frozen=True, slots=True)
class Pending:
    row_id: int
    type: str
    payload: dict[str, Any]

    def event(self) -> Event:
        """The event with its id; raises ``ValueError`` for a type this process does not
        know (a newer process wrote it during a rolling upgrade)."""
        return dataclasses.replace(event_from_dict(self.payload), event_id=event_id_of(self.row_id))


async def pending(session: AsyncSession, limit: int = 500) -> list[Pending]:
    """The oldest events not yet relayed, locked so two relays never take the same rows
    (``SKIP LOCKED`` on PostgreSQL; SQLite has one writer anyway)."""
    rows = (
        await session.execute(
            select(EventRecord.id, EventRecord.type, EventRecord.payload)
            .where(EventRecord.relayed_at.is_(None))
            .order_by(EventRecord.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    return [Pending(r.id, r.type, dict(r.payload)) for r in rows]


async def mark_relayed(session: AsyncSession, row_ids: Sequence[int], now: datetime) -> None:
    if row_ids:
        await session.execute(
            update(EventRecord).where(EventRecord.id.in_(list(row_ids))).values(relayed_at=now)
        )


async def backlog(session: AsyncSession) -> int:
    """How many events wait for the relay (for health and metrics)."""
    from sqlalchemy import func

    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(EventRecord)
                .where(EventRecord.relayed_at.is_(None))
            )
        ).scalar_one()
    )


# -- dead letters ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    consumer_group: str
    event_id: str
    type: str
    payload: dict[str, Any]
    error: str
    attempts: int
    created_at: datetime
    retried_at: datetime | None


async def bury(
    session: AsyncSession,
    group: str,
    event_id: str,
    payload: dict[str, Any],
    error: str,
    attempts: int,
    now: datetime,
) -> int:
    """Records that ``group`` gave up on an event after ``attempts`` tries."""
    return int(
        (
            await session.execute(
                insert(DeadEvent)
                .values(
                    consumer_group=group,
                    event_id=event_id,
                    type=str(payload.get("type", "")),
                    payload=payload,
                    error=error[:4000],
                    attempts=attempts,
                    created_at=now,
                )
                .returning(DeadEvent.id)
            )
        ).scalar_one()
    )


async def dead_letters(session: AsyncSession, *, include_retried: bool = False) -> list[DeadLetter]:
    query = select(DeadEvent).order_by(DeadEvent.id)
    if not include_retried:
        query = query.where(DeadEvent.retried_at.is_(None))
    return [
        DeadLetter(
            d.id,
            d.consumer_group,
            d.event_id,
            d.type,
            dict(d.payload),
            d.error,
            d.attempts,
            d.created_at,
            d.retried_at,
        )
        for d in (await session.execute(query)).scalars()
    ]


async def take_for_retry(session: AsyncSession, dead_id: int, now: datetime) -> DeadLetter | None:
    """Marks a dead letter retried and returns it (None when unknown or already retried);
    the caller hands it back to its consumer group."""
    row = (
        await session.execute(select(DeadEvent).where(DeadEvent.id == dead_id).with_for_update())
    ).scalar_one_or_none()
    if row is None or row.retried_at is not None:
        return None
    row.retried_at = now
    return DeadLetter(
        row.id,
        row.consumer_group,
        row.event_id,
        row.type,
        dict(row.payload),
        row.error,
        row.attempts,
        row.created_at,
        now,
    )
