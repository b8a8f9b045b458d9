"""Routing over HTTP: presence, offers (accept and reject), and the supervisor views."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from routing.engine import RoutingEngine
from switchboard.bus import InProcessBus, RedisBus
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import eventually, inbound
from tickets import (
    Channel,
    Event,
    Role,
    StaffChanged,
    create_token,
    create_user,
    ensure_queue,
    set_queue_members,
    ticket_facts,
    user_id_by_email,
)


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix)


async def offers(api: Api, who: str) -> list[dict[str, Any]]:
    body = await api.get("/api/v1/offers", who=who)
    return body["offers"]  # type: ignore[no-any-return]


async def test_presence_offer_accept_and_supervisor_views(api: Api) -> None:
    a1, a2 = "agent1@example.com", "agent2@example.com"
    body = await api.send("POST", "/api/v1/presence", {"status": "online"}, who=a1)
    assert body == {"agent": a1, "status": "online", "previous": "offline"}
    await api.send("POST", "/api/v1/presence", {"status": "busy"}, who=a1, status=400)
    result = await api.runtime.desk.ingest(
        inbound("v_route", "我家空调不制冷了", channel=Channel.WEBCHAT)
    )

    async def offered() -> list[dict[str, Any]]:
        return await offers(api, a1)

    (offer,) = await eventually(offered)
    assert (
        offer["ticket"] == result.number and offer["channel"] == "webchat" and offer["expires_at"]
    )

    await api.send("POST", "/api/v1/presence", {"status": "online"}, who=a2)
    rejected = await api.send("POST", f"/api/v1/offers/{offer['id']}/reject", None, who=a1)
    assert rejected["ticket"] == result.number
    (second,) = await eventually(lambda: offers(api, a2))
    await api.send("POST", f"/api/v1/offers/{offer['id']}/accept", None, who=a1, status=404)
    await api.send("POST", f"/api/v1/offers/{second['id']}/accept", None, who=a2)
    ticket = await api.get(f"/api/v1/tickets/{result.number}")
    assert ticket["assignee"] == a2

    await api.get("/api/v1/queues", who=a1, status=403)
    queues = {q["name"]: q for q in (await api.get("/api/v1/queues"))["queues"]}
    assert queues["Repairs"]["agents_online"] == 2 and queues["Repairs"]["depth"] == 0
    agents = {a["email"]: a for a in (await api.get("/api/v1/agents"))["agents"]}
    assert agents[a2]["load"]["webchat"] == 1 and agents[a2]["presence"] == "online"
    assert agents["agent3@example.com"]["presence"] == "offline"

    changed = await api.send("POST", f"/api/v1/agents/{a1}/presence", {"status": "away"})
    assert changed["previous"] == "online"
    agents = {a["email"]: a for a in (await api.get("/api/v1/agents"))["agents"]}
    assert agents[a1]["presence"] == "away"
    await api.send("POST", f"/api/v1/agents/{a2}/presence", {"status": "away"}, who=a1, status=403)


async def test_waiting_work_shows_in_queue_depth(api: Api) -> None:
    await api.runtime.desk.ingest(inbound("v_wait", "冰箱不冷", channel=Channel.WEBCHAT))

    async def depth() -> int:
        queues = {q["name"]: q for q in (await api.get("/api/v1/queues"))["queues"]}
        return int(queues["Repairs"]["depth"])

    assert await eventually(depth) == 1


async def test_every_able_agent_refusing_starts_a_round_and_counts_on_the_wallboard(
    api: Api,
) -> None:
    a1, a2 = "agent1@example.com", "agent2@example.com"
    await api.send("POST", "/api/v1/presence", {"status": "online"}, who=a1)
    await api.send("POST", "/api/v1/presence", {"status": "online"}, who=a2)
    result = await api.runtime.desk.ingest(inbound("v_refuse", "冰箱坏了", channel=Channel.WEBCHAT))
    refusers: set[str] = set()
    while len(refusers) < 2:  # each able agent of Repairs refuses it once
        (who, offer) = await eventually(lambda: _any_offer(api, [a1, a2]))
        assert offer["ticket"] == result.number and who not in refusers
        await api.send("POST", f"/api/v1/offers/{offer['id']}/reject", None, who=who)
        refusers.add(who)
    queues = {q["name"]: q for q in (await api.get("/api/v1/queues"))["queues"]}
    assert queues["Repairs"]["refused"] == 1 and queues["Orders"]["refused"] == 0
    (_who, again) = await eventually(lambda: _any_offer(api, [a1, a2]))  # the next round
    assert again["ticket"] == result.number


async def _any_offer(api: Api, agents: list[str]) -> tuple[str, dict[str, Any]] | None:
    for who in agents:
        found = await offers(api, who)
        if found:
            return who, found[0]
    return None


async def test_a_move_by_patch_is_offered_again_in_the_new_queue(api: Api) -> None:
    a1, a2 = "agent1@example.com", "agent2@example.com"  # a1: Repairs; a2: Repairs, Orders
    await api.send("POST", "/api/v1/presence", {"status": "online"}, who=a1)
    result = await api.runtime.desk.ingest(inbound("v_move", "空调不制冷", channel=Channel.WEBCHAT))
    (offer,) = await eventually(lambda: offers(api, a1))
    assert offer["ticket"] == result.number
    await api.send("POST", "/api/v1/presence", {"status": "online"}, who=a2)
    assert await offers(api, a2) == []  # the chat is on offer to a1
    moved = await api.send("PATCH", f"/api/v1/tickets/{result.number}", {"queue": "Orders"})
    assert moved["queue"] == "Orders"
    (second,) = await eventually(lambda: offers(api, a2))
    assert second["ticket"] == result.number
    assert await offers(api, a1) == []  # a1's offer was withdrawn with the move
    await api.send("POST", f"/api/v1/offers/{offer['id']}/accept", None, who=a1, status=404)
    await api.send("POST", f"/api/v1/offers/{second['id']}/accept", None, who=a2)
    ticket = await api.get(f"/api/v1/tickets/{result.number}")
    assert ticket["assignee"] == a2 and ticket["queue"] == "Orders"


async def test_a_fresh_install_routes_a_chat_to_an_agent_added_with_no_options(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix, seed=False)

    async def add_agent(session: AsyncSession, now: datetime) -> tuple[str, list[Event]]:
        # What `switchboard db upgrade` and `switchboard user add EMAIL --role agent` do.
        queue_id = await ensure_queue(session, "General")
        user_id = await create_user(session, "new@example.com", Role.AGENT, now)
        await set_queue_members(session, queue_id, [user_id])
        token = await create_token(session, "new@example.com", now)
        return token, [StaffChanged(user_id=user_id, queue_id=queue_id, what="user added")]

    api.tokens["new@example.com"] = await api.runtime.desk.write(add_agent)
    await api.send("POST", "/api/v1/presence", {"status": "online"}, who="new@example.com")
    result = await api.runtime.desk.ingest(
        inbound("v_fresh", "Hello, my washing machine leaks", channel=Channel.WEBCHAT)
    )
    (offer,) = await eventually(lambda: offers(api, "new@example.com"))
    assert offer["ticket"] == result.number
    ticket = await api.runtime.desk.read(lambda s: ticket_facts(s, result.ticket_id))
    assert ticket is not None and ticket.queue_id is not None


async def test_serve_without_workers_runs_no_consumers_or_timers(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix, run_workers=False)
    runtime = api.runtime
    assert runtime.tasks == []  # no timers
    result = await runtime.desk.ingest(inbound("v_nowork", "空调不制冷", channel=Channel.WEBCHAT))
    if isinstance(runtime.bus, InProcessBus):
        await runtime.bus.drain()
    else:
        assert isinstance(runtime.bus, RedisBus) and runtime.redis is not None
        stream = runtime.bus.stream("routing")
        groups = await runtime.redis.xinfo_groups(stream)
        # the group is declared and its work waits in its stream, but nobody here reads it
        assert [(g["consumers"], g["pending"]) for g in groups] == [(0, 0)]
        assert await runtime.redis.xlen(stream) >= 1
    # nobody took TicketCreated: routing queued nothing and the SLA watch started no clock
    assert await runtime.routing.store.waiting_counts() == {}
    ticket = await runtime.desk.read(lambda s: ticket_facts(s, result.ticket_id))
    assert ticket is not None and ticket.sla == {}


async def test_every_process_re_reads_the_configuration_when_it_changes(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    if stack.redis_url is None:
        pytest.skip("two processes share state only through Redis and PostgreSQL")
    serve = await start_api(aiohttp_client, stack, redis_prefix, run_workers=False)
    worker = await start_api(aiohttp_client, stack, redis_prefix, seed=False)
    emails = ["agent1@example.com", "agent2@example.com", "supervisor@example.com"]

    async def join(session: AsyncSession, now: datetime) -> tuple[tuple[int, int], list[Event]]:
        # `switchboard user add agent3@example.com --queue Repairs` in effect
        repairs = await ensure_queue(session, "Repairs")
        ids = [await user_id_by_email(session, e) for e in [*emails, "agent3@example.com"]]
        await set_queue_members(session, repairs, ids)
        return (repairs, ids[-1]), [StaffChanged(user_id=ids[-1], queue_id=repairs, what="member")]

    repairs, agent3 = await serve.runtime.desk.write(join)
    for process in (serve, worker):
        engine = process.runtime.routing

        async def joined(engine: RoutingEngine = engine) -> bool:
            return repairs in engine.agents[agent3].queues

        assert await eventually(joined)


async def test_assigning_and_solving_in_one_change_leaves_no_load(api: Api) -> None:
    """One PATCH that assigns and solves emits the status change before the assignment;
    the agent's load must still fall back to zero."""
    a1 = "agent1@example.com"
    await api.send("POST", "/api/v1/presence", {"status": "online"}, who=a1)
    result = await api.runtime.desk.ingest(
        inbound("v_onego", "热水器不加热", channel=Channel.WEBCHAT)
    )
    await eventually(lambda: offers(api, a1))
    await api.send(
        "PATCH", f"/api/v1/tickets/{result.number}", {"assignee": a1, "status": "solved"}
    )

    async def load() -> int | None:
        agents = {a["email"]: a for a in (await api.get("/api/v1/agents"))["agents"]}
        value = agents[a1]["load"].get("webchat", 0)
        return None if value else 1

    await eventually(load)
    await asyncio.sleep(0.3)  # later events must not raise it again
    agents = {a["email"]: a for a in (await api.get("/api/v1/agents"))["agents"]}
    assert agents[a1]["load"].get("webchat", 0) == 0
    assert await offers(api, a1) == []
