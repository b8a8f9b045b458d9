"""The stream across server processes sharing Redis: an event written through one
process reaches sockets on another, and a client that resumes on another process than
the one it left gets what it missed there (the ids are the shared Redis stream's)."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.app import create_app
from tests.agent_ui.test_stream import A1, A3, connect, of_type, tickets_in, until
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import inbound


@pytest.fixture
async def two(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> tuple[Api, Api]:
    if stack.redis_url is None:
        pytest.skip("needs Redis: the embedded stack is one process by design")
    first = await start_api(aiohttp_client, stack, redis_prefix)
    other = await aiohttp_client(create_app(stack.settings(), redis_prefix=redis_prefix))
    return first, Api(other, first.tokens)


async def test_events_and_resume_cross_processes(two: tuple[Api, Api]) -> None:
    one, other = two
    on_one = await connect(one.client, one.tokens[A1])
    a3_on_other = await connect(other.client, other.tokens[A3])
    await until(on_one, of_type("hello"))
    await until(a3_on_other, of_type("hello"))

    written_on_other = await other.runtime.desk.ingest(inbound("+8613900000001", "空调不制冷"))
    last_id = (await until(on_one, of_type("MessageReceived", written_on_other.number)))[-1]["id"]
    await on_one.close()

    missed = await one.runtime.desk.ingest(inbound("+8613900000002", "热水器坏了"))
    resumed = await connect(other.client, other.tokens[A1], last_id=last_id)
    frames = await until(resumed, of_type("hello"))
    kinds = {(f["type"], f["data"].get("number")) for f in frames}
    assert {("TicketCreated", missed.number), ("MessageReceived", missed.number)} <= kinds
    assert ("MessageReceived", written_on_other.number) not in kinds
    assert "reload" not in {f["type"] for f in frames}

    # agent3 (Orders) on the other process saw neither Repairs ticket.
    orders = await one.runtime.desk.ingest(inbound("+8613900000003", "我的订单 SO-2291 到哪了"))
    seen = await until(a3_on_other, of_type("MessageReceived", orders.number))
    assert tickets_in(seen) == {orders.number}
    await resumed.close()
    await a3_on_other.close()
