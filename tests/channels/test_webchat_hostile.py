"""Hostile or unlucky input on the chat socket gets an error frame and the socket stays
open: deep JSON, text no database can store, a desk that is out of connections, and a
page on a site that may not use the chat."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

import tickets
from tests.apphelpers import Api, start_api
from tests.channels.chat import frames_until, next_frame, origin, send_message
from tests.conftest import Stack


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix)


async def test_json_nested_too_deep_is_refused_and_the_socket_stays_open(api: Api) -> None:
    ws = await api.client.ws_connect("/chat/ws")
    await ws.send_str("[" * 30_000 + "]" * 30_000)
    assert (await next_frame(ws, "error"))["code"] == "bad_json"
    await ws.send_str('{"type": "message", "text": ' + "[" * 30_000 + "]" * 30_000 + "}")
    assert (await next_frame(ws, "error"))["code"] == "bad_json"
    assert (await send_message(ws, "还在吗", "alive"))["type"] == "ack"
    await ws.close()


@pytest.mark.parametrize(
    "text", ["a\u0000b", "\ud800 lone surrogate", "\udfff"], ids=["nul", "high", "low"]
)
async def test_text_no_database_can_store_is_refused(api: Api, text: str) -> None:
    ws = await api.client.ws_connect("/chat/ws")
    frame = await send_message(ws, text, "bad")
    assert frame["type"] == "error" and frame["code"] == "bad_text", frame
    assert (await send_message(ws, "正常消息", "good"))["type"] == "ack"
    await ws.close()


async def test_a_nul_in_the_name_does_not_poison_the_conversation(api: Api) -> None:
    ws = await api.client.ws_connect("/chat/ws")
    await ws.send_json({"type": "hello", "name": "张\u0000三"})
    assert (await next_frame(ws, "error"))["code"] == "bad_text"
    await ws.send_json({"type": "hello", "name": "张三", "email": "z\u0000@example.com"})
    assert (await next_frame(ws, "error"))["code"] == "bad_text"
    await ws.send_json({"type": "hello", "name": "张三"})
    first = await send_message(ws, "第一条", "1")
    second = await send_message(ws, "第二条", "2")
    assert first["type"] == second["type"] == "ack" and first["ticket"] == second["ticket"]
    ticket = await api.get(f"/api/v1/tickets/{first['ticket']}")
    assert ticket["customer"]["name"] == "张三"
    await ws.close()


async def test_a_bad_client_id_is_refused(api: Api) -> None:
    ws = await api.client.ws_connect("/chat/ws")
    await ws.send_json({"type": "message", "text": "hi", "client_id": "x\u0000"})
    assert (await next_frame(ws, "error"))["code"] == "bad_client_id"
    await ws.close()


async def test_a_busy_desk_gets_an_error_frame_not_a_dropped_socket(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = api.runtime.desk
    real_read, real_ingest = desk.read, desk.ingest

    async def exhausted(*_args: Any) -> Any:
        raise tickets.Unavailable("the database pool is exhausted", retry_after=2.0)

    monkeypatch.setattr(desk, "read", exhausted)
    ws = await api.client.ws_connect("/chat/ws")
    frame = await next_frame(ws, "error")  # the history could not be loaded
    assert frame["code"] == "unavailable" and frame["retry_after"] == 2.0
    refused = await send_message(ws, "在吗", "busy")
    assert refused["code"] == "unavailable" and refused["retry_after"] == 2.0
    monkeypatch.setattr(desk, "read", real_read)
    monkeypatch.setattr(desk, "ingest", exhausted)
    refused = await send_message(ws, "在吗", "busy")
    assert refused["code"] == "unavailable" and not ws.closed
    monkeypatch.setattr(desk, "ingest", real_ingest)
    assert (await send_message(ws, "在吗", "busy"))["type"] == "ack"
    await ws.close()


async def test_the_socket_refuses_other_sites(api: Api) -> None:
    for bad in ("https://evil.example", "null"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await api.client.ws_connect("/chat/ws", headers={"Origin": bad})
        assert refused.value.status == 403
    same = await api.client.ws_connect("/chat/ws", headers={"Origin": origin(api)})
    assert (await frames_until(same, "visitor"))[0]["type"] == "visitor"
    await same.close()


async def test_allowed_sites_may_open_the_socket_and_embed_the_page(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(
        aiohttp_client,
        stack,
        redis_prefix,
        seed=False,
        webchat_allowed_origins="https://shop.example.com, https://www.example.cn/",
        public_url="https://chat.example.com",
    )
    for allowed in (
        "https://shop.example.com",
        "https://www.example.cn",
        "https://chat.example.com",
    ):
        ws = await api.client.ws_connect("/chat/ws", headers={"Origin": allowed})
        assert (await frames_until(ws, "visitor"))[0]["type"] == "visitor"
        await ws.close()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await api.client.ws_connect("/chat/ws", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    page = await api.client.get("/chat")
    assert (
        "frame-ancestors 'self' https://shop.example.com https://www.example.cn"
        in page.headers["Content-Security-Policy"]
    )
    assert "Secure" in page.headers["Set-Cookie"]
