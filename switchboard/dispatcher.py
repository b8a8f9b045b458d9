"""The outbox dispatcher: sends queued outbound messages through their channel's sender,
with exponential backoff on temporary failures and a dead-letter state (``failed`` on the
message, with the reason) when retrying cannot help or attempts run out.

It wakes at once on ``OutboxQueued`` (any process, through the bus) and otherwise polls,
so a reply made while the bus was down is still sent.

Sending once: each pass leases at most ``concurrency`` entries under a fresh lease token
and sends them all at once; every provider call of the pass must end by a deadline taken
before the lease, ``policy.call_timeout_s`` later, which is shorter than the lease. A call
that runs past it is cancelled and counts as a temporary failure: the retry carries the
same idempotency key, so a provider that accepts one drops the twin if the first call did
get through. The outcome is recorded under the lease token, and a stale holder's result
is discarded (``tickets.mark_sent``). A pass whose lease took so long to write that the
deadline has already passed sends nothing and leaves the entries to the lease's expiry."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from channels.base import PermanentFailure, SenderRegistry, TemporaryFailure
from switchboard.metrics import Metrics
from switchboard.waker import Waker
from tickets import Desk, Event, OutboundMessage, OutboxQueued, RetryPolicy

log = logging.getLogger(__name__)


class OutboxDispatcher:
    def __init__(
        self,
        desk: Desk,
        senders: SenderRegistry,
        policy: RetryPolicy,
        *,
        metrics: Metrics | None = None,
        poll_s: float = 2.0,
        concurrency: int = 16,
    ) -> None:
        self.desk = desk
        self.senders = senders
        self.policy = policy
        self.metrics = metrics
        self.poll_s = poll_s
        self.batch = concurrency
        self.waker = Waker()

    async def on_event(self, event: Event) -> None:
        if isinstance(event, OutboxQueued):
            self.waker.wake()

    def stop(self) -> None:
        self.waker.stop()

    async def run(self) -> None:
        self.waker.start()
        while self.waker.running:
            try:
                sent = await self.run_once()
            except asyncio.CancelledError:
                raise
            except tickets.Unavailable as err:
                log.warning("outbox pass skipped: %s", err)
                sent = 0
            except Exception:
                log.exception("outbox pass failed; retrying")
                sent = 0
            if sent:
                continue
            await self.waker.nap(self.poll_s)

    async def run_once(self) -> int:
        """Leases and sends what is due now; returns how many were attempted."""
        owner = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        # Taken before the lease is written, so the deadline falls before the lease ends.
        deadline = loop.time() + self.policy.call_timeout_s

        async def lease(
            session: AsyncSession, now: datetime
        ) -> tuple[list[OutboundMessage], list[Event]]:
            return await tickets.lease_due(session, now, self.policy, self.batch, owner=owner), []

        due = await self.desk.write(lease)
        if due and loop.time() >= deadline:
            log.warning(
                "leasing %d outbox entries took longer than the send timeout; "
                "leaving them to the lease's expiry",
                len(due),
            )
            return 0
        lease_end = deadline - self.policy.call_timeout_s + self.policy.lease_s
        await asyncio.gather(*(self._send(m, owner, deadline, lease_end) for m in due))
        return len(due)

    async def _send(
        self, message: OutboundMessage, owner: str, deadline: float, lease_end: float
    ) -> None:
        sender = self.senders.get(message.channel)
        error: str | None = None
        permanent = False
        retry_after: float | None = None
        result = None
        if message.unreachable is not None:
            error, permanent = f"the customer cannot be reached: {message.unreachable}", True
        elif sender is None:
            error, permanent = f"the {message.channel.value} channel is not configured", True
        else:
            try:
                async with asyncio.timeout_at(deadline):
                    result = await sender.send(message)
            except PermanentFailure as err:
                error, permanent = str(err) or "rejected", True
            except TemporaryFailure as err:
                error, retry_after = str(err) or "temporary failure", err.retry_after
            except TimeoutError:
                error = (
                    f"the {message.channel.value} provider did not answer within "
                    f"{self.policy.call_timeout_s:g} s"
                )
            except Exception as err:
                log.exception(
                    "sender for %s crashed on message %s", message.channel, message.message_id
                )
                error = f"{type(err).__name__}: {err}"
        if self.metrics:
            outcome = "sent" if error is None else ("failed" if permanent else "retry")
            self.metrics.outbox.labels(message.channel.value, outcome).inc()

        async def record(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            if error is None and result is not None:
                return None, await tickets.mark_sent(
                    session, message.message_id, result.external_id, result.status, owner=owner
                )
            log.warning(
                "sending message %s on %s failed: %s",
                message.message_id,
                message.channel.value,
                error,
            )
            return None, await tickets.mark_failed(
                session,
                message.message_id,
                error or "unknown",
                now,
                self.policy,
                owner=owner,
                permanent=permanent,
                retry_after=retry_after,
            )

        # A result that cannot be recorded is sent again when the lease runs out, so a busy
        # pool is waited out while the lease still holds.
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.desk.write(record)
                return
            except tickets.Unavailable as err:
                if loop.time() + err.retry_after >= lease_end:
                    raise
                await asyncio.sleep(err.retry_after)
