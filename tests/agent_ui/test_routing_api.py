"""Routing over HTTP: presence, offers (accept and reject), and the supervisor views."""

from __future__ import annotations

from typing import Any

import pytest

from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import eventually, inbound
from tickets.contracts import Channel


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
