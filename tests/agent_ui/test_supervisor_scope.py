"""A supervisor sees the queues they belong to, not every queue: the REST API, the ticket
page, the queue and agent lists and the stream all hold them to it, while they keep the
powers of a supervisor (assign to others, set presence) inside their queues. Admins see
everything."""

from __future__ import annotations

from typing import Any

import pytest

import tickets
from switchboard import db
from tests.agent_ui.test_stream import connect, of_type, tickets_in, until
from tests.agent_ui.webhelpers import sign_in
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import T0, inbound
from tickets import Channel, Role

LEAD = "lead@example.com"
ORDERS_TEXT = "我的订单 SO-2291 什么时候到"


async def _add_repairs_lead(url: str) -> str:
    """A supervisor of the Repairs queue only; returns their API token."""
    engine = db.create_engine(url)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            user_id = await tickets.create_user(
                session, LEAD, Role.SUPERVISOR, T0, name="Repairs Lead", password="demo-demo"
            )
            queues = {q.name: q.id for q in await tickets.all_queues(session)}
            await tickets.add_queue_member(session, queues["Repairs"], user_id, now=T0)
            return await tickets.create_token(session, LEAD, T0)
    finally:
        await engine.dispose()


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    api.tokens[LEAD] = await _add_repairs_lead(stack.database_url)
    await api.runtime.routing.reload()
    return api


async def test_the_rest_api_holds_a_supervisor_to_their_queues(api: Api) -> None:
    repair = await api.runtime.desk.ingest(inbound("+8613800138001", "洗衣机漏水"))
    order = await api.runtime.desk.ingest(inbound("+8613800138002", ORDERS_TEXT))

    listed = {t["number"] for t in (await api.get("/api/v1/tickets", who=LEAD))["tickets"]}
    assert repair.number in listed and order.number not in listed
    await api.get(f"/api/v1/tickets/{repair.number}", who=LEAD)
    await api.get(f"/api/v1/tickets/{order.number}", who=LEAD, status=404)
    await api.send("PATCH", f"/api/v1/tickets/{order.number}", {"priority": "high"}, LEAD, 404)
    await api.send("POST", f"/api/v1/tickets/{order.number}/notes", {"text": "x"}, LEAD, 404)
    customer = (await api.get(f"/api/v1/tickets/{order.number}"))["customer"]["id"]
    await api.get(f"/api/v1/customers/{customer}", who=LEAD, status=404)

    # Inside their queue they keep a supervisor's powers: assigning to somebody else.
    done = await api.send(
        "PATCH", f"/api/v1/tickets/{repair.number}", {"assignee": "agent2@example.com"}, LEAD
    )
    assert done["assignee"] == "agent2@example.com"

    # The admin and the supervisor of both queues still see both.
    for who in ("admin@example.com", "supervisor@example.com"):
        seen = {t["number"] for t in (await api.get("/api/v1/tickets", who=who))["tickets"]}
        assert {repair.number, order.number} <= seen, who


async def test_queue_and_agent_lists_and_presence_are_scoped(api: Api) -> None:
    queues = {q["name"] for q in (await api.get("/api/v1/queues", who=LEAD))["queues"]}
    assert queues == {"Repairs"}
    agents = {a["email"] for a in (await api.get("/api/v1/agents", who=LEAD))["agents"]}
    assert {"agent1@example.com", "agent2@example.com"} <= agents
    assert "agent3@example.com" not in agents  # Orders only

    await api.send("POST", "/api/v1/agents/agent1@example.com/presence", {"status": "online"}, LEAD)
    await api.send(
        "POST", "/api/v1/agents/agent3@example.com/presence", {"status": "online"}, LEAD, 404
    )
    everyone = {q["name"] for q in (await api.get("/api/v1/queues"))["queues"]}
    assert {"Repairs", "Orders"} <= everyone


