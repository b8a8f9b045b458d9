"""The REST API core through the real aiohttp server: auth, roles, JSON errors, the
ticket calls and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest

from agent_ui.api import ROUTES
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import eventually, inbound
from tickets.contracts import Channel


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix)


async def test_no_or_bad_token_is_401(api: Api) -> None:
    response = await api.client.get("/api/v1/tickets")
    assert response.status == 401
    body = await response.json()
    assert body["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    response = await api.client.get("/api/v1/tickets", headers={"Authorization": "Bearer sb_nope"})
    assert response.status == 401


async def test_list_and_read_a_ticket(api: Api) -> None:
    result = await api.runtime.desk.ingest(inbound("+8613800138000", "我家空调不制冷了"))
    page = await api.get("/api/v1/tickets", who="agent1@example.com")
    assert [t["number"] for t in page["tickets"]] == [result.number]
    ticket = page["tickets"][0]
    assert ticket["queue"] == "Repairs" and ticket["status"] == "new" and ticket["channel"] == "sms"
    assert ticket["customer"]["identities"] == [
        {"channel": "phone", "address": "+8613800138000", "verified": True}
    ]
    for key in ("subject", "priority", "assignee", "tags", "created_at", "updated_at", "sla"):
        assert key in ticket
    detail = await api.get(f"/api/v1/tickets/{result.number}", who="agent1@example.com")
    assert [m["text"] for m in detail["messages"]] == ["我家空调不制冷了"]
    assert detail["messages"][0]["direction"] == "in"


async def test_agents_only_see_their_queues(api: Api) -> None:
    repair = await api.runtime.desk.ingest(inbound("+8613800138001", "洗衣机漏水"))
    order = await api.runtime.desk.ingest(inbound("+8613800138002", "我的订单 SO-2291 到哪了"))
    agent3 = await api.get("/api/v1/tickets", who="agent3@example.com")
    assert [t["number"] for t in agent3["tickets"]] == [order.number]
    await api.get(f"/api/v1/tickets/{repair.number}", who="agent3@example.com", status=403)
    everything = await api.get("/api/v1/tickets?limit=1")
    assert len(everything["tickets"]) == 1 and everything["next_cursor"] == order.number
    rest = await api.get(f"/api/v1/tickets?limit=1&cursor={everything['next_cursor']}")
    assert [t["number"] for t in rest["tickets"]] == [repair.number] and rest["next_cursor"] is None


async def test_patch_needs_queue_membership(api: Api) -> None:
    repair = await api.runtime.desk.ingest(inbound("+8613800138003", "空调漏水"))
    path = f"/api/v1/tickets/{repair.number}"
    denied = await api.send(
        "PATCH", path, {"priority": "high"}, who="agent3@example.com", status=403
    )
    assert denied["error"]["code"] == "forbidden"
    updated = await api.send(
        "PATCH",
        path,
        {
            "priority": "high",
            "status": "open",
            "tags": ["空调", "Warranty"],
            "assignee": "agent1@example.com",
        },
        who="agent1@example.com",
    )
    assert updated["priority"] == "high" and updated["status"] == "open"
    assert updated["tags"] == ["warranty", "空调"] and updated["assignee"] == "agent1@example.com"
    moved = await api.send("PATCH", path, {"queue": "Orders", "assignee": None})
    assert moved["queue"] == "Orders" and moved["assignee"] is None


async def test_bad_input_is_400_with_a_reason(api: Api) -> None:
    t = await api.runtime.desk.ingest(inbound("+8613800138004", "冰箱不冷"))
    path = f"/api/v1/tickets/{t.number}"
    response = await api.client.patch(
        path, data=b"{not json", headers=api.as_("supervisor@example.com")
    )
    assert response.status == 400
    body = await response.json()
    assert body["error"]["code"] == "bad_json" and "JSON" in body["error"]["message"]
    bad = await api.send("PATCH", path, {"colour": "red"}, status=400)
    assert "colour" in bad["error"]["message"]
    bad = await api.send("PATCH", path, {"status": "flying"}, status=400)
    assert "flying" in bad["error"]["message"]
    await api.send("PATCH", path, {"status": "closed"})
    bad = await api.send("PATCH", path, {"status": "open"}, status=400)
    assert "closed" in bad["error"]["message"]
    bad = await api.send("POST", f"{path}/replies", {"text": ""}, status=400)
    assert bad["error"]["code"] == "invalid"
    await api.get("/api/v1/tickets/SB-999999", status=404)
    await api.get("/api/v1/tickets?limit=abc", status=400)


async def test_note_is_never_sent_and_reply_is_dead_lettered_without_a_channel(api: Api) -> None:
    t = await api.runtime.desk.ingest(inbound("+8613800138005", "热水器不出热水"))
    base = f"/api/v1/tickets/{t.number}"
    note = await api.send(
        "POST", f"{base}/notes", {"text": "客户是VIP"}, who="agent1@example.com", status=201
    )
    assert note["direction"] == "note" and note["delivery_status"] is None
    reply = await api.send(
        "POST", f"{base}/replies", {"text": "师傅明天上门"}, who="agent1@example.com", status=201
    )
    assert reply["direction"] == "out" and reply["delivery_status"] == "queued"

    async def failed() -> Any:
        detail = await api.get(base)
        out = [m for m in detail["messages"] if m["direction"] == "out"]
        return out if out and out[0]["delivery_status"] == "failed" else None

    out = await eventually(failed)
    assert "not configured" in out[0]["delivery_error"]
    detail = await api.get(base)
    assert detail["status"] == "open" and detail["first_response_at"] is not None


async def test_customer_view(api: Api) -> None:
    t = await api.runtime.desk.ingest(
        inbound("v_visitor1", "你好", channel=Channel.WEBCHAT, display_name="李明")
    )
    detail = await api.get(f"/api/v1/tickets/{t.number}")
    customer = await api.get(f"/api/v1/customers/{detail['customer']['id']}")
    assert customer["name"] == "李明" and customer["tickets"][0]["number"] == t.number
    await api.get("/api/v1/customers/424242", status=404)


async def test_openapi_document_matches_the_router(api: Api) -> None:
    response = await api.client.get("/api/v1/openapi.json")
    assert response.status == 200
    doc = await response.json()
    assert doc["openapi"].startswith("3.")
    app = api.client.app
    assert app is not None
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/v1")
        and route.method != "HEAD"
    }
    assert documented == served == {(r.method, r.path) for r in ROUTES}
    reply_op = doc["paths"]["/api/v1/tickets/{number}/replies"]["post"]
    assert "201" in reply_op["responses"] and reply_op["security"] == [{"bearer": []}]
