"""The front desk other rooms use to work with tickets: it owns the unit of work (one
transaction per call), publishes the events only after commit, and retries an ingest
that lost a uniqueness race once (the retry finds the twin and is a no-op). On
PostgreSQL, ingest runs on the prepared-statement fast path (``ingest_pg``). On
PostgreSQL, ingest runs on the prepared-statement fast path (``ingest_pg``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tickets.contracts import InboundMessage
from tickets.events import Event, EventPublisher
from tickets.ingest.pg import PgFastPath
from tickets.ingest.policy import IngestResult, QueueChooser, ingest, ingest_with
from tickets.ingest.store import IngestRace
from tickets.pool import fair_turn, unavailable_when_pool_is_exhausted

T = TypeVar("T")
log = logging.getLogger(__name__)

Work = Callable[[AsyncSession, datetime], Awaitable[tuple[T, tuple[Event, ...] | list[Event]]]]


class Desk:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publisher: EventPublisher,
        clock: Callable[[], datetime],
        choose_queue: QueueChooser | None = None,
        *,
        fast_path: bool = True,
    ) -> None:
        engine = sessions.kw.get("bind")
        # SQLite has one writer and every transaction takes the write lock up front
        # (BEGIN IMMEDIATE): queueing this process's transactions on a fair asyncio lock
        # beats SQLite's sleeping busy handler by an order of magnitude under load.
        is_sqlite = isinstance(engine, AsyncEngine) and engine.dialect.name == "sqlite"
        self._serial = asyncio.Lock() if is_sqlite else None
        self.fast: PgFastPath | None = None
        if fast_path and isinstance(engine, AsyncEngine) and engine.dialect.name == "postgresql":
            self.fast = PgFastPath(engine)  # borrows from the engine's pool: one per process
        self.sessions = sessions
        self.publisher = publisher
        self.clock = clock
        self.choose_queue = choose_queue

    async def write(self, work: Work[T]) -> T:
        """Runs ``work`` in one transaction; publishes its events after the commit."""
        async with self._turn(), self.sessions() as session, session.begin():
            result, events = await work(session, self.clock())
        if events:
            await self.publisher.publish(list(events))
        return result

    async def broadcast(self, events: Sequence[Event]) -> None:
        """Events that may be missed (typing, socket frames): straight to the bus."""
        await self.publisher.broadcast(events)

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self._turn(), self.sessions() as session:
            return await work(session)

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """Around every session: this process's turn on SQLite, ``Unavailable`` when the
        connection pool stays exhausted past its bounded wait, and a fair turn after."""
        try:
            async with unavailable_when_pool_is_exhausted():
                if self._serial is None:
                    yield
                    return
                async with self._serial:
                    yield
        finally:
            await fair_turn()

    async def ingest(self, msg: InboundMessage) -> IngestResult:
        try:
            return await self._ingest_once(msg)
        except (IntegrityError, IngestRace):
            log.info("ingest of %s/%s raced a twin; retrying", msg.channel, msg.external_id)
            return await self._ingest_once(msg)

    async def _ingest_once(self, msg: InboundMessage) -> IngestResult:
        if self.fast is not None:
            async with self.fast.transaction() as store:
                result = await ingest_with(
                    store, msg, now=self.clock(), choose_queue=self.choose_queue
                )
            if result.events:
                await self.publisher.publish(list(result.events))
            return result

        async def run(
            session: AsyncSession, now: datetime
        ) -> tuple[IngestResult, tuple[Event, ...]]:
            result = await ingest(session, msg, now=now, choose_queue=self.choose_queue)
            return result, result.events

        return await self.write(run)

    async def close(self) -> None:
        if self.fast is not None:
            await self.fast.close()
