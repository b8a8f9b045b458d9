"""Events that cannot be lost: the event outbox, the relay, durable consumers that are
idempotent by event id, dead letters and the ``switchboard events`` commands."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from switchboard import db
from switchboard.app import RUNTIME, create_app, dead_letter_store
from switchboard.bus import InProcessBus, RedisBus, Retry, redis_client
from switchboard.clock import utc_now
from switchboard.relay import EventRelay
from tests.conftest import Stack, require_redis
from tests.helpers import Clock, eventually, inbound, seed_with_tokens
from tests.switchboard.test_cli import run
from tickets import (
    Channel,
    Desk,
    Event,
    TicketCreated,
    event_backlog,
    parse_number,
    register_event,
)
from tickets.models import DeadEvent, EventRecord


class FlakyBus(InProcessBus):
    """An in-process bus whose durable publish fails while ``down`` is set."""

    def __init__(self) -> None:
        super().__init__(retry=Retry(attempts=3, base_s=0.001))
        self.down = False

    async def publish(self, events: Sequence[Event]) -> None:
        if self.down:
            raise ConnectionError("the bus is down")
        await super().publish(events)


@dataclass
class Recorder:
    events: list[Event]

    async def __call__(self, event: Event) -> None:
        self.events.append(event)


async def unrelayed(desk: Desk) -> int:
    return await desk.read(event_backlog)


async def test_a_publish_that_fails_after_commit_loses_no_event(database_url: str) -> None:
    engine = db.create_engine(database_url)
    bus = FlakyBus()
    seen = Recorder([])
    bus.consume("routing", seen)
    await bus.start()
    desk = Desk(db.session_factory(engine), bus, Clock())
    try:
        bus.down = True
        result = await desk.ingest(inbound("+8613800138000", "洗衣机漏水"))
        assert result.new_ticket and not result.duplicate  # saved, and the caller knows it
        await desk.flush()
        assert await unrelayed(desk) == len(result.events) == 2
        assert seen.events == []

        bus.down = False
        relay = EventRelay(desk, bus, grace_s=0)
        assert await relay.relay_once() == 2
        await bus.drain()
        assert [type(e) for e in seen.events] == [type(e) for e in result.events]
        assert [e.event_id for e in seen.events] == [e.event_id for e in result.events]
        assert all(e.event_id and e.event_id.startswith("ev-") for e in seen.events)
        assert await unrelayed(desk) == 0
        assert await relay.relay_once() == 0
    finally:
        await bus.stop()
        await desk.close()
        await engine.dispose()


async def test_published_events_are_marked_and_never_relayed_again(database_url: str) -> None:
    engine = db.create_engine(database_url)
    bus = FlakyBus()
    seen = Recorder([])
    bus.consume("routing", seen)
    await bus.start()
    desk = Desk(db.session_factory(engine), bus, Clock())
    try:
        for i in range(5):
            await desk.ingest(inbound(f"+861380013800{i}", "冰箱不制冷"))
        await desk.flush()
        assert await unrelayed(desk) == 0
        assert await EventRelay(desk, bus, grace_s=0).relay_once() == 0
        await bus.drain()
        assert len(seen.events) == 10
    finally:
        await bus.stop()
        await desk.close()
        await engine.dispose()


async def test_events_of_a_killed_process_go_out_when_the_next_one_starts(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    """Commit, then the process dies before publishing: a new process's relay sends the
    events on start, and routing and the SLA room act on them."""
    await seed_with_tokens(stack.database_url)
    engine = db.create_engine(stack.database_url)
    dead = FlakyBus()
    dead.down = True
    desk = Desk(db.session_factory(engine), dead, Clock())
    result = await desk.ingest(inbound("v_killed", "空调不制冷", channel=Channel.WEBCHAT))
    await desk.close()
    await engine.dispose()

    app = create_app(stack.settings(), redis_prefix=redis_prefix, workers=True)
    app.on_startup.append(_no_grace)
    client = await aiohttp_client(app)
    runtime = client.app[RUNTIME]

    async def handled() -> bool:
        return await unrelayed(runtime.desk) == 0 and bool(
            (await _sla_of(runtime.desk, result.ticket_id)).get("policy")
        )

    await eventually(handled, timeout=10)


async def _no_grace(app: Any) -> None:
    app[RUNTIME].relay.grace_s = 0


async def _sla_of(desk: Desk, ticket_id: int) -> dict[str, Any]:
    from tickets.models import Ticket

    async with desk.sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        return dict(ticket.sla or {})


async def test_the_chat_says_sent_when_the_bus_fails_and_the_relay_delivers_later(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    await seed_with_tokens(stack.database_url)
    app = create_app(stack.settings(), redis_prefix=redis_prefix, workers=True)
    app.on_startup.append(_no_grace)
    client = await aiohttp_client(app)
    runtime = client.app[RUNTIME]
    real = runtime.bus.publish
    failures = []

    async def failing(events: Sequence[Event]) -> None:
        failures.append(len(events))
        raise ConnectionError("bus down")

    runtime.desk.publisher.publish = failing
    ws = await client.ws_connect("/chat/ws")
    await ws.send_json({"type": "message", "text": "热水器不出热水", "client_id": "c1"})
    while (frame := json.loads((await ws.receive(timeout=5)).data))["type"] not in ("ack", "error"):
        pass
    assert frame["type"] == "ack" and frame["status"] == "sent", frame
    assert failures
    runtime.desk.publisher.publish = real
    ticket_id = parse_number(frame["ticket"])
    assert ticket_id is not None

    async def handled() -> bool:
        return bool((await _sla_of(runtime.desk, ticket_id)).get("policy"))

    await eventually(handled, timeout=10)
    await ws.close()


async def test_a_durable_consumer_handles_an_event_id_once() -> None:
    bus = InProcessBus()
    seen = Recorder([])
    bus.consume("sla", seen)
    await bus.start()
    event = TicketCreated(1, "SB-1", "sms", None, "normal", 1, event_id="ev-1")
    await bus.publish([event])
    await bus.relay([event.to_dict()])
    await bus.publish([TicketCreated(2, "SB-2", "sms", None, "normal", 1, event_id="ev-2")])
    await bus.drain()
    await bus.stop()
    assert [e.event_id for e in seen.events] == ["ev-1", "ev-2"]


async def test_a_failing_consumer_dead_letters_and_the_cli_retries(database_url: str) -> None:
    engine = db.create_engine(database_url)
    bus = InProcessBus(retry=Retry(attempts=3, base_s=0.001))
    tries: list[str | None] = []
    healthy = asyncio.Event()
    other = Recorder([])

    async def sla(event: Event) -> None:
        tries.append(event.event_id)
        if not healthy.is_set():
            raise RuntimeError("policy table locked")

    bus.consume("sla", sla)
    bus.consume("routing", other)
    desk = Desk(db.session_factory(engine), bus, utc_now)  # the CLI stamps rows with now
    bus.set_bury(dead_letter_store(desk))
    await bus.start()
    try:
        result = await desk.ingest(inbound("+8613911112222", "门锁坏了"))
        await bus.drain()
        assert len(tries) == 3 * len(result.events)
        async with desk.sessions() as session:
            dead = (await session.execute(select(DeadEvent).order_by(DeadEvent.id))).scalars().all()
        assert [d.consumer_group for d in dead] == ["sla", "sla"]
        assert "policy table locked" in dead[0].error and dead[0].attempts == 3
        assert dead[0].event_id == result.events[0].event_id

        env = {"SWITCHBOARD_DATABASE_URL": database_url}
        code, out, err = await run("events", "dead", env=env)
        assert code == 0, err
        assert "TicketCreated" in out and "policy table locked" in out and "sla" in out
        code, out, err = await run("events", "retry", str(dead[0].id), env=env)
        assert code == 0, err
        assert "handed back to sla" in out
        code, out, err = await run("events", "retry", str(dead[0].id), env=env)
        assert code == 2 and "no dead letter" in err
        code, out, err = await run("events", "dead", "--json", env=env)
        assert [json.loads(line)["id"] for line in out.splitlines()] == [dead[1].id]

        healthy.set()
        tries.clear()
        routed_before = len(other.events)
        assert await EventRelay(desk, bus, grace_s=0).relay_once() == 1
        await bus.drain()
        assert len(tries) == 1  # to the sla group alone, once
        assert len(other.events) == routed_before
    finally:
        await bus.stop()
        await desk.close()
        await engine.dispose()


# -- Redis ----------------------------------------------------------------------------


@pytest.fixture
async def redis_buses(redis_prefix: str) -> Any:
    url = require_redis()
    made: list[RedisBus] = []

    def make(**kw: Any) -> RedisBus:
        bus = RedisBus(redis_client(url), prefix=redis_prefix, **kw)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.stop()
    if made:
        keys = [k async for k in made[0].redis.scan_iter(f"{redis_prefix}:*")]
        if keys:
            await made[0].redis.delete(*keys)
    for bus in made:
        await bus.redis.aclose()


def created(i: int) -> TicketCreated:
    return TicketCreated(i, f"SB-{i}", "sms", None, "normal", 1, event_id=f"ev-{i}")


async def test_redis_keeps_each_groups_work_until_that_group_takes_it(redis_buses: Any) -> None:
    fast_seen, slow_seen = Recorder([]), Recorder([])
    fast, slow_owner = redis_buses(), redis_buses()
    fast.consume("fast", fast_seen)
    slow_owner.consume("slow", slow_seen)
    await slow_owner.start(consumers=False)  # declared, nobody consuming yet
    await fast.start()
    await fast.publish([created(i) for i in range(1, 51)])
    await eventually(lambda: asyncio.sleep(0, len(fast_seen.events) == 50))
    assert await fast.pending("fast") == 0  # acknowledged entries are gone
    assert await slow_owner.pending("slow") == 50  # never trimmed for another group

    late = redis_buses()
    late.consume("slow", slow_seen)
    await late.start()
    await eventually(lambda: asyncio.sleep(0, len(slow_seen.events) == 50))
    assert [e.event_id for e in slow_seen.events] == [f"ev-{i}" for i in range(1, 51)]
    assert await late.pending("slow") == 0


async def test_redis_consumer_skips_an_event_id_it_handled(redis_buses: Any) -> None:
    seen = Recorder([])
    bus = redis_buses()
    bus.consume("sla", seen)
    await bus.start()
    await bus.publish([created(1)])
    await bus.relay([created(1).to_dict(), created(2).to_dict()])
    await eventually(lambda: asyncio.sleep(0, len(seen.events) >= 2))
    await asyncio.sleep(0.2)
    assert [e.event_id for e in seen.events] == ["ev-1", "ev-2"]


async def test_redis_dead_letters_after_bounded_attempts(redis_buses: Any) -> None:
    buried: list[tuple[str, str, str, int]] = []
    tries: list[str | None] = []

    async def bury(group: str, event_id: str, wire: dict[str, Any], error: str, n: int) -> None:
        buried.append((group, event_id, error, n))

    async def broken(event: Event) -> None:
        tries.append(event.event_id)
        raise ValueError("cannot route")

    bus = redis_buses(retry=Retry(attempts=4, base_s=0.001))
    bus.consume("routing", broken)
    bus.set_bury(bury)
    await bus.start()
    await bus.publish([created(7)])
    await eventually(lambda: asyncio.sleep(0, buried))
    assert buried == [("routing", "ev-7", "ValueError: cannot route", 4)]
    assert tries == ["ev-7"] * 4
    assert await bus.pending("routing") == 0


async def test_redis_leaves_an_unknown_event_type_for_a_process_that_knows_it(
    redis_buses: Any,
) -> None:
    old_seen: list[Event] = []

    async def old(event: Event) -> None:
        old_seen.append(event)

    older = redis_buses(claim_idle_ms=50)
    older.consume("routing", old)
    await older.start()
    wire = {"type": "PartsReserved", "ticket_id": 3, "event_id": "ev-30"}
    await older.relay([wire])
    await asyncio.sleep(0.3)
    assert old_seen == []
    assert await older.pending("routing") == 1  # not acknowledged, not dropped
    await older.stop()

    @register_event
    @dataclass(frozen=True, slots=True)
    class PartsReserved(Event):
        ticket_id: int

    new_seen: list[Event] = []

    async def new(event: Event) -> None:
        new_seen.append(event)

    newer = redis_buses(claim_idle_ms=50)
    newer.consume("routing", new)
    await newer.start()
    await eventually(lambda: asyncio.sleep(0, new_seen))
    assert new_seen == [PartsReserved(3, event_id="ev-30")]
    await eventually(lambda: _drained(newer))


async def _drained(bus: RedisBus) -> bool:
    return await bus.pending("routing") == 0


async def test_the_relay_prunes_old_relayed_events_and_keeps_unrelayed_ones(
    database_url: str,
) -> None:
    engine = db.create_engine(database_url)
    clock = Clock()
    bus = FlakyBus()
    await bus.start()
    desk = Desk(db.session_factory(engine), bus, clock)
    try:
        await desk.ingest(inbound("+8613700137000", "第一条"))  # published and marked
        await desk.flush()
        bus.down = True
        await desk.ingest(inbound("+8613700137000", "第二条"))  # left for the relay
        clock.advance(8 * 24 * 3600)
        relay = EventRelay(desk, bus, keep_s=7 * 24 * 3600)
        assert await relay.prune() == 2  # TicketCreated and MessageReceived
        assert await unrelayed(desk) == 1
        async with desk.sessions() as session:
            total = (
                await session.execute(select(func.count()).select_from(EventRecord))
            ).scalar_one()
        assert total == 1
    finally:
        await bus.stop()
        await desk.close()
        await engine.dispose()
