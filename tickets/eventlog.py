"""The transactional event outbox: domain events are rows written in the same
transaction as the change they describe, so a change and its events commit or vanish
together. A relay (``switchboard.relay``) reads rows not yet relayed, hands them to the
bus as durable work and marks them relayed; a process killed between commit and relay
loses nothing, because the next relay to start picks the rows up.

Every relayed event carries ``event_id`` (``ev-<row id>``), so a consumer that sees an
event twice (the relay died after publishing, before marking) can tell.
"""

from __future__ import annotations

import copy
import dataclasses
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.types import JSON, TypeEngine

from tickets.events import Event
from tickets.models import DeadEvent, EventRecord, UTCDateTime

EVENT_ID_PREFIX = "ev-"


async def record_events(
    session: AsyncSession | AsyncConnection, events: Sequence[Event], now: datetime
) -> list[Event]:
    """Adds ``events`` to the event outbox inside the caller's transaction; returns them
    stamped with their ``event_id``."""
    if not events:
        return []
    conn = await session.connection() if isinstance(session, AsyncSession) else session
    if conn.dialect.name == "sqlite":
        # Straight on the aiosqlite connection (the same one, so the same transaction):
        # one trip to its thread per event, where SQLAlchemy's adapter makes three.
        raw = await conn.get_raw_connection()
        return await record_on_sqlite(raw.driver_connection, events, now, sqlite_values(conn))
    rows = [{"type": e.type_name, "payload": payload_of(e), "created_at": now} for e in events]
    if len(rows) == 1:
        result = await conn.execute(_INSERT_ONE, rows[0])
        key = result.inserted_primary_key
        assert key is not None
        return stamp(events, [int(key[0])])
    ids = (await session.execute(_INSERT_MANY, rows)).scalars().all()
    return stamp(events, ids)


_INSERT_ONE = insert(EventRecord)
_INSERT_MANY = insert(EventRecord).returning(EventRecord.id, sort_by_parameter_order=True)
_INSERT_SQLITE = "INSERT INTO event_outbox (type, payload, created_at) VALUES (?, ?, ?)"


class SqliteValues:
    """Python values as SQLAlchemy writes them on SQLite (the columns' own types' bind
    processors: UTC timestamps and JSON as text), for statements sent straight to the
    aiosqlite connection."""

    def __init__(self, dialect: Dialect) -> None:
        self.time: Callable[[datetime | None], Any] = _processor(UTCDateTime(), dialect)
        self.json: Callable[[Any], Any] = _processor(JSON(), dialect)


def _processor(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any]:
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else (lambda value: value)


_SQLITE_VALUES: weakref.WeakKeyDictionary[Dialect, SqliteValues] = weakref.WeakKeyDictionary()


def sqlite_values(conn: AsyncConnection | AsyncEngine) -> SqliteValues:
    found = _SQLITE_VALUES.get(conn.dialect)
    if found is None:
        found = _SQLITE_VALUES[conn.dialect] = SqliteValues(conn.dialect)
    return found


async def record_on_sqlite(
    driver: Any, events: Sequence[Event], now: datetime, values: SqliteValues
) -> list[Event]:
    """``record_events`` on an aiosqlite connection inside its open transaction."""
    at = values.time(now)
    ids = []
    for event in events:
        row = await driver.execute_insert(
            _INSERT_SQLITE, (event.type_name, values.json(payload_of(event)), at)
        )
        ids.append(int(row[0]))
    return stamp(events, ids)


def stamp(events: Sequence[Event], row_ids: Sequence[int]) -> list[Event]:
    return [
        dataclasses.replace(e, event_id=event_id_of(i))
        for e, i in zip(events, row_ids, strict=True)
    ]


async def record_for_group(
    session: AsyncSession, group: str, payload: dict[str, Any], now: datetime
) -> int:
    """Queues one event for one consumer group only (a dead letter handed back)."""
    clean = {k: v for k, v in payload.items() if k != "event_id"}
    return int(
        (
            await session.execute(
                insert(EventRecord)
                .values(
                    type=str(clean.get("type", "")),
                    payload=clean,
                    consumer_group=group,
                    created_at=now,
                )
                .returning(EventRecord.id)
            )
        ).scalar_one()
    )


def payload_of(event: Event) -> dict[str, Any]:
    """The event as stored: ``Event.to_dict`` without ``event_id``. Built from the field
    names directly, because ``dataclasses.asdict`` recurses and deep-copies every value
    and this runs for every event of every ingest; only a container value is copied."""
    data = {name: _copied(getattr(event, name)) for name in _stored_fields(type(event))}
    data["type"] = event.type_name
    return data


_FIELDS: dict[type[Event], tuple[str, ...]] = {}


def _stored_fields(cls: type[Event]) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(
            f.name for f in dataclasses.fields(cls) if f.name != "event_id"
        )
    return names


def _copied(value: Any) -> Any:
    if isinstance(value, dict | list | tuple):
        return copy.deepcopy(value)
    return value


def event_id_of(row_id: int) -> str:
    return f"{EVENT_ID_PREFIX}{row_id}"


@dataclasses.dataclass(frozen=True, slots=True)
class Pending:
    row_id: int
    payload: dict[str, Any]
    group: str | None

    @property
    def event_id(self) -> str:
        return event_id_of(self.row_id)

    def wire(self) -> dict[str, Any]:
        """The event as the bus carries it (type, fields, ``event_id``); the relay never
        needs to understand an event to pass it on, so a type written by a newer process
        during a rolling upgrade still reaches the consumers that know it."""
        return {**self.payload, "event_id": self.event_id}


async def pending(
    session: AsyncSession, older_than: datetime | None = None, limit: int = 500
) -> list[Pending]:
    """The oldest events not yet relayed, locked so two relays never take the same rows
    (``SKIP LOCKED`` on PostgreSQL; SQLite has one writer anyway). ``older_than`` leaves
    the newest rows to the process that wrote them, which publishes right after commit."""
    query = (
        select(EventRecord.id, EventRecord.payload, EventRecord.consumer_group)
        .where(EventRecord.relayed_at.is_(None))
        .order_by(EventRecord.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if older_than is not None:
        query = query.where(EventRecord.created_at <= older_than)
    rows = (await session.execute(query)).all()
    return [Pending(r.id, dict(r.payload), r.consumer_group) for r in rows]


async def mark_relayed(session: AsyncSession, row_ids: Sequence[int], now: datetime) -> None:
    if row_ids:
        await session.execute(
            update(EventRecord).where(EventRecord.id.in_(list(row_ids))).values(relayed_at=now)
        )


async def prune(session: AsyncSession, relayed_before: datetime) -> int:
    """Deletes events relayed before ``relayed_before``; unrelayed ones always stay."""
    result = await session.execute(
        delete(EventRecord).where(
            EventRecord.relayed_at.is_not(None), EventRecord.relayed_at < relayed_before
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def backlog(session: AsyncSession) -> int:
    """How many events wait for the relay (for health and metrics)."""
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


async def bury_event(
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


async def retry_dead_letter(
    session: AsyncSession, dead_id: int, now: datetime
) -> DeadLetter | None:
    """Hands a dead letter back to its consumer group through the event outbox (the
    relay delivers it to that group alone) and marks it retried; None when it is unknown
    or was retried already."""
    row = (
        await session.execute(select(DeadEvent).where(DeadEvent.id == dead_id).with_for_update())
    ).scalar_one_or_none()
    if row is None or row.retried_at is not None:
        return None
    row.retried_at = now
    await record_for_group(session, row.consumer_group, dict(row.payload), now)
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
