"""The routing engine's behaviour on both stacks (SQLite + memory store, PostgreSQL +
Redis store): offers, rejects, timeouts, sticky, overflow, capacity, presence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from routing.configure import configure_queue
from routing.events import AgentPresenceChanged, OfferMade
from routing.models import QueueRouting
from routing.redis_store import RedisStore
from routing.store import MemoryStore, RoutingStore
from switchboard import db
from switchboard.bus import redis_client
from tests.conftest import Stack
from tests.helpers import T0
from tests.routing.world import World, build_world, make_agent, make_queue
from tickets.contracts import Actor, Channel
from tickets.events import Event, TicketAssigned, TicketCreated, TicketStatusChanged, TicketUpdated
from tickets.models import Customer, Ticket


@pytest.fixture
async def world(stack: Stack, redis_prefix: str) -> AsyncIterator[World]:
    client = redis_client(stack.redis_url) if stack.redis_url else None
    store: RoutingStore = RedisStore(client, prefix=redis_prefix) if client else MemoryStore()
    engine = db.create_engine(stack.database_url)
    async with db.transaction(db.session_factory(engine)) as session:
        repairs = await make_queue(
            session,
            "Repairs",
            is_default=True,
            offer_timeout_s=30,
            overflow_after_s=60,
            required_skills=[],
        )
        orders = await make_queue(session, "Orders", keywords=["订单", "order"], position=10)
        await session.execute(
            update(QueueRouting)
            .where(QueueRouting.queue_id == repairs)
            .values(overflow_queue_id=orders)
        )
        ids = {
            "a": await make_agent(session, "a@x.com", [repairs], T0, languages=["zh"]),
            "b": await make_agent(session, "b@x.com", [repairs], T0, languages=["zh", "en"]),
            "c": await make_agent(session, "c@x.com", [repairs], T0, languages=["zh"]),
            "o": await make_agent(session, "o@x.com", [orders], T0, languages=["zh", "en"]),
        }
    await engine.dispose()
    w = await build_world(stack.database_url, store)
    w.queues = {"Repairs": repairs, "Orders": orders}
    w.agents = ids
    await w.engine.ensure_state()
    yield w
    await w.desk.close()
    bind = w.desk.sessions.kw["bind"]
    await bind.dispose()
    if client is not None:
        assert isinstance(store, RedisStore)
        await store.clear()
        await client.aclose()


async def test_a_chat_is_offered_and_accepting_assigns_it(world: World) -> None:
    await world.online("a")
    ticket = await world.ticket("v_1")
    offers = await world.offer_of("a")
    assert [o.ticket_id for o in offers] == [ticket]
    assert await world.assignee(ticket) is None
    await world.engine.accept(offers[0].id, world.agents["a"])
    await world.pump()
    assert await world.assignee(ticket) == world.agents["a"]
    assert ("offer.made", "least-occupied") in await world.audit_reasons(ticket)
    assert ("ticket.routed", "least-occupied") in await world.audit_reasons(ticket)


async def test_reject_and_timeout_move_the_offer_on(world: World) -> None:
    await world.online("a", "b", "c")
    ticket = await world.ticket("v_2")
    first = (await world.offer_of("a"))[0]  # longest idle of three empty agents
    await world.engine.reject(first.id, world.agents["a"])
    await world.pump()
    second = await world.offer_of("b")
    assert [o.ticket_id for o in second] == [ticket]
    world.clock.advance(31)
    assert await world.engine.expire_offers() == 1
    await world.pump()
    assert [o.ticket_id for o in await world.offer_of("c")] == [ticket]
    assert await world.offer_of("a") == [] and await world.offer_of("b") == []
    actions = [a for a, _ in await world.audit_reasons(ticket)]
    assert (
        actions.count("offer.made") == 3
        and "offer.rejected" in actions
        and "offer.timeout" in actions
    )


async def test_two_timeouts_in_a_row_set_the_agent_away(world: World) -> None:
    await world.online("a")
    first = await world.ticket("v_3")
    world.clock.advance(31)
    await world.engine.expire_offers()
    await world.pump()
    second = await world.ticket("v_4")
    # a is the only agent able to take v_3, so its next round offers it to a again
    assert {o.ticket_id for o in await world.offer_of("a")} == {first, second}
    world.clock.advance(31)
    await world.engine.expire_offers()
    await world.pump()
    changes = world.publisher.of(AgentPresenceChanged)
    assert [(c.new, c.reason) for c in changes][-1] == ("away", "2 offers timed out")
    live = await world.engine.store.live([world.agents["a"]])
    assert live[world.agents["a"]].presence == "away"
    assert await world.offer_of("a") == []


async def test_email_is_assigned_directly(world: World) -> None:
    await world.online("b")
    ticket = await world.ticket("li@example.com", "洗衣机坏了", channel=Channel.EMAIL)
    assert await world.assignee(ticket) == world.agents["b"]
    assert await world.offer_of("b") == []


async def test_least_occupied_then_longest_idle(world: World) -> None:
    await world.online("a", "b")
    first = await world.ticket("v_5")
    offer = (await world.offer_of("a"))[0]
    await world.engine.accept(offer.id, world.agents["a"])
    await world.pump()
    second = await world.ticket("v_6")
    assert [o.ticket_id for o in await world.offer_of("b")] == [second]
    assert first != second


async def test_a_returning_customer_goes_to_their_previous_agent(world: World) -> None:
    await world.online("a", "b")
    first = await world.ticket("li@example.com", "空调漏水", channel=Channel.EMAIL)
    assert await world.assignee(first) == world.agents["a"]

    async def solve(session: AsyncSession, now: datetime) -> tuple[None, list[object]]:
        await session.execute(update(Ticket).where(Ticket.id == first).values(status="closed"))
        return None, []

    await world.desk.write(solve)  # type: ignore[arg-type]
    await world.engine.store.hold(999, world.agents["a"], "email")  # a is now busier than b
    world.clock.advance(3600)
    second = await world.ticket("li@example.com", "又漏水了", channel=Channel.EMAIL)
    assert second != first
    assert await world.assignee(second) == world.agents["a"]
    assert ("ticket.routed", "sticky") in await world.audit_reasons(second)


async def test_overflow_offers_waiting_work_to_the_overflow_queue(world: World) -> None:
    await world.online("o")
    ticket = await world.ticket("v_7", "冰箱不制冷")
    assert await world.offer_of("o") == []
    world.clock.advance(61)
    await world.engine.route()
    offers = await world.offer_of("o")
    assert [(o.ticket_id, o.reason) for o in offers] == [(ticket, "overflow")]


async def test_capacity_is_respected_and_freed_on_solve(world: World) -> None:
    await world.online("b")
    tickets = [
        await world.ticket(f"b{i}@example.com", "热水器", channel=Channel.EMAIL) for i in range(12)
    ]
    assigned = [t for t in tickets if await world.assignee(t) == world.agents["b"]]
    assert len(assigned) == 10  # email capacity 10
    waiting = [t for t in tickets if t not in assigned]
    await world.engine.on_event(TicketStatusChanged(assigned[0], "x", "open", "solved", "email"))
    await world.pump()
    assert await world.assignee(waiting[0]) == world.agents["b"]


async def test_offline_hands_back_chats_and_keeps_email(world: World) -> None:
    await world.online("a")
    chat = await world.ticket("v_8")
    await world.engine.accept((await world.offer_of("a"))[0].id, world.agents["a"])
    mail = await world.ticket("m@example.com", "空调", channel=Channel.EMAIL)
    await world.pump()
    assert await world.assignee(mail) == world.agents["a"]
    await world.engine.set_presence(world.agents["a"], "offline", Actor.system("test"))
    await world.pump()
    assert await world.assignee(chat) is None
    assert await world.assignee(mail) == world.agents["a"]
    waiting = await world.engine.store.waiting(world.queues["Repairs"])
    assert waiting[0].ticket_id == chat and waiting[0].front


async def test_language_must_match(world: World) -> None:
    await world.online("a")  # speaks zh only
    ticket = await world.ticket("v_9", "My fridge is making a loud noise")
    assert await world.offer_of("a") == []
    await world.online("b")
    assert [o.ticket_id for o in await world.offer_of("b")] == [ticket]


async def test_keyword_rules_choose_the_queue_and_state_is_rebuilt(world: World) -> None:
    await world.online("o")
    ticket = await world.ticket("li2@example.com", "我的订单还没到", channel=Channel.EMAIL)
    assert await world.assignee(ticket) == world.agents["o"]
    waiting = await world.ticket("v_10", "空调")
    if isinstance(world.engine.store, MemoryStore):
        world.engine.store = MemoryStore()  # the process's state is gone
    else:
        await world.engine.store.clear()  # Redis lost its data
    await world.engine.tick()  # notices and rebuilds from the database
    live = await world.engine.store.live([world.agents["o"]])
    assert (
        live[world.agents["o"]].load.get("email") == 1
        and live[world.agents["o"]].presence == "online"
    )
    assert [i.ticket_id for i in await world.engine.store.waiting(world.queues["Repairs"])] == [
        waiting
    ]
    assert any(isinstance(e, OfferMade) for e in world.publisher.seen) is False


async def test_force_assign_and_move_follow_the_ticket(world: World) -> None:
    await world.online("a", "b")
    ticket = await world.ticket("v_11")
    offer = (await world.offer_of("a"))[0]
    await world.engine.accept(offer.id, world.agents["a"])
    await world.pump()
    store = world.engine.store
    # a supervisor reassigns to b: a's place is freed, b holds it
    await world.engine.on_event(TicketAssigned(ticket, "x", world.agents["b"], "b@x.com", "manual"))
    live = await store.live([world.agents["a"], world.agents["b"]])
    assert live[world.agents["a"]].load.get("webchat", 0) == 0
    assert (
        live[world.agents["b"]].load["webchat"] == 1
        and await store.holder(ticket) == world.agents["b"]
    )

    # moved to Orders without an assignee: it waits there and b's place is freed
    async def move(session: AsyncSession, now: datetime) -> tuple[None, list[object]]:
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket)
            .values(queue_id=world.queues["Orders"], assignee_id=None)
        )
        return None, []

    await world.desk.write(move)  # type: ignore[arg-type]
    await world.engine.on_event(TicketUpdated(ticket, "x", {"queue": "Orders"}))
    assert await store.holder(ticket) is None
    assert [i.ticket_id for i in await store.waiting(world.queues["Orders"])] == [ticket]
    assert (await store.live([world.agents["b"]]))[world.agents["b"]].load["webchat"] == 0


async def test_the_queue_is_chosen_once_at_ingest_with_the_customer_tier(world: World) -> None:
    first = await world.ticket("vip@example.com", "空调不制冷", channel=Channel.EMAIL)

    async def vip_rule(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
        changed = await configure_queue(
            session, world.queues["Orders"], tiers=["vip"], keywords=[], position=1
        )
        await session.execute(update(Customer).values(tier="vip"))
        return None, [changed]

    await world.desk.write(vip_rule)
    await world.pump()  # RoutingConfigChanged: the engine re-reads its rules
    second = await world.ticket("vip@example.com", "空调又坏了", channel=Channel.EMAIL)
    assert second != first
    created = {e.ticket_id: e.queue for e in world.publisher.of(TicketCreated)}
    assert created == {first: "Repairs", second: "Orders"}
    assert not any(r == "tier vip" for _, r in await world.audit_reasons(second))
