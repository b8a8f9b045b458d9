"""Chats that never wait forever, on both stacks: the refusal cool-down and the next
round, configuration re-read while running, compensation when the database write after
a store move fails, and the reconcile repairing drift."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

import routing.engine
from routing.configure import configure_agent
from routing.redis_store import RedisStore
from routing.store import MemoryStore, RoutingStore
from switchboard import db
from switchboard.bus import redis_client
from tests.conftest import Stack
from tests.helpers import T0, inbound
from tests.routing.world import World, build_world, make_agent, make_queue
from tickets import Actor, Channel, Event, StaffChanged
from tickets.models import QueueMember, Ticket


@pytest.fixture
async def world(stack: Stack, redis_prefix: str) -> AsyncIterator[World]:
    client = redis_client(stack.redis_url) if stack.redis_url else None
    store: RoutingStore = RedisStore(client, prefix=redis_prefix) if client else MemoryStore()
    engine = db.create_engine(stack.database_url)
    async with db.transaction(db.session_factory(engine)) as session:
        repairs = await make_queue(session, "Repairs", is_default=True, offer_timeout_s=30)
        orders = await make_queue(session, "Orders", keywords=["订单"], position=10)
        ids = {
            "a": await make_agent(session, "a@x.com", [repairs], T0, languages=["zh"]),
            "b": await make_agent(session, "b@x.com", [repairs], T0, languages=["zh"]),
            "o": await make_agent(session, "o@x.com", [orders], T0, languages=["zh"]),
        }
    await engine.dispose()
    w = await build_world(stack.database_url, store)
    w.queues = {"Repairs": repairs, "Orders": orders}
    w.agents = ids
    await w.engine.ensure_state()
    yield w
    await w.desk.close()
    await w.desk.sessions.kw["bind"].dispose()
    if client is not None:
        assert isinstance(store, RedisStore)
        await store.clear()
        await client.aclose()


async def offered(world: World, name: str) -> list[int]:
    return [o.ticket_id for o in await world.offer_of(name)]


async def fill(world: World, name: str, channel: str = "webchat", count: int = 3) -> None:
    """Gives the agent a full load of other work (able, but no room now)."""
    for n in range(count):
        await world.engine.store.hold(90_000 + n, world.agents[name], channel)


async def test_a_refusal_keeps_the_agent_away_for_the_cool_down_only(world: World) -> None:
    await world.online("a", "b")
    await fill(world, "b")  # b is able to take chats but has no room now
    ticket = await world.ticket("v_cool")
    (offer,) = await world.offer_of("a")
    await world.engine.reject(offer.id, world.agents["a"])
    await world.pump()
    world.clock.advance(300)
    await world.engine.route()
    assert await offered(world, "a") == []  # cooling down; b has not refused it yet
    world.clock.advance(301)  # the default cool-down is 10 minutes
    await world.engine.route()
    assert await offered(world, "a") == [ticket]


async def test_when_everyone_able_refused_the_next_round_offers_again(world: World) -> None:
    await world.online("a", "b")
    ticket = await world.ticket("v_round")
    (first,) = await world.offer_of("a")
    await world.engine.reject(first.id, world.agents["a"])
    await world.pump()
    assert await offered(world, "b") == [ticket]
    world.clock.advance(31)  # b misses it
    assert await world.engine.expire_offers() == 1
    await world.pump()
    assert await offered(world, "a") == [] and await offered(world, "b") == []
    assert await world.engine.store.refused() == {ticket: world.queues["Repairs"]}
    await world.engine.route()  # the next round
    assert await offered(world, "a") + await offered(world, "b") == [ticket]
    _live, _depth, _oldest, refused = await world.engine.snapshot()
    assert refused == {world.queues["Repairs"]: 1}
    (again,) = await world.offer_of("a") or await world.offer_of("b")
    await world.engine.accept(again.id, again.agent_id)
    await world.pump()
    assert await world.engine.store.refused() == {}  # taken: no longer counted


async def test_a_membership_change_is_routed_without_restart(world: World) -> None:
    await world.online("o")
    ticket = await world.ticket("v_member")  # Repairs: nobody of Repairs is online
    assert await offered(world, "o") == []

    async def join(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
        repairs, agent = world.queues["Repairs"], world.agents["o"]
        await session.execute(insert(QueueMember).values(queue_id=repairs, user_id=agent))
        return None, [StaffChanged(user_id=agent, queue_id=repairs, what="member")]

    await world.desk.write(join)
    await world.pump()  # every process re-reads on StaffChanged
    await world.engine.route()
    assert await offered(world, "o") == [ticket]


async def test_a_capacity_change_is_routed_without_restart(world: World) -> None:
    async def one_chat(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
        return None, [await configure_agent(session, world.agents["a"], capacity={"webchat": 1})]

    await world.online("a")
    await world.desk.write(one_chat)
    await world.pump()  # RoutingConfigChanged: re-read in every process
    first = await world.ticket("v_cap1")
    await world.ticket("v_cap2")
    assert await offered(world, "a") == [first]  # one place, not the default three


async def test_a_failed_assignment_write_puts_the_store_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.online("b")

    async def database_down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("database down")

    monkeypatch.setattr(routing.engine, "assign", database_down)
    result = await world.desk.ingest(
        inbound("fail@example.com", "洗衣机坏了", channel=Channel.EMAIL, at=world.clock.now)
    )
    with pytest.raises(ConnectionError):
        await world.pump()  # the consumer fails (and the bus would retry the event)
    store = world.engine.store
    assert await store.holder(result.ticket_id) is None
    assert [i.ticket_id for i in await store.waiting(world.queues["Repairs"])] == [result.ticket_id]
    live = await store.live([world.agents["b"]])
    assert live[world.agents["b"]].load.get("email", 0) == 0
    monkeypatch.undo()
    await world.engine.route()
    await world.pump()
    assert await world.assignee(result.ticket_id) == world.agents["b"]


async def test_a_failed_accept_keeps_the_offer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.online("a")
    ticket = await world.ticket("v_accept")
    (offer,) = await world.offer_of("a")

    async def database_down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("database down")

    monkeypatch.setattr(routing.engine, "assign", database_down)
    with pytest.raises(ConnectionError):
        await world.engine.accept(offer.id, world.agents["a"])
    assert await world.offer_of("a") == [offer]
    assert await world.engine.store.holder(ticket) == world.agents["a"]
    monkeypatch.undo()
    await world.engine.accept(offer.id, world.agents["a"])
    await world.pump()
    assert await world.assignee(ticket) == world.agents["a"]


async def test_a_failed_presence_write_puts_the_presence_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def database_down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("database down")

    monkeypatch.setattr(world.desk, "write", database_down)
    with pytest.raises(ConnectionError):
        await world.engine.set_presence(world.agents["a"], "online", Actor.system("test"))
    live = await world.engine.store.live([world.agents["a"]])
    assert live[world.agents["a"]].presence == "offline"


async def test_the_reconcile_repairs_and_logs_drift(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    store = world.engine.store
    await world.online("b")
    mail = await world.ticket("drift@example.com", "空调", channel=Channel.EMAIL)
    assert await world.assignee(mail) == world.agents["b"]
    await world.engine.set_presence(world.agents["b"], "away", Actor.system("test"))
    chat = await world.ticket("v_drift1")
    gone = await world.ticket("v_drift2")

    async def close(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
        await session.execute(update(Ticket).where(Ticket.id == gone).values(status="closed"))
        return None, []

    await world.desk.write(close)  # behind routing's back: its event was lost
    await store.release(mail)  # the store forgot b holds the email
    await store.unqueue(chat)  # and that the chat waits
    await store.set_presence(world.agents["a"], "online", world.engine.now())  # never saved

    caplog.set_level(logging.WARNING, logger="routing.reconcile")
    assert await world.engine.reconciler.run() == []  # seen once: could be work in flight
    repaired = await world.engine.reconciler.run()
    assert sorted((d.kind, d.subject) for d in repaired) == sorted(
        [
            ("assignment", mail),
            ("waiting", chat),
            ("queued", gone),
            ("presence", world.agents["a"]),
        ]
    )
    assert await store.holder(mail) == world.agents["b"]
    waiting = [i.ticket_id for i in await store.waiting(world.queues["Repairs"])]
    assert waiting == [chat]
    live = await store.live([world.agents["a"], world.agents["b"]])
    assert live[world.agents["a"]].presence == "offline"
    assert live[world.agents["b"]].load.get("email") == 1
    assert sum("routing drift repaired" in r.getMessage() for r in caplog.records) == 4
    assert await world.engine.reconciler.run() == []
