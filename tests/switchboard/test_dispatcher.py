"""The outbox dispatcher: retries with backoff, dead-letters what cannot be sent, never
drops a message silently, and sends each reply once even when two dispatchers share the
outbox and a provider answers slowly (the lease, the call timeout and the fencing)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.base import PermanentFailure, SenderRegistry, SendResult, TemporaryFailure
from routing.loader import QueueConfig
from routing.rules import QueueRules
from switchboard import db
from switchboard.clock import utc_now
from switchboard.dispatcher import OutboxDispatcher
from tests.helpers import Clock, RecordingPublisher, eventually, inbound, seed_with_tokens
from tickets import services, staff
from tickets.contracts import Channel, DeliveryStatus, OutboundMessage
from tickets.desk import Desk
from tickets.events import DeliveryStatusChanged, Event
from tickets.models import Message, OutboxEntry
from tickets.outbox import RetryPolicy


class ScriptedSender:
    channel = Channel.SMS

    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return SendResult(external_id=f"SM{len(self.sent)}")


# The demo's Repairs queue (id 1) as the default, so the demo agents see the tickets.
REPAIRS = QueueRules([QueueConfig(1, "Repairs", is_default=True)])


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Desk]:
    await seed_with_tokens(database_url)
    engine = db.create_engine(database_url)
    desk = Desk(
        db.session_factory(engine),
        RecordingPublisher(),
        Clock(),
        choose_queue=REPAIRS,
    )
    yield desk
    await desk.close()
    await engine.dispose()


async def queue_reply(desk: Desk) -> int:
    ticket = await desk.ingest(inbound("+8613800138000", "空调坏了"))

    async def work(session: AsyncSession, now: datetime) -> tuple[int, tuple[Event, ...]]:
        agent = await staff.load_staff(
            session, await staff.user_id_by_email(session, "agent1@example.com")
        )
        assert agent is not None
        written = await services.reply(session, agent, ticket.number, "明天上门", now)
        assert written.message_id is not None
        return written.message_id, written.events

    return await desk.write(work)


async def state(desk: Desk, message_id: int) -> tuple[str | None, str | None, str, int]:
    async def read(session: AsyncSession) -> Any:
        msg = await session.get(Message, message_id)
        entry = (
            await session.execute(select(OutboxEntry).where(OutboxEntry.message_id == message_id))
        ).scalar_one()
        assert msg is not None
        return msg.delivery_status, msg.delivery_error, entry.state, entry.attempts

    return await desk.read(read)


def dispatcher(
    desk: Desk, sender: Any, max_attempts: int = 4, policy: RetryPolicy | None = None
) -> OutboxDispatcher:
    registry = SenderRegistry()
    registry.register(sender)
    return OutboxDispatcher(
        desk,
        registry,
        policy or RetryPolicy(base_s=10, cap_s=100, max_attempts=max_attempts),
        poll_s=0.02,
    )


async def test_temporary_failures_back_off_then_send(desk: Desk) -> None:
    clock = desk.clock
    assert isinstance(clock, Clock)
    message_id = await queue_reply(desk)
    sender = ScriptedSender(TemporaryFailure("503"), TemporaryFailure("timeout"))
    d = dispatcher(desk, sender)
    assert await d.run_once() == 1
    assert await state(desk, message_id) == ("queued", None, "pending", 1)
    assert await d.run_once() == 0  # not due yet: backing off
    clock.advance(10)
    assert await d.run_once() == 1
    clock.advance(12)
    assert await d.run_once() == 0  # second delay doubled (16-20 s)
    clock.advance(10)
    assert await d.run_once() == 1
    assert await state(desk, message_id) == ("sent", None, "done", 3)
    assert sender.sent[0].recipient == "+8613800138000" and sender.sent[0].text == "明天上门"
    clock.advance(1000)
    assert await d.run_once() == 0


async def test_permanent_failure_is_dead_lettered_at_once(desk: Desk) -> None:
    message_id = await queue_reply(desk)
    d = dispatcher(desk, ScriptedSender(PermanentFailure("number blocked the sender")))
    await d.run_once()
    assert await state(desk, message_id) == ("failed", "number blocked the sender", "dead", 1)
    publisher = desk.publisher
    assert isinstance(publisher, RecordingPublisher)
    assert [e.status for e in publisher.of(DeliveryStatusChanged)] == [DeliveryStatus.FAILED.value]


async def test_attempts_run_out_into_the_dead_letter_state(desk: Desk) -> None:
    clock = desk.clock
    assert isinstance(clock, Clock)
    message_id = await queue_reply(desk)
    d = dispatcher(desk, ScriptedSender(*[TemporaryFailure("down")] * 5), max_attempts=3)
    for _ in range(3):
        await d.run_once()
        clock.advance(1000)
    assert await state(desk, message_id) == ("failed", "down", "dead", 3)


async def test_a_crashing_sender_is_retried_not_lost(desk: Desk) -> None:
    message_id = await queue_reply(desk)
    d = dispatcher(desk, ScriptedSender(ValueError("bug in adapter")))
    await d.run_once()
    status, _err, entry_state, attempts = await state(desk, message_id)
    assert (status, entry_state, attempts) == ("queued", "pending", 1)


async def external_id(desk: Desk, message_id: int) -> str | None:
    async def read(session: AsyncSession) -> str | None:
        msg = await session.get(Message, message_id)
        assert msg is not None
        return msg.external_id

    return await desk.read(read)


class GatedSender:
    """The first call waits for the test to open the gate (a paused process)."""

    channel = Channel.SMS

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        if len(self.sent) == 1:
            await self.gate.wait()
            return SendResult(external_id="SM-stale")
        return SendResult(external_id="SM-fresh")


async def test_lease_expiry_hands_the_entry_to_the_other_dispatcher_and_fences_the_stale_one(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    clock = desk.clock
    assert isinstance(clock, Clock)
    message_id = await queue_reply(desk)
    sender = GatedSender()
    first, second = dispatcher(desk, sender), dispatcher(desk, sender)
    stalled = asyncio.create_task(first.run_once())
    await eventually(lambda: _true(len(sender.sent) == 1))
    clock.advance(first.policy.lease_s + 1)  # the first holder's lease runs out
    assert await second.run_once() == 1
    assert await state(desk, message_id) == ("sent", None, "done", 1)
    sender.gate.set()
    with caplog.at_level(logging.WARNING, logger="tickets.outbox"):
        await stalled
    assert await state(desk, message_id) == ("sent", None, "done", 1)
    assert await external_id(desk, message_id) == "SM-fresh"
    assert [m.idempotency_key for m in sender.sent] == [sender.sent[0].idempotency_key] * 2
    assert any("discarding the sent result" in r.message for r in caplog.records)


async def _true(value: bool) -> bool:
    return value


class SilentSender:
    """A provider that accepts the connection and never answers."""

    channel = Channel.SMS

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_provider_that_never_answers_is_cut_off_and_retried_later(desk: Desk) -> None:
    message_id = await queue_reply(desk)
    sender = SilentSender()
    d = dispatcher(desk, sender, policy=RetryPolicy(base_s=10, lease_s=0.2))
    assert await asyncio.wait_for(d.run_once(), 10.0) == 1
    status, error, entry_state, attempts = await state(desk, message_id)
    assert (status, entry_state, attempts) == ("queued", "pending", 1)
    assert error is None  # the message still reads queued; the outbox keeps the reason
    assert len(sender.sent) == 1


def test_the_send_timeout_must_be_shorter_than_the_lease() -> None:
    assert RetryPolicy(lease_s=120).call_timeout_s == 60
    assert RetryPolicy(lease_s=120, send_timeout_s=30).call_timeout_s == 30
    with pytest.raises(ValueError, match="shorter than the outbox lease"):
        RetryPolicy(lease_s=10, send_timeout_s=10)


class SlowFirstProvider:
    """Answers each reply's first call after ``slow_s`` (longer than the lease), later
    calls at once; counts calls that completed and calls in flight per reply."""

    channel = Channel.SMS

    def __init__(self, slow_s: float) -> None:
        self.slow_s = slow_s
        self.started: list[OutboundMessage] = []
        self.completed: Counter[int] = Counter()
        self.in_flight: Counter[int] = Counter()
        self.most_at_once = 0

    async def send(self, message: OutboundMessage) -> SendResult:
        first = all(m.message_id != message.message_id for m in self.started)
        self.started.append(message)
        self.in_flight[message.message_id] += 1
        self.most_at_once = max(self.most_at_once, self.in_flight[message.message_id])
        try:
            if first:
                await asyncio.sleep(self.slow_s)
            self.completed[message.message_id] += 1
            return SendResult(external_id=f"SM-{message.message_id}-{len(self.started)}")
        finally:
            self.in_flight[message.message_id] -= 1


async def test_two_dispatchers_and_a_slow_provider_make_one_provider_call_per_reply(
    database_url: str,
) -> None:
    await seed_with_tokens(database_url)
    engines = [db.create_engine(database_url) for _ in range(2)]
    desks = [
        Desk(db.session_factory(e), RecordingPublisher(), utc_now, choose_queue=REPAIRS)
        for e in engines
    ]
    # The promise holds while a claim, the call and recording its result fit in the
    # lease: the lease here is seconds (minutes in production), so a loaded machine's
    # scheduling delays cannot eat it; the slow first call still outlives it.
    provider = SlowFirstProvider(slow_s=8.0)
    policy = RetryPolicy(base_s=0.05, cap_s=0.1, max_attempts=6, lease_s=3.0)
    dispatchers = [dispatcher(d, provider, policy=policy) for d in desks]
    try:
        replies = [await queue_reply(desks[0]) for _ in range(3)]
        tasks = [asyncio.create_task(d.run()) for d in dispatchers]

        async def all_sent() -> bool:
            states = [await state(desks[1], r) for r in replies]
            return all(s[0] == "sent" and s[2] == "done" for s in states)

        await eventually(all_sent, timeout=20)
        # Let any call still in flight finish: a late duplicate would land now.
        await eventually(lambda: _true(not +provider.in_flight), timeout=20)
        for d in dispatchers:
            d.stop()
        await asyncio.gather(*tasks)
    finally:
        for each, engine in zip(desks, engines, strict=True):
            await each.close()
            await engine.dispose()
    assert provider.completed == {r: 1 for r in replies}
    assert provider.most_at_once == 1
    for r in replies:
        keys = {m.idempotency_key for m in provider.started if m.message_id == r}
        assert len(keys) == 1  # every retry carried the reply's one idempotency key
