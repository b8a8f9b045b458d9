"""Web chat end to end through the real aiohttp server and real WebSocket clients:
customer message -> ticket in the API -> agent reply -> pushed to the socket."""

from __future__ import annotations

from typing import Any

import pytest

from channels.webchat.signing import COOKIE
from tests.apphelpers import Api, start_api
from tests.channels.chat import frames_until, fresh_socket, next_frame, send_message
from tests.conftest import Stack
from tests.helpers import eventually


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix)


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
    assert {
        "channel": "email",
        "address": "li.ming@example.com",
        "verified": False,
        "unreachable": None,
    } in ticket["customer"]["identities"]

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
    frames = await frames_until(intruder, "error")
    assert [f["type"] for f in frames] == ["visitor", "hours", "error"]  # no history
    assert frames[-1]["code"] == "unknown_type"
    assert frames[0]["key"].rsplit(".", 1)[0] != visitor_cookie.rsplit(".", 1)[0]
    await intruder.close()


async def test_the_visitor_key_resumes_the_conversation_without_a_cookie(api: Api) -> None:
    ws = await fresh_socket(api)
    key = (await next_frame(ws, "visitor"))["key"]
    assert (await send_message(ws, "第一条", "k1"))["type"] == "ack"
    await ws.close()
    api.client.session.cookie_jar.clear()
    again = await api.client.ws_connect(
        "/chat/ws", protocols=("switchboard.chat", f"visitor.{key}")
    )
    assert again.protocol == "switchboard.chat"
    frames = await frames_until(again, "message")
    assert frames[0] == {"type": "visitor", "key": key}
    assert frames[-1]["text"] == "第一条"
    await again.close()


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


async def test_the_page_never_renders_text_as_html(api: Api) -> None:
    page = await (await api.client.get("/chat")).text()
    script = await (await api.client.get("/chat/chat.js")).text()
    assert "innerHTML" not in page + script and "textContent" in script
    response = await api.client.get("/chat")
    assert "script-src 'self';" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    widget = await api.client.get("/chat/widget.js")
    assert widget.status == 200 and "iframe" in await widget.text()


async def test_internal_notes_never_reach_the_chat(api: Api) -> None:
    ws = await api.client.ws_connect("/chat/ws")
    number = (await send_message(ws, "洗衣机漏水", "n1"))["ticket"]
    await api.send(
        "POST",
        f"/api/v1/tickets/{number}/notes",
        {"text": "内部备注：客户很着急"},
        who="agent1@example.com",
        status=201,
    )
    await api.send(
        "POST",
        f"/api/v1/tickets/{number}/replies",
        {"text": "师傅明天上门"},
        who="agent1@example.com",
        status=201,
    )
    live = await frames_until(ws, "message")
    while live[-1]["direction"] != "out":
        live += await frames_until(ws, "message")
    assert live[-1]["text"] == "师傅明天上门"
    assert all("内部备注" not in str(f) for f in live)
    await ws.close()

    again = await api.client.ws_connect("/chat/ws")
    await again.send_json({"type": "ping-for-end-of-history"})
    history = await frames_until(again, "error")
    texts = [f["text"] for f in history if f["type"] == "message"]
    assert texts == ["洗衣机漏水", "师傅明天上门"]
    await again.close()
    detail = await api.get(f"/api/v1/tickets/{number}")
    assert [m["direction"] for m in detail["messages"]] == ["in", "note", "out"]


async def test_the_widget_frame_never_uses_the_chat_cookie(api: Api) -> None:
    ws = await api.client.ws_connect("/chat/ws")
    assert (await send_message(ws, "我在官网上问过", "own"))["type"] == "ack"
    await ws.close()
    framed = await api.client.get("/chat?embed=1")
    assert framed.status == 200 and not framed.cookies
    widget = await api.client.ws_connect("/chat/ws?embed=1")  # the cookie is still sent
    await widget.send_json({"type": "end-of-history"})
    frames = await frames_until(widget, "error")
    assert [f["type"] for f in frames] == ["visitor", "hours", "error"]
    await widget.close()
