"""The front desk other rooms use to work with tickets: it owns the unit of work (one
transaction per call) and the promise that no event is lost.

A write's events are rows of the event outbox (``tickets.eventlog``) written in the same
transaction as the change, so a change and its events commit or vanish together. Right
after the commit the desk hands them to the bus itself (so routing and screens react at
once) and marks them relayed in small batches. When that publish fails or the process
dies first, the rows stay unrelayed and the relay (``switchboard.relay``) publishes them
later; a consumer may then see an event twice and recognises it by ``event_id``.

An ingest that lost a uniqueness race is retried once (the retry finds the twin and is a
no-op). Ingest runs on each database's fast path: prepared asyncpg statements on
PostgreSQL (``tickets.ingest.pg``), one trip to aiosqlite's thread per statement on
SQLite (``tickets.ingest.sqlite``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tickets import eventlog, locks
from tickets.contracts import InboundMessage
from tickets.events import Event, EventPublisher
from tickets.ingest.email import DEFAULT_SUBJECT_DAYS
from tickets.ingest.pg import PgFastPath
from tickets.ingest.policy import IngestResult, QueueChooser, ingest, ingest_with
from tickets.ingest.sqlite import SqliteFastPath
from tickets.ingest.store import IngestRace
from tickets.pool import fair_turn, unavailable_when_pool_is_exhausted

T = TypeVar("T")
log = logging.getLogger(__name__)

Work = Callable[[AsyncSession, datetime], Awaitable[tuple[T, tuple[Event, ...] | list[Event]]]]
Then = Callable[[AsyncSession, IngestResult, datetime], Awaitable[None]]
"""A change that belongs to an inbound message and commits with it (an SMS STOP and the
opt-out it means); it runs only when the message is new, not for a re-delivery."""
MARK_BATCH_DELAY_S = 0.05


class Desk:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publisher: EventPublisher,
        clock: Callable[[], datetime],
        choose_queue: QueueChooser | None = None,
        *,
        fast_path: bool = True,
        publish_timeout_s: float = 5.0,
    ) -> None:
        engine = sessions.kw.get("bind")
        # SQLite has one writer and every transaction takes the write lock up front
        # (BEGIN IMMEDIATE): queueing this process's transactions on a fair asyncio lock
        # beats SQLite's sleeping busy handler by an order of magnitude under load.
        is_sqlite = isinstance(engine, AsyncEngine) and engine.dialect.name == "sqlite"
        self._serial = asyncio.Lock() if is_sqlite else None
        self.fast: PgFastPath | SqliteFastPath | None = None
        if fast_path and isinstance(engine, AsyncEngine) and engine.dialect.name == "postgresql":
            self.fast = PgFastPath(engine)  # borrows from the engine's pool: one per process
        elif fast_path and self._serial is not None:
            assert isinstance(engine, AsyncEngine)
            self.fast = SqliteFastPath(engine, self._serial)  # takes the desk's turn itself
        self.sessions = sessions
        self.publisher = publisher
        self.clock = clock
        self.choose_queue = choose_queue
        self.subject_days = DEFAULT_SUBJECT_DAYS
        """Email's same-subject threading window in days (0: off); see ``ingest.email``."""
        self.publish_timeout_s = publish_timeout_s
        self._relayed: list[int] = []
        self._marker: asyncio.Task[None] | None = None

    @property
    def parallel_writes(self) -> bool:
        """Whether concurrent write transactions make progress together (PostgreSQL),
        rather than queueing for one writer (SQLite): batch intake runs several batches
        at once only where that helps."""
        return self._serial is None

    async def write(self, work: Work[T]) -> T:
        """Runs ``work`` in one transaction with its events; publishes them after commit."""
        async with self._turn(), self.sessions() as session, session.begin():
            now = self.clock()
            result, events = await work(session, now)
            stamped = await eventlog.record_events(session, events, now)
        await self._publish_committed(stamped)
        return result

    async def broadcast(self, events: Sequence[Event]) -> None:
        """Events that may be missed (typing, socket frames): straight to the bus."""
        await self.publisher.broadcast(events)

    def exclusive(
        self, name: str, timeout_s: float = 30.0
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """A lock on ``name`` across every process on this database (``tickets.locks``),
        for outside work that must not run twice at once; ``Unavailable`` after
        ``timeout_s`` of waiting."""
        engine = self.sessions.kw.get("bind")
        assert isinstance(engine, AsyncEngine), "the desk's sessions are bound to an engine"
        return locks.exclusive(engine, name, timeout_s)

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

    async def ingest(self, msg: InboundMessage, *, then: Then | None = None) -> IngestResult:
        """``then``: a change committed in the same transaction as a new message (the
        portable path; such messages are rare)."""
        try:
            return await self._ingest_once(msg, then)
        except (IntegrityError, IngestRace):
            log.info("ingest of %s/%s raced a twin; retrying", msg.channel, msg.external_id)
            return await self._ingest_once(msg, then)

    async def ingest_many(self, msgs: Sequence[InboundMessage]) -> list[IngestResult | Exception]:
        """Group commit: the messages in one transaction, for intake that arrives in
        batches (an IMAP fetch, a burst at the SMTP receiver), where a commit per message
        would cap throughput. When anything in the batch fails (a lost race, a deadlock,
        one bad message), the batch is rolled back and each message is ingested alone;
        the result list then holds that message's exception in its place."""
        if len(msgs) == 1:
            return [await self._ingest_alone(msgs[0])]
        try:
            results = await self._ingest_batch(msgs)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.info("batch of %d inbound messages fell back to one by one: %s", len(msgs), err)
            return [await self._ingest_alone(m) for m in msgs]
        await self._publish_committed([e for r in results for e in r.events])
        return list(results)

    async def _ingest_alone(self, msg: InboundMessage) -> IngestResult | Exception:
        try:
            return await self.ingest(msg)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            return err

    async def _ingest_batch(self, msgs: Sequence[InboundMessage]) -> list[IngestResult]:
        queue, days = self.choose_queue, self.subject_days
        if self.fast is not None:
            async with self.fast.transaction() as store:
                return [
                    await ingest_with(
                        store, m, now=self.clock(), choose_queue=queue, subject_days=days
                    )
                    for m in msgs
                ]
        async with self._turn(), self.sessions() as session, session.begin():
            return [
                await ingest(session, m, now=self.clock(), choose_queue=queue, subject_days=days)
                for m in msgs
            ]

    async def _ingest_once(self, msg: InboundMessage, then: Then | None = None) -> IngestResult:
        """Ingest writes its events into the event outbox itself (with the message, in
        one statement on PostgreSQL), so they are published here as they are."""
        if self.fast is not None and then is None:
            async with self.fast.transaction() as store:
                result = await ingest_with(
                    store,
                    msg,
                    now=self.clock(),
                    choose_queue=self.choose_queue,
                    subject_days=self.subject_days,
                )
        else:
            async with self._turn(), self.sessions() as session, session.begin():
                now = self.clock()
                result = await ingest(
                    session,
                    msg,
                    now=now,
                    choose_queue=self.choose_queue,
                    subject_days=self.subject_days,
                )
                if then is not None and not result.duplicate:
                    await then(session, result, now)
        await self._publish_committed(result.events)
        return result

    # -- after the commit -------------------------------------------------------------

    async def _publish_committed(self, events: Sequence[Event]) -> None:
        """Hands committed events to the bus. A failure is logged, never raised: the
        change is saved and its events wait in the outbox for the relay."""
        if not events:
            return
        try:
            async with asyncio.timeout(self.publish_timeout_s):
                await self.publisher.publish(events)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.warning(
                "publishing %d committed event(s) failed (%s: %s); the relay will retry",
                len(events),
                type(err).__name__,
                err,
            )
            return
        self._relayed.extend(_row_ids(events))
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._mark_relayed(), name="desk:mark-relayed")

    async def _mark_relayed(self) -> None:
        """Marks published events relayed, many per statement: it waits
        ``MARK_BATCH_DELAY_S`` before every batch, so under load a batch holds all the
        events published meanwhile and marking costs a few statements a second, not
        one per write. Losing a batch (a crash, a database error) only means the relay
        publishes those events once more."""
        while True:
            await asyncio.sleep(MARK_BATCH_DELAY_S)
            if not self._relayed:
                return
            ids, self._relayed = self._relayed, []
            try:
                if self.fast is not None:
                    await self.fast.mark_relayed(ids, self.clock())
                    continue
                async with self._turn(), self.sessions() as session, session.begin():
                    await eventlog.mark_relayed(session, ids, self.clock())
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("marking %d event(s) relayed failed: %s", len(ids), err)
                return

    async def flush(self) -> None:
        """Waits until published events are marked relayed (tests and shutdown)."""
        while self._marker is not None and not self._marker.done():
            await asyncio.shield(self._marker)

    async def close(self) -> None:
        await self.flush()  # the marker logs its own failures and never raises
        if self.fast is not None:
            await self.fast.close()


def _row_ids(events: Sequence[Event]) -> list[int]:
    return [
        int(e.event_id.removeprefix(eventlog.EVENT_ID_PREFIX))
        for e in events
        if e.event_id and e.event_id.startswith(eventlog.EVENT_ID_PREFIX)
    ]