async def test_the_ticket_page_of_another_queue_is_404_for_a_supervisor(api: Api) -> None:
    repair = await api.runtime.desk.ingest(inbound("+8613800138001", "洗衣机漏水"))
    order = await api.runtime.desk.ingest(inbound("+8613800138002", ORDERS_TEXT))
    api.client.session.cookie_jar.clear()
    await sign_in(api.client, LEAD, "demo-demo")
    mine = await api.client.get(f"/agent/tickets/{repair.number}")
    assert mine.status == 200 and "洗衣机漏水" in await mine.text()
    other = await api.client.get(f"/agent/tickets/{order.number}")
    assert other.status == 404 and "SO-2291" not in await other.text()
    listing = await (await api.client.get("/agent?view=open")).text()
    assert repair.number in listing and order.number not in listing


async def test_the_stream_holds_a_supervisor_to_their_queues(api: Api) -> None:
    lead = await connect(api.client, api.tokens[LEAD])
    admin = await connect(api.client, api.tokens["admin@example.com"])
    start = (await until(lead, of_type("hello")))[-1]["data"]["last_id"]
    await until(admin, of_type("hello"))

    order = await api.runtime.desk.ingest(inbound("+8613800000002", ORDERS_TEXT))
    await until(admin, of_type("MessageReceived", order.number))
    # agent3 (Orders only) going online is not the Repairs lead's business ...
    await api.send("POST", "/api/v1/presence", {"status": "online"}, who="agent3@example.com")
    await until(admin, lambda f: f.get("type") == "AgentPresenceChanged")
    # ... agent1 (Repairs) going online and her offer are.
    await api.send("POST", "/api/v1/presence", {"status": "online"}, who="agent1@example.com")
    chat = await api.runtime.desk.ingest(
        inbound("v_scope", "我家空调不制冷了", channel=Channel.WEBCHAT)
    )
    seen = await until(lead, of_type("OfferMade", chat.number))
    assert order.number not in tickets_in(seen)
    presence = [f["data"]["email"] for f in seen if f["type"] == "AgentPresenceChanged"]
    assert presence == ["agent1@example.com"]

    # A resume replays by the same rule.
    await lead.close()
    again = await connect(api.client, api.tokens[LEAD], last_id=start)
    replayed = await until(again, of_type("hello"))
    assert ("OfferMade", chat.number) in {(f["type"], f["data"].get("number")) for f in replayed}
    assert order.number not in tickets_in(replayed)
    presence = [f["data"]["email"] for f in replayed if f["type"] == "AgentPresenceChanged"]
    assert presence == ["agent1@example.com"]
    for ws in (again, admin):
        await ws.close()


async def test_a_merge_and_its_undoing_reach_supervisors_on_the_stream(api: Api) -> None:
    """The ticket page refreshes its customer card on both frames; without the second, a
    card refreshed by the merge's frame kept the merged tickets after an un-merge."""
    sup = await connect(api.client, api.tokens["supervisor@example.com"])
    agent = await connect(api.client, api.tokens["agent1@example.com"])
    for ws in (sup, agent):
        await until(ws, of_type("hello"))
    a = await api.runtime.desk.ingest(inbound("+8613800138001", "洗衣机漏水"))
    b = await api.runtime.desk.ingest(inbound("+8613800138003", "洗衣机还在漏水"))
    keep = (await api.get(f"/api/v1/tickets/{a.number}"))["customer"]["id"]
    gone = (await api.get(f"/api/v1/tickets/{b.number}"))["customer"]["id"]
    merged = await api.send("POST", f"/api/v1/customers/{keep}/merge", {"merge": gone})
    await api.send("POST", f"/api/v1/customers/{keep}/unmerge", {"merge_id": merged["merge_id"]})
    got = await until(sup, of_type("CustomersUnmerged"))
    assert [f["data"]["merged_id"] for f in got if f["type"].startswith("Customers")] == [
        gone,
        gone,
    ]
    await agent.send_json({"type": "ping"})
    seen = await until(agent, of_type("pong"))
    assert not any(f["type"].startswith("Customers") for f in seen)
    for ws in (sup, agent):
        await ws.close()
