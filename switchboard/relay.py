"""The relay: publishes events of the event outbox that nobody published yet.

Normally the process that commits a change publishes its events itself, right after the
commit (``tickets.Desk``). The relay is the safety net for when that did not happen: the
bus was down, the publish timed out, or the process died between commit and publish. It
wakes every ``poll_s``, takes rows older than ``grace_s`` (younger ones are still being
published by their writer), publishes them in order and marks them relayed, all in one
transaction: if the publish fails, nothing is marked and the next pass tries again.
On start it runs at once, so what a killed process left behind goes out first. Once an
hour it deletes events relayed more than ``keep_s`` ago (a week), so the table stays small.

On PostgreSQL a transaction-level advisory lock lets one relay at a time work, so events
leave in the order they were written even with many worker processes. Rows written for
one consumer group (a dead letter handed back) go to that group only.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from itertools import groupby

from sqlalchemy import text

from switchboard.bus import EventBus
from switchboard.waker import Waker
from tickets import Desk, mark_events_relayed, pending_events, prune_events

log = logging.getLogger(__name__)
ADVISORY_KEY = 0x5B_0E7E  # "switchboard event relay"


class EventRelay:
    def __init__(
        self,
        desk: Desk,
        bus: EventBus,
        *,
        poll_s: float = 1.0,
        grace_s: float = 2.0,
        batch: int = 500,
        keep_s: float = 7 * 24 * 3600,
        prune_every_s: float = 3600,
    ) -> None:
        self.desk = desk
        self.bus = bus
        self.poll_s = poll_s
        self.grace_s = grace_s
        self.batch = batch
        self.keep_s = keep_s
        self.prune_every_s = prune_every_s
        self._pruned_at: float | None = None
        self.waker = Waker()

    def wake(self) -> None:
        self.waker.wake()

    def stop(self) -> None:
        self.waker.stop()

    async def run(self) -> None:
        self.waker.start()
        while self.waker.running:
            try:
                await self._maybe_prune()
                relayed = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("event relay pass failed (%s: %s); retrying", type(err).__name__, err)
                relayed = 0
            if relayed >= self.batch:
                continue
            await self.waker.nap(self.poll_s)

    async def _maybe_prune(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._pruned_at is not None and now - self._pruned_at < self.prune_every_s:
            return
        self._pruned_at = now
        removed = await self.prune()
        if removed:
            log.info("pruned %d relayed event(s) older than %.0f s", removed, self.keep_s)

    async def prune(self) -> int:
        async with self.desk.sessions() as session, session.begin():
            before = self.desk.clock() - timedelta(seconds=self.keep_s)
            return await prune_events(session, before)

    async def relay_once(self, *, grace_s: float | None = None) -> int:
        """One pass; returns how many events it published."""
        grace = self.grace_s if grace_s is None else grace_s
        async with self.desk.sessions() as session, session.begin():
            if (await session.connection()).dialect.name == "postgresql":
                got = (
                    await session.execute(
                        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ADVISORY_KEY}
                    )
                ).scalar()
                if not got:
                    return 0
            now = self.desk.clock()
            rows = await pending_events(session, now - timedelta(seconds=grace), self.batch)
            if not rows:
                return 0
            for group, part in groupby(rows, key=lambda r: r.group):
                await self.bus.relay([r.wire() for r in part], group)
            await mark_events_relayed(session, [r.row_id for r in rows], now)
        log.info("relayed %d event(s) that were not published at commit", len(rows))
        return len(rows)
