"""The customer's side of a live chat, through the real socket and routes: the agent's
name and typing, seen marks, the expected wait and the agent joining, the offline notice
with a contact to answer on, and the satisfaction rating once the ticket is solved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

import tickets
from switchboard.app import create_app
from tests.apphelpers import Api
from tests.channels.chat import frames_until, next_frame, opened, send_message
from tests.conftest import Stack
from tests.helpers import eventually, seed_with_tokens
from tickets.models import EventRecord

OPEN_HOURS = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai
CLOSED = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # Saturday 10:00 in Shanghai
MONDAY_OPENING = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
AGENT = "agent1@example.com"


async def start_at(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, clock: Callable[[], datetime]
) -> Api:
    """The app with a clock, so business hours are what the test says."""
    tokens = await seed_with_tokens(stack.database_url)
    app = create_app(stack.settings(), clock=clock, redis_prefix=redis_prefix)
    return Api(await aiohttp_client(app), tokens)


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_at(aiohttp_client, stack, redis_prefix, lambda: OPEN_HOURS)


async def until(ws: aiohttp.ClientWebSocketResponse, kind: str, **match: Any) -> dict[str, Any]:
    """The next frame of ``kind`` whose fields match."""
    while True:
        frame = await next_frame(ws, kind)
        if all(frame.get(k) == v for k, v in match.items()):
            return frame


async def events_of(api: Api, type_name: str) -> list[dict[str, Any]]:
    async def read(session: Any) -> list[dict[str, Any]]:
        rows = await session.execute(
            select(EventRecord.payload)
            .where(EventRecord.type == type_name)
            .order_by(EventRecord.id)  # write order; without it PostgreSQL may return any
        )
        return list(rows.scalars())

    return await api.runtime.desk.read(read)


async def reconnect(api: Api, key: str) -> aiohttp.ClientWebSocketResponse:
    """The same visitor's page opening a new socket with its key."""
    ws: aiohttp.ClientWebSocketResponse = await api.client.ws_connect(
        "/chat/ws", protocols=("switchboard.chat", f"visitor.{key}")
    )
    return ws


async def reply(api: Api, number: str, text: str) -> dict[str, Any]:
    body: dict[str, Any] = await api.send(
        "POST", f"/api/v1/tickets/{number}/replies", {"text": text}, who=AGENT, status=201
    )
    return body


async def test_the_agent_name_and_typing_reach_the_chat(api: Api) -> None:
    ws, _key = await opened(api)
    number = (await send_message(ws, "冰箱不制冷", "m1"))["ticket"]
    typing = await api.client.post(f"/api/v1/tickets/{number}/typing", headers=api.as_(AGENT))
    assert typing.status == 204
    frame = await next_frame(ws, "typing")
    assert frame["author"] == "王芳 Wang Fang"
    await reply(api, number, "您好，我是王芳")
    pushed = await until(ws, "message", direction="out")
    assert pushed["author"] == "王芳 Wang Fang" and pushed["text"] == "您好，我是王芳"
    await ws.close()


async def test_seen_marks_are_stored_only_for_the_visitors_own_agent_messages(api: Api) -> None:
    ws, _key = await opened(api)
    ack = await send_message(ws, "洗衣机噪音大", "m1")
    number = ack["ticket"]
    first = await reply(api, number, "请问什么型号？")
    second = await reply(api, number, "方便发张照片吗？")
    await until(ws, "message", id=second["id"])

    await ws.send_json({"type": "seen", "message_id": ack["id"]})  # their own message
    assert (await next_frame(ws, "error"))["code"] == "not_found"
    stranger, _ = await opened(api)
    await stranger.send_json({"type": "seen", "message_id": second["id"]})
    assert (await next_frame(stranger, "error"))["code"] == "not_found"
    await ws.send_json({"type": "seen", "message_id": "7"})
    assert (await next_frame(ws, "error"))["code"] == "bad_message_id"

    await ws.send_json({"type": "seen", "message_id": second["id"]})

    async def seen() -> list[Any]:
        detail = await api.get(f"/api/v1/tickets/{number}")
        return [m["seen_at"] for m in detail["messages"] if m["direction"] == "out"]

    marks = await eventually(lambda: _all(seen))
    assert len(marks) == 2 and marks[0] == OPEN_HOURS.isoformat()
    (event,) = await events_of(api, "MessageSeen")
    assert event["number"] == number and event["message_id"] == second["id"]
    assert first["id"] < second["id"]
    await ws.send_json({"type": "seen", "message_id": second["id"]})  # again: nothing new
    await ws.send_json({"type": "nope"})
    await next_frame(ws, "error")
    assert len(await events_of(api, "MessageSeen")) == 1
    detail = await api.get(f"/api/v1/tickets/{number}")
    assert detail["messages"][0]["seen_at"] is None  # the visitor's own message
    await ws.close()
    await stranger.close()


async def _all(read: Callable[[], Any]) -> list[Any] | None:
    values = await read()
    return values if values and all(values) else None


