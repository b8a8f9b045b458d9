"""The shared suite every routing store passes (in-memory and Redis)."""

from __future__ import annotations

import asyncio

from routing.state import AgentInfo, Offer, Reserve, WorkItem
from routing.store import RoutingStore


def agent(agent_id: int, webchat: int = 2, queues: frozenset[int] = frozenset({1})) -> AgentInfo:
    return AgentInfo(
        agent_id,
        f"a{agent_id}@x",
        queues,
        {"ac": 3},
        frozenset({"zh"}),
        {"webchat": webchat, "email": 10},
    )


def item(
    ticket_id: int,
    priority: str = "normal",
    due: float | None = None,
    at: float = 100.0,
    queue: int = 1,
    channel: str = "webchat",
) -> WorkItem:
    return WorkItem(ticket_id, queue, channel, priority, at, due)


async def test_waiting_is_ordered_by_priority_then_due_then_arrival(store: RoutingStore) -> None:
    await store.enqueue(item(1, "normal", None, at=10))
    await store.enqueue(item(2, "normal", due=500, at=20))
    await store.enqueue(item(3, "urgent", None, at=30))
    await store.enqueue(item(4, "normal", due=400, at=40))
    await store.enqueue(item(5, "low", due=1, at=1))
    await store.enqueue(item(6, "normal", None, at=5))
    assert [i.ticket_id for i in await store.waiting(1)] == [3, 4, 2, 6, 1, 5]
    assert await store.waiting_counts() == {(1, "webchat"): 6}
    front = WorkItem(7, 1, "webchat", "normal", 999, None, front=True)
    await store.enqueue(front)
    assert [i.ticket_id for i in await store.waiting(1)][:2] == [3, 7]


async def test_reserve_checks_presence_capacity_and_waiting(store: RoutingStore) -> None:
    await store.put_agent(agent(1, webchat=1))
    await store.enqueue(item(10))
    await store.enqueue(item(11))
    assert await store.reserve(item(10), 1) == Reserve.NOT_ONLINE
    assert await store.set_presence(1, "online", 50.0) == "offline"
    assert await store.reserve(item(10), 1) == Reserve.OK
    assert await store.reserve(item(10), 1) == Reserve.GONE
    assert await store.reserve(item(11), 1) == Reserve.FULL
    assert await store.holder(10) == 1
    assert (await store.live([1]))[1].load == {"webchat": 1}
    assert [i.ticket_id for i in await store.waiting(1)] == [11]
    assert await store.release(10) == (1, "webchat")
    assert await store.release(10) is None
    assert (await store.live([1]))[1].load["webchat"] == 0
    assert await store.reserve(item(11), 1) == Reserve.OK
    assert await store.held_by(1) == [(11, "webchat")]


async def test_concurrent_reservations_never_exceed_capacity(store: RoutingStore) -> None:
    await store.put_agent(agent(1, webchat=3))
    await store.set_presence(1, "online", 0.0)
    for t in range(20):
        await store.enqueue(item(t))
    results = await asyncio.gather(*(store.reserve(item(t), 1) for t in range(20)))
    assert results.count(Reserve.OK) == 3
    assert (await store.live([1]))[1].load["webchat"] == 3
    again = await asyncio.gather(*(store.reserve(item(0), 1) for _ in range(5)))
    assert Reserve.OK not in again


async def test_hold_moves_a_ticket_between_agents(store: RoutingStore) -> None:
    for a in (1, 2):
        await store.put_agent(agent(a))
    await store.enqueue(item(5))
    await store.hold(5, 1, "webchat")
    await store.hold(5, 2, "webchat")
    live = await store.live([1, 2])
    assert live[1].load.get("webchat", 0) == 0 and live[2].load["webchat"] == 1
    assert await store.waiting(1) == []


async def test_an_offer_is_taken_once(store: RoutingStore) -> None:
    offer = Offer("o1", 5, 1, "webchat", 1, 100.0, "least-occupied")
    await store.add_offer(offer)
    assert await store.offers_for(1) == [offer]
    assert await store.expired_offers(99.0) == []
    assert await store.expired_offers(100.0) == ["o1"]
    taken = await asyncio.gather(*(store.take_offer("o1") for _ in range(5)))
    assert taken.count(offer) == 1 and taken.count(None) == 4
    assert await store.offers_for(1) == []


async def test_timeouts_exclusions_presence(store: RoutingStore) -> None:
    await store.put_agent(agent(1))
    assert await store.count_timeout(1) == 1
    assert await store.count_timeout(1) == 2
    await store.reset_timeouts(1)
    assert (await store.live([1]))[1].timeouts == 0
    await store.exclude(9, 1, 100.0, 600)
    await store.exclude(9, 2, 400.0, 600)
    assert await store.excluded(9, 500.0) == {1, 2}
    assert await store.excluded(9, 700.0) == {2}  # 1's cool-down ran out
    await store.prune_refusals(1100.0)
    assert await store.excluded(9, 0.0) == set()  # pruned: nothing is kept for good
    await store.set_presence(1, "online", 42.0)
    assert (await store.live([1]))[1].idle_since == 42.0
    assert await store.set_presence(1, "away", 43.0) == "online"
    assert [a.id for a in await store.agent_infos()] == [1]
    await store.clear()
    assert await store.agent_infos() == [] and await store.waiting_counts() == {}


async def test_a_new_round_forgets_refusals_and_counts_the_ticket(store: RoutingStore) -> None:
    await store.exclude(5, 1, 0.0, 600)
    await store.new_round(5, 3)
    assert await store.excluded(5, 1.0) == set()
    assert await store.refused() == {5: 3}
    await store.forget(5)
    assert await store.refused() == {}


async def test_finish_frees_the_place_and_takes_the_offer(store: RoutingStore) -> None:
    await store.put_agent(agent(1))
    await store.set_presence(1, "online", 0.0)
    await store.enqueue(WorkItem(7, 1, "webchat", "normal", 1.0))
    assert await store.reserve(WorkItem(7, 1, "webchat", "normal", 1.0), 1) == Reserve.OK
    offer = Offer("o7", 7, 1, "webchat", 1, 99.0, "least-occupied")
    await store.add_offer(offer)
    await store.exclude(7, 2, 0.0, 600)
    await store.new_round(7, 1)
    held, taken = await store.finish(7)
    assert held == (1, "webchat") and taken == offer
    assert await store.offers_for(1) == [] and await store.refused() == {}
    assert (await store.live([1]))[1].load.get("webchat", 0) == 0
    assert await store.finish(7) == (None, None)
    await store.add_offer(Offer("o8", 8, 1, "webchat", 1, 99.0, "x"))
    assert await store.take_offer("o8") is not None
    assert await store.finish(8) == (None, None)  # a taken offer is not found by ticket
