"""The REST API core through the real aiohttp server: auth, roles, JSON errors, the
ticket calls and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.api import ROUTES
from tests.apphelpers import Api, start_api
from tests.channels.chat import next_frame
from tests.conftest import Stack
from tests.helpers import inbound
from tickets.contracts import Channel
from tickets.models import OutboxEntry


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
        {"channel": "phone", "address": "+8613800138000", "verified": True, "unreachable": None}
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
    everything = await api.get("/api/v1/tickets?limit=1")
    assert len(everything["tickets"]) == 1 and everything["next_cursor"] == order.number
    rest = await api.get(f"/api/v1/tickets?limit=1&cursor={everything['next_cursor']}")
    assert [t["number"] for t in rest["tickets"]] == [repair.number] and rest["next_cursor"] is None


async def test_a_ticket_outside_your_queues_is_404_everywhere(api: Api) -> None:
    repair = await api.runtime.desk.ingest(inbound("+8613800138001", "洗衣机漏水"))
    path = f"/api/v1/tickets/{repair.number}"
    missing = "/api/v1/tickets/SB-999999"
    who = "agent3@example.com"
    for base in (path, missing):
        hidden = await api.get(base, who=who, status=404)
        assert hidden["error"]["code"] == "not_found"
        await api.send("PATCH", base, {"priority": "high"}, who=who, status=404)
        await api.send("POST", f"{base}/replies", {"text": "hi"}, who=who, status=404)
        await api.send("POST", f"{base}/notes", {"text": "hi"}, who=who, status=404)
        await api.send("POST", f"{base}/typing", {}, who=who, status=404)
    customer = (await api.get(path))["customer"]["id"]
    await api.get(f"/api/v1/customers/{customer}", who=who, status=404)
    await api.get(f"/api/v1/customers/{customer}", who="agent1@example.com")
    detail = await api.get(path)
    assert detail["priority"] == "normal" and len(detail["messages"]) == 1


async def test_agents_assign_only_to_themselves(api: Api) -> None:
    repair = await api.runtime.desk.ingest(inbound("+8613800138003", "空调漏水"))
    path = f"/api/v1/tickets/{repair.number}"
    other = await api.send(
        "PATCH", path, {"assignee": "agent2@example.com"}, who="agent1@example.com", status=403
    )
    assert other["error"]["code"] == "forbidden"
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
    await api.send("PATCH", path, {"assignee": None}, who="agent2@example.com", status=403)
    await api.send("PATCH", path, {"assignee": "agent2@example.com"}, who="agent2@example.com")
    await api.send("PATCH", path, {"assignee": None}, who="agent2@example.com")
    assert (await api.get(path))["assignee"] is None


async def test_moving_queues_is_for_supervisors_and_the_assignee_must_be_a_member(
    api: Api,
) -> None:
    repair = await api.runtime.desk.ingest(inbound("+8613800138006", "空调漏水"))
    path = f"/api/v1/tickets/{repair.number}"
    await api.send("PATCH", path, {"queue": "Orders"}, who="agent2@example.com", status=403)
    assert (await api.get(path))["queue"] == "Repairs"
    outsider = await api.send("PATCH", path, {"assignee": "agent3@example.com"}, status=400)
    assert "not a member" in outsider["error"]["message"]
    await api.send("PATCH", path, {"assignee": "agent1@example.com"})
    stranded = await api.send("PATCH", path, {"queue": "Orders"}, status=400)
    assert "agent1@example.com" in stranded["error"]["message"]
    moved = await api.send("PATCH", path, {"queue": "Orders", "assignee": "agent3@example.com"})
    assert moved["queue"] == "Orders" and moved["assignee"] == "agent3@example.com"
    moved = await api.send("PATCH", path, {"queue": "Repairs", "assignee": None})
    assert moved["queue"] == "Repairs" and moved["assignee"] is None


async def test_a_closed_ticket_is_read_only_apart_from_notes(api: Api) -> None:
    t = await api.runtime.desk.ingest(
        inbound("v_closed", "你好", channel=Channel.WEBCHAT, display_name="访客")
    )
    path = f"/api/v1/tickets/{t.number}"
    await api.send("PATCH", path, {"status": "closed"})
    for change in (
        {"priority": "high"},
        {"tags": ["x"]},
        {"assignee": "agent1@example.com"},
        {"queue": "Orders"},
        {"status": "open"},
    ):
        refused = await api.send("PATCH", path, change, status=409)
        assert "closed" in refused["error"]["message"]
    refused = await api.send("POST", f"{path}/replies", {"text": "还在吗"}, status=409)
    assert refused["error"]["code"] == "conflict"
    await api.send("POST", f"{path}/notes", {"text": "客户已满意"}, status=201)
    detail = await api.get(path)
    assert [m["direction"] for m in detail["messages"]] == ["in", "note"]
    assert detail["priority"] == "normal" and detail["tags"] == [] and detail["queue"] == "Repairs"


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
    bad = await api.send("POST", f"{path}/replies", {"text": ""}, status=400)
    assert bad["error"]["code"] == "invalid"
    await api.get("/api/v1/tickets/SB-999999", status=404)
    await api.get("/api/v1/tickets?limit=abc", status=400)


async def test_a_reply_on_a_channel_without_a_sender_is_400_and_writes_nothing(
    api: Api,
) -> None:
    t = await api.runtime.desk.ingest(inbound("+8613800138005", "热水器不出热水"))
    base = f"/api/v1/tickets/{t.number}"
    refused = await api.send(
        "POST", f"{base}/replies", {"text": "师傅明天上门"}, who="agent1@example.com", status=400
    )
    assert "sms channel is not configured" in refused["error"]["message"]
    chat = await api.runtime.desk.ingest(inbound("v_nomail", "你好", channel=Channel.WEBCHAT))
    unreachable = await api.send(
        "POST",
        f"/api/v1/tickets/{chat.number}/replies",
        {"text": "hi", "channel": "webchat"},
        status=201,
    )
    assert unreachable["delivery_status"] == "queued"
    no_address = await api.send(
        "POST",
        f"/api/v1/tickets/{t.number}/replies",
        {"text": "hi", "channel": "webchat"},
        status=400,
    )
    assert "no webchat address" in no_address["error"]["message"]
    detail = await api.get(base)
    assert [m["direction"] for m in detail["messages"]] == ["in"] and detail["status"] == "new"
    assert await outbox_rows(api) == 1


async def outbox_rows(api: Api) -> int:
    async def read(session: AsyncSession) -> int:
        return int(await session.scalar(select(func.count()).select_from(OutboxEntry)) or 0)

    return await api.runtime.desk.read(read)


async def test_a_note_is_never_queued_nor_sent(api: Api) -> None:
    ws = await api.client.ws_connect("/chat/ws")
    await ws.send_json({"type": "message", "text": "我家空调不制冷了", "client_id": "c1"})
    number = (await next_frame(ws, "ack"))["ticket"]
    await next_frame(ws, "message")
    base = f"/api/v1/tickets/{number}"
    note = await api.send(
        "POST", f"{base}/notes", {"text": "客户是VIP"}, who="agent1@example.com", status=201
    )
    assert note["direction"] == "note" and note["delivery_status"] is None
    assert await outbox_rows(api) == 0
    reply = await api.send(
        "POST", f"{base}/replies", {"text": "师傅明天上门"}, who="agent1@example.com", status=201
    )
    # Frames arrive in order: the first outbound frame after the note is the reply.
    pushed = await next_frame(ws, "message")
    assert pushed["id"] == reply["id"] and pushed["text"] == "师傅明天上门"
    assert await outbox_rows(api) == 1
    await ws.close()
    again = await api.client.ws_connect("/chat/ws")
    history = [await next_frame(again, "message") for _ in range(2)]
    assert [m["text"] for m in history] == ["我家空调不制冷了", "师傅明天上门"]
    await again.close()


async def test_customer_view(api: Api) -> None:
    t = await api.runtime.desk.ingest(
        inbound("v_visitor1", "你好", channel=Channel.WEBCHAT, display_name="李明")
    )
    detail = await api.get(f"/api/v1/tickets/{t.number}")
    customer = await api.get(f"/api/v1/customers/{detail['customer']['id']}")
    assert customer["name"] == "李明" and customer["tickets"][0]["number"] == t.number
    await api.get("/api/v1/customers/424242", status=404)


async def test_supervisors_merge_customers(api: Api) -> None:
    chat = await api.runtime.desk.ingest(
        inbound("v_merge", "你好", channel=Channel.WEBCHAT, display_name="李明")
    )
    sms = await api.runtime.desk.ingest(inbound("+8613800138009", "空调坏了"))
    keep = (await api.get(f"/api/v1/tickets/{chat.number}"))["customer"]["id"]
    gone = (await api.get(f"/api/v1/tickets/{sms.number}"))["customer"]["id"]
    path = f"/api/v1/customers/{keep}/merge"
    denied = await api.send("POST", path, {"merge": gone}, who="agent1@example.com", status=403)
    assert denied["error"]["code"] == "forbidden"
    await api.send("POST", path, {"merge": keep}, status=400)
    await api.send("POST", path, {"merge": 424242}, status=404)
    await api.send("POST", "/api/v1/customers/424242/merge", {"merge": gone}, status=404)
    for bad in ({"merge": "1"}, {"merge": True}, {"merge": 10**30}, {}, {"merge": 1, "x": 1}):
        await api.send("POST", path, bad, status=400)
    merged = await api.send("POST", path, {"merge": gone})
    assert merged["id"] == keep
    assert {(i["channel"], i["address"]) for i in merged["identities"]} == {
        ("webchat", "v_merge"),
        ("phone", "+8613800138009"),
    }
    assert {t["number"] for t in merged["tickets"]} == {chat.number, sms.number}
    assert (await api.get(f"/api/v1/tickets/{sms.number}"))["customer"]["id"] == keep
    again = await api.send("POST", path, {"merge": gone}, status=409)
    assert again["error"]["code"] == "conflict"
    await api.send("POST", f"/api/v1/customers/{gone}/merge", {"merge": keep}, status=409)


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
    merge_op = doc["paths"]["/api/v1/customers/{id}/merge"]["post"]
    body = merge_op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert doc["components"]["schemas"][body.rsplit("/", 1)[1]]["required"] == ["merge"]