async def test_the_wait_notice_until_an_agent_accepts_then_the_agents_name(api: Api) -> None:
    ws, key = await opened(api)
    await send_message(ws, "空调漏水", "m1")
    nobody = await next_frame(ws, "wait")
    assert nobody == {"type": "wait", "position": 1, "agents_online": 0, "minutes": None}

    await api.send("POST", "/api/v1/presence", {"status": "online"}, who=AGENT)

    async def offered() -> list[dict[str, Any]]:
        return (await api.get("/api/v1/offers", who=AGENT))["offers"]  # type: ignore[no-any-return]

    (offer,) = await eventually(offered)
    await send_message(ws, "还在吗？", "m2")
    waiting = await next_frame(ws, "wait")
    assert waiting["agents_online"] == 1 and waiting["minutes"] == 3
    await api.send("POST", f"/api/v1/offers/{offer['id']}/accept", None, who=AGENT)
    joined = await next_frame(ws, "agent")
    assert joined["name"] == "王芳 Wang Fang" and joined["ticket"] == offer["ticket"]

    ws2 = await reconnect(api, key)
    frames = await frames_until(ws2, "agent")
    assert frames[-1]["name"] == "王芳 Wang Fang"
    assert "wait" not in [f["type"] for f in frames]
    await ws.close()
    await ws2.close()


async def test_outside_business_hours_the_chat_says_so_takes_the_message_and_a_contact(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_at(aiohttp_client, stack, redis_prefix, lambda: CLOSED)
    ws = await api.client.ws_connect("/chat/ws")
    await next_frame(ws, "visitor")
    hours = await next_frame(ws, "hours")
    assert hours["open"] is False and hours["timezone"] == "Asia/Shanghai"
    assert datetime.fromisoformat(hours["opens_at"]) == MONDAY_OPENING

    await ws.send_json({"type": "contact", "value": "13800138000"})
    assert (await next_frame(ws, "error"))["code"] == "not_found"  # nothing to attach it to
    await ws.send_json({"type": "hello", "name": "赵女士"})
    ack = await send_message(ws, "热水器打不着火", "m1")
    assert ack["type"] == "ack"
    await ws.send_json({"type": "contact", "value": "138 0013 8000"})
    assert (await next_frame(ws, "contact_saved"))["kind"] == "phone"
    await ws.send_json({"type": "contact", "value": "Zhao@Example.com"})
    assert (await next_frame(ws, "contact_saved"))["kind"] == "email"
    await ws.send_json({"type": "contact", "value": "call me maybe"})
    assert (await next_frame(ws, "error"))["code"] == "invalid"

    detail = await api.get(f"/api/v1/tickets/{ack['ticket']}")
    assert detail["messages"][0]["text"] == "热水器打不着火"
    identities = detail["customer"]["identities"]
    assert {
        "channel": "phone",
        "address": "+8613800138000",
        "verified": False,
        "unreachable": None,
    } in identities
    assert {
        "channel": "email",
        "address": "zhao@example.com",
        "verified": False,
        "unreachable": None,
    } in identities
    await ws.close()


async def test_within_business_hours_the_chat_is_open(api: Api) -> None:
    ws = await api.client.ws_connect("/chat/ws")
    frames = await frames_until(ws, "hours")
    assert frames[-1] == {
        "type": "hours",
        "open": True,
        "opens_at": None,
        "timezone": "Asia/Shanghai",
    }
    await ws.close()


async def test_a_solved_chat_asks_for_a_rating_and_stores_it_on_the_ticket(api: Api) -> None:
    ws, key = await opened(api)
    number = (await send_message(ws, "师傅修好了吗", "m1"))["ticket"]
    await ws.send_json({"type": "rating", "score": 5})
    assert (await next_frame(ws, "error"))["code"] == "conflict"  # not solved yet
    await reply(api, number, "已经修好了")
    await api.send("PATCH", f"/api/v1/tickets/{number}", {"status": "solved"})
    assert (await next_frame(ws, "rating_request"))["ticket"] == number

    for bad in (0, 6, "5", 4.5, True):
        await ws.send_json({"type": "rating", "score": bad})
        assert (await next_frame(ws, "error"))["code"] == "invalid"
    await ws.send_json({"type": "rating", "score": 4})
    assert (await next_frame(ws, "rated"))["score"] == 4
    await ws.send_json({"type": "rating", "score": 5, "comment": "师傅很专业 <b>"})
    assert (await until(ws, "rated", score=5))["ticket"] == number

    detail = await api.get(f"/api/v1/tickets/{number}")
    assert detail["rating"] == {
        "score": 5,
        "comment": "师傅很专业 <b>",
        "rated_at": OPEN_HOURS.isoformat(),
    }
    listed = (await api.get("/api/v1/tickets"))["tickets"][0]
    assert listed["rating"]["score"] == 5
    rated = await events_of(api, "TicketRated")
    assert [(e["rating"], e["queue"]) for e in rated] == [(4, "Repairs"), (5, "Repairs")]
    today = await api.runtime.desk.read(
        lambda s: tickets.ratings_since(s, OPEN_HOURS.replace(hour=0))
    )
    assert today == [{"queue": "Repairs", "count": 1, "average": 5.0}]
    tomorrow = await api.runtime.desk.read(
        lambda s: tickets.ratings_since(s, OPEN_HOURS.replace(day=25))
    )
    assert tomorrow == []

    ws2 = await reconnect(api, key)  # rated already: not asked again
    frames = await frames_until(ws2, "rated")
    assert "rating_request" not in [f["type"] for f in frames]
    await ws.close()
    await ws2.close()
