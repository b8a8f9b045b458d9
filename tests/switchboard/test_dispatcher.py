"""The outbox dispatcher: retries with backoff, dead-letters what cannot be sent, and
never drops a message silently."""

from __future__ import annotations

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
from switchboard.dispatcher import OutboxDispatcher
from tests.helpers import Clock, RecordingPublisher, inbound, seed_with_tokens
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


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Desk]:
    await seed_with_tokens(database_url)
    engine = db.create_engine(database_url)
    desk = Desk(
        db.session_factory(engine),
        RecordingPublisher(),
        Clock(),
        choose_queue=QueueRules([QueueConfig(1, "Repairs", is_default=True)]),
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


def dispatcher(desk: Desk, sender: ScriptedSender, max_attempts: int = 4) -> OutboxDispatcher:
    registry = SenderRegistry()
    registry.register(sender)
    return OutboxDispatcher(
        desk, registry, RetryPolicy(base_s=10, cap_s=100, max_attempts=max_attempts)
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
