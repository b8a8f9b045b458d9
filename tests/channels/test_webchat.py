"""Web chat end to end through the real aiohttp server and real WebSocket clients:
customer message -> ticket in the API -> agent reply -> pushed to the socket."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from channels.webchat.signing import COOKIE
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import eventually


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix)


async def next_frame(
    ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 5.0
) -> dict[str, Any]:
    while True:
        msg = await ws.receive(timeout=timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        frame = json.loads(msg.data)
        if frame["type"] == kind:
            return frame  # type: ignore[no-any-return]


async def test_round_trip_customer_agent_customer(api: Api) -> None:
    page = await api.client.get("/chat")
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    assert COOKIE in page.cookies
    ws = await api.client.ws_connect("/chat/ws")
    await ws.send_json({"type": "hello", "name": "李明", "email": "li.ming@example.com"})
    await ws.send_json({"type": "message", "text": "我家空调不制冷了", "client_id": "c1"})
    ack = await next_frame(ws, "ack")
    assert ack["client_id"] == "c1" and ack["status"] == "sent"
    echo = await next_frame(ws, "message")
    assert (
        echo["direction"] == "in"
        and echo["text"] == "我家空调不制冷了"
        and echo["client_id"] == "c1"
    )
    number = ack["ticket"]

    listing = await api.get("/api/v1/tickets", who="agent1@example.com")
    assert [t["number"] for t in listing["tickets"]] == [number]
    ticket = listing["tickets"][0]
    assert ticket["channel"] == "webchat" and ticket["customer"]["name"] == "李明"
    assert {"channel": "email", "address": "li.ming@example.com"} in ticket["customer"][
        "identities"
    ]

    reply = await api.send(
        "POST",
        f"/api/v1/tickets/{number}/replies",
        {"text": "您好，请问空调型号是多少？"},
        who="agent1@example.com",
        status=201,
    )
    pushed = await next_frame(ws, "message", timeout=1.0)
    assert pushed["direction"] == "out" and pushed["text"] == "您好，请问空调型号是多少？"
    assert pushed["id"] == reply["id"] and pushed["author"] == "王芳 Wang Fang"

    async def delivered() -> bool:
        detail = await api.get(f"/api/v1/tickets/{number}")
        return any(
            m["delivery_status"] == "delivered"
            for m in detail["messages"]
            if m["direction"] == "out"
        )

    await eventually(delivered)

    await ws.send_json({"type": "message", "text": "KFR-35GW", "client_id": "c2"})
    assert (await next_frame(ws, "ack"))["ticket"] == number
    detail = await api.get(f"/api/v1/tickets/{number}")
    assert [m["text"] for m in detail["messages"]] == [
        "我家空调不制冷了",
        "您好，请问空调型号是多少？",
        "KFR-35GW",
    ]
    await ws.close()


async def test_reconnect_keeps_the_conversation_and_resend_is_idempotent(api: Api) -> None:
    ws = await api.client.ws_connect("/chat/ws")
    await ws.send_json({"type": "message", "text": "第一条", "client_id": "same"})
    number = (await next_frame(ws, "ack"))["ticket"]
    await ws.close()
    ws2 = await api.client.ws_connect("/chat/ws")
    history = await next_frame(ws2, "message")
    assert history["text"] == "第一条" and history["direction"] == "in"
    await ws2.send_json({"type": "message", "text": "第一条", "client_id": "same"})
    assert (await next_frame(ws2, "ack"))["ticket"] == number
    detail = await api.get(f"/api/v1/tickets/{number}")
    assert len(detail["messages"]) == 1
    await ws2.close()


async def test_a_forged_cookie_gets_a_fresh_visitor(api: Api) -> None:
    ws = await api.client.ws_connect("/chat/ws")
    await ws.send_json({"type": "message", "text": "私密内容", "client_id": "x"})
    await next_frame(ws, "ack")
    await ws.close()
    visitor_cookie = api.client.session.cookie_jar.filter_cookies(api.client.make_url("/chat"))[
        COOKIE
    ].value
    forged = visitor_cookie.rsplit(".", 1)[0] + ".0000"
    api.client.session.cookie_jar.clear()
    intruder = await api.client.ws_connect("/chat/ws", headers={"Cookie": f"{COOKIE}={forged}"})
    await intruder.send_json({"type": "typing"})
    await intruder.send_json({"type": "nope"})
    frame = await next_frame(intruder, "error")
    assert frame["code"] == "unknown_type"  # no history frame came first
    await intruder.close()


async def test_refused_frames_say_why(api: Api) -> None:
    ws = await api.client.ws_connect("/chat/ws")
    await ws.send_str("{oops")
    assert (await next_frame(ws, "error"))["code"] == "bad_json"
    await ws.send_json({"type": "message", "text": "长" * 4001, "client_id": "long"})
    frame = await next_frame(ws, "error")
    assert frame["code"] == "too_long" and frame["client_id"] == "long"
    await ws.send_json({"type": "message", "text": "   "})
    assert (await next_frame(ws, "error"))["code"] == "empty"
    await ws.send_json({"type": "hello", "name": ""})
    assert (await next_frame(ws, "error"))["code"] == "bad_name"
    await ws.close()


async def test_messages_are_rate_limited_per_visitor(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(
        aiohttp_client, stack, redis_prefix, seed=False, webchat_rate_per_minute=3
    )
    ws = await api.client.ws_connect("/chat/ws")
    codes = []
    for i in range(5):
        await ws.send_json({"type": "message", "text": f"刷屏 {i}", "client_id": f"r{i}"})
        msg = json.loads((await ws.receive(timeout=5)).data)
        while msg["type"] == "message":
            msg = json.loads((await ws.receive(timeout=5)).data)
        codes.append(msg.get("code", msg["type"]))
    assert codes == ["ack", "ack", "ack", "rate_limited", "rate_limited"]
    await ws.close()


async def test_the_page_never_renders_text_as_html(api: Api) -> None:
    page = await (await api.client.get("/chat")).text()
    assert "innerHTML" not in page and "textContent" in page
    response = await api.client.get("/chat")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    widget = await api.client.get("/chat/widget.js")
    assert widget.status == 200 and "iframe" in await widget.text()
