"""The event bus: in-process delivery, and delivery across two app instances that share
one Redis (broadcast to both, work to exactly one)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from switchboard.bus import InProcessBus, RedisBus, redis_client
from tests.apphelpers import start_api
from tests.conftest import Stack, require_redis
from tests.helpers import eventually
from tickets.events import Event, OutboxQueued, TicketCreated, event_from_dict


def sample(i: int) -> TicketCreated:
    return TicketCreated(i, f"SB-{1000 + i}", "webchat", "Repairs", "normal", 7)


def test_events_round_trip_through_their_wire_form() -> None:
    event = sample(1)
    assert event_from_dict(json.loads(json.dumps(event.to_dict()))) == event
    with pytest.raises(ValueError):
        event_from_dict({"type": "Nope"})


async def test_in_process_bus_keeps_order_and_isolates_failures() -> None:
    bus = InProcessBus()
    seen: list[int] = []

    async def broken(event: Event) -> None:
        raise RuntimeError("boom")

    async def record(event: Event) -> None:
        assert isinstance(event, TicketCreated)
        seen.append(event.ticket_id)

    bus.subscribe(broken)
    bus.subscribe(record)
    await bus.start()
    await bus.publish([sample(i) for i in range(50)])
    await bus.drain()
    await bus.stop()
    assert seen == list(range(50))


async def test_redis_bus_broadcasts_to_all_and_gives_work_to_one(redis_prefix: str) -> None:
    url = require_redis()
    a, b = (
        RedisBus(redis_client(url), prefix=redis_prefix),
        RedisBus(redis_client(url), prefix=redis_prefix),
    )
    broadcast: dict[str, list[int]] = {"a": [], "b": []}
    work: list[tuple[str, int]] = []

    def recorder(name: str) -> Any:
        async def handle(event: Event) -> None:
            assert isinstance(event, TicketCreated)
            broadcast[name].append(event.ticket_id)

        return handle

    def worker(name: str) -> Any:
        async def handle(event: Event) -> None:
            assert isinstance(event, TicketCreated)
            work.append((name, event.ticket_id))

        return handle

    for name, bus in (("a", a), ("b", b)):
        bus.subscribe(recorder(name))
        bus.consume("routing", worker(name))
        await bus.start()
    try:
        await asyncio.sleep(0.1)
        await a.publish([sample(i) for i in range(20)])

        async def done() -> bool:
            return len(broadcast["a"]) == len(broadcast["b"]) == 20 and len(work) == 20

        await eventually(done)
        assert broadcast["a"] == broadcast["b"] == list(range(20))
        assert sorted(i for _, i in work) == list(range(20))
    finally:
        for bus in (a, b):
            await bus.stop()
            await bus.redis.delete(bus.stream("routing"))
            await bus.redis.aclose()


async def test_unacknowledged_work_is_reclaimed_from_a_dead_consumer(redis_prefix: str) -> None:
    url = require_redis()
    dying = RedisBus(redis_client(url), prefix=redis_prefix, claim_idle_ms=50)
    crashed = asyncio.Event()

    async def crash(event: Event) -> None:
        crashed.set()
        await asyncio.Event().wait()  # the process dies (is stopped) mid-event

    dying.consume("outbox", crash)
    await dying.start()
    await dying.publish([OutboxQueued(5, "sms")])
    await asyncio.wait_for(crashed.wait(), 5)
    await dying.stop()

    survivor = RedisBus(redis_client(url), prefix=redis_prefix, claim_idle_ms=50)
    got: list[Event] = []

    async def keep(event: Event) -> None:
        got.append(event)

    survivor.consume("outbox", keep)
    await survivor.start()
    try:
        await eventually(lambda: asyncio.sleep(0, got))
        assert got == [OutboxQueued(5, "sms")]
    finally:
        await survivor.stop()
        await survivor.redis.delete(survivor.stream("outbox"))
        for bus in (dying, survivor):
            await bus.redis.aclose()


async def test_a_reply_made_on_one_instance_reaches_a_socket_on_another(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    if stack.redis_url is None:
        pytest.skip("two instances share state only through Redis and PostgreSQL")
    front = await start_api(aiohttp_client, stack, redis_prefix)
    back = await start_api(aiohttp_client, stack, redis_prefix, seed=False)
    ws = await back.client.ws_connect("/chat/ws")
    await ws.send_json({"type": "message", "text": "冰箱不制冷", "client_id": "1"})
    while (frame := json.loads((await ws.receive(timeout=5)).data))["type"] != "ack":
        pass
    number = frame["ticket"]
    await front.send(
        "POST",
        f"/api/v1/tickets/{number}/replies",
        {"text": "已安排师傅"},
        who="agent1@example.com",
        status=201,
    )
    while True:
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.TEXT
        frame = json.loads(msg.data)
        if frame["type"] == "message" and frame["direction"] == "out":
            break
    assert frame["text"] == "已安排师傅"
    await ws.close()
