"""Web chat rate limits through the real socket: per visitor, per client address (new
visitors and messages), shared between processes through Redis, and resends that are free."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import WSCloseCode

from tests.apphelpers import Api, start_api
from tests.channels.chat import frames_until, fresh_socket, next_frame, send_message
from tests.conftest import Stack


async def test_messages_are_rate_limited_per_visitor(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(
        aiohttp_client, stack, redis_prefix, seed=False, webchat_rate_per_minute=3
    )
    ws = await api.client.ws_connect("/chat/ws")
    answers = [await send_message(ws, f"刷屏 {i}", f"r{i}") for i in range(5)]
    assert [a.get("code", a["type"]) for a in answers] == [
        "ack",
        "ack",
        "ack",
        "rate_limited",
        "rate_limited",
    ]
    assert answers[3]["retry_after"] == 20.0 and answers[3]["message"]
    await ws.close()


async def test_one_address_cannot_mint_a_crowd_of_visitors(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix, webchat_new_visitors_per_minute=3)
    for i in range(3):
        ws = await fresh_socket(api)
        await next_frame(ws, "visitor")
        assert (await send_message(ws, f"新访客 {i}", "a"))["type"] == "ack"
        await ws.close()
    refused = await fresh_socket(api)
    frames = await frames_until(refused, "error")
    assert [f["type"] for f in frames] == ["error"]
    assert frames[0]["code"] == "rate_limited" and frames[0]["retry_after"] == 20.0
    await refused.receive(timeout=5)
    assert refused.close_code == WSCloseCode.TRY_AGAIN_LATER

    api.client.session.cookie_jar.clear()
    page = await api.client.get("/chat")
    assert page.status == 200 and not page.cookies  # the page mints no visitor either
    assert len((await api.get("/api/v1/tickets"))["tickets"]) == 3


async def test_messages_are_rate_limited_per_address_across_visitors(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(
        aiohttp_client, stack, redis_prefix, seed=False, webchat_address_rate_per_minute=4
    )
    first = await fresh_socket(api)
    second = await fresh_socket(api)
    codes = []
    for i, ws in enumerate([first, first, second, second, second]):
        answer = await send_message(ws, f"同一地址 {i}", f"m{i}")
        codes.append(answer.get("code", answer["type"]))
    assert codes == ["ack", "ack", "ack", "ack", "rate_limited"]
    await first.close()
    await second.close()


async def test_a_resend_is_acknowledged_as_stored_and_costs_nothing(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(
        aiohttp_client, stack, redis_prefix, seed=False, webchat_rate_per_minute=2
    )
    ws = await api.client.ws_connect("/chat/ws")
    stored = await send_message(ws, "只说一次", "once")
    assert stored["type"] == "ack"
    for _ in range(4):  # a flaky network resends the same message
        again = await send_message(ws, "只说一次", "once")
        assert again == stored
    assert (await send_message(ws, "第二条", "two"))["type"] == "ack"
    assert (await send_message(ws, "第三条", "three"))["code"] == "rate_limited"
    assert await send_message(ws, "只说一次", "once") == stored
    await ws.close()


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    async def mint(api: Api, client_ip: str) -> str:
        ws = await fresh_socket(api, headers={"X-Forwarded-For": f"{client_ip}, 10.0.0.9"})
        frame = (await frames_until(ws, "visitor", "error"))[-1]
        await ws.close()
        return str(frame["type"])

    direct = await start_api(
        aiohttp_client, stack, redis_prefix, seed=False, webchat_new_visitors_per_minute=1
    )
    assert [await mint(direct, ip) for ip in ("203.0.113.1", "203.0.113.2")] == [
        "visitor",
        "error",
    ]
    proxied = await start_api(
        aiohttp_client,
        stack,
        f"{redis_prefix}:proxied",
        seed=False,
        webchat_new_visitors_per_minute=1,
        trusted_proxies="127.0.0.1, 10.0.0.0/8",
    )
    assert [await mint(proxied, ip) for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.1")] == [
        "visitor",
        "visitor",
        "error",
    ]


async def test_limits_are_shared_between_processes_through_redis(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    if stack.redis_url is None:
        pytest.skip("processes share rate limits only through Redis")
    front = await start_api(
        aiohttp_client, stack, redis_prefix, seed=False, webchat_new_visitors_per_minute=2
    )
    back = await start_api(
        aiohttp_client, stack, redis_prefix, seed=False, webchat_new_visitors_per_minute=2
    )
    kinds = []
    for api in (front, back, front, back):
        ws = await fresh_socket(api)
        kinds.append((await frames_until(ws, "visitor", "error"))[-1]["type"])
        await ws.close()
    assert kinds == ["visitor", "visitor", "error", "error"]
