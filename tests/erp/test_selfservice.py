"""Order-status self-service on web chat: the answer comes back in the customer's
language with the state and tracking, is recorded on the ticket as an automatic reply,
and a thank-you solves the ticket as self-served; ``suggest`` leaves a note instead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from erp.selfservice import PolicyError, is_thanks, order_answer, parse_policy
from tests.channels.chat import fresh_socket, next_frame, send_message
from tests.conftest import Stack
from tests.erp.apphelpers import erp_of, start_erp_api
from tests.helpers import eventually


async def _answer(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        frame = await next_frame(ws, "message", timeout=10.0)
        if frame["direction"] == "out":
            return frame


async def test_a_chinese_question_gets_a_chinese_answer_and_thanks_solve_it(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_erp_api(aiohttp_client, stack, redis_prefix, erp_self_service="Orders=auto")
    ws = await fresh_socket(api)
    await ws.send_json({"type": "hello", "name": "张伟"})
    ack = await send_message(ws, "你好，我的订单SO-2291到哪了？", "c1")
    answer = await _answer(ws)
    assert answer["text"].startswith("您好！订单 SO-2291 已发货。")
    assert "运单号：SF1402388625331" in answer["text"]
    assert "https://www.sf-express.com/" in answer["text"]
    ticket = await api.get(f"/api/v1/tickets/{ack['ticket']}")
    assert ticket["queue"] == "Orders"
    auto = [m for m in ticket["messages"] if m["direction"] == "out"]
    assert len(auto) == 1 and auto[0]["author"] == "自动回复 Auto-reply"

    await send_message(ws, "好的，谢谢！", "c2")

    async def solved() -> Any:
        data = await api.get(f"/api/v1/tickets/{ack['ticket']}")
        return data if data["status"] == "solved" else None

    data = await eventually(solved, timeout=10.0)
    assert "self-served" in data["tags"]
    await ws.close()


async def test_an_english_question_gets_an_english_answer_and_more_goes_to_an_agent(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_erp_api(aiohttp_client, stack, redis_prefix, erp_self_service="Orders=auto")
    ws = await fresh_socket(api)
    ack = await send_message(ws, "Hi, where is my order SO-2292?", "c1")
    answer = await _answer(ws)
    assert answer["text"].startswith("Hello! Order SO-2292 was delivered.")
    assert "JDVA20871365512" in answer["text"]
    await send_message(ws, "It arrived but the door seal is torn", "c2")

    async def handed_on() -> bool:
        data = await api.get(f"/api/v1/erp/tickets/{ack['ticket']}")
        return bool(data["items"])

    await eventually(handed_on)
    ticket = await api.get(f"/api/v1/tickets/{ack['ticket']}")
    assert ticket["status"] != "solved"
    assert len([m for m in ticket["messages"] if m["direction"] == "out"]) == 1
    await ws.close()


async def test_suggest_writes_a_note_and_off_stays_quiet(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_erp_api(
        aiohttp_client, stack, redis_prefix, erp_self_service="Orders=suggest"
    )
    ws = await fresh_socket(api)
    ack = await send_message(ws, "订单 SO-2293 什么时候发货？", "c1")

    async def noted() -> Any:
        data = await api.get(f"/api/v1/tickets/{ack['ticket']}")
        notes = [m for m in data["messages"] if m["direction"] == "note"]
        return notes or None

    notes = await eventually(noted, timeout=10.0)
    assert notes[0]["text"].startswith("Suggested answer:\n您好！订单 SO-2293 已确认，正在备货。")
    data = await api.get(f"/api/v1/tickets/{ack['ticket']}")
    assert not [m for m in data["messages"] if m["direction"] == "out"]
    await ws.close()


def test_policy_and_thanks() -> None:
    assert parse_policy("Orders=auto, Repairs=suggest") == {"orders": "auto", "repairs": "suggest"}
    assert parse_policy(None) == {}
    with pytest.raises(PolicyError):
        parse_policy("Orders=always")
    assert is_thanks("谢谢") and is_thanks("Thanks!") and is_thanks("好的，收到")
    assert not is_thanks("谢谢，但是还是没收到")
    assert not is_thanks("thanks, but where is it?")
    order: dict[str, Any] = {
        "reference": "SO-1",
        "state": "cancelled",
        "shipments": [],
        "promised_date": None,
    }
    assert order_answer(order, "en").startswith("Hello! Order SO-1 was cancelled.")
    assert order_answer(order, "zh").startswith("您好！订单 SO-1 已取消。")


async def test_a_customer_who_goes_quiet_is_self_served(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_erp_api(aiohttp_client, stack, redis_prefix, erp_self_service="Orders=auto")
    ws = await fresh_socket(api)
    quiet = await send_message(ws, "订单 SO-2292 到了吗", "c1")
    await _answer(ws)
    other = await fresh_socket(api)
    talking = await send_message(other, "my order SO-2291?", "c1")
    await _answer(other)
    await send_message(other, "it is still not here", "c2")
    service = erp_of(api).self_service
    assert service is not None

    async def settled() -> bool:
        data = await api.get(f"/api/v1/erp/tickets/{talking['ticket']}")
        return (
            len(data["items"]) == 1
            and len((await api.get(f"/api/v1/tickets/{talking['ticket']}"))["messages"]) == 3
        )

    await eventually(settled)
    assert await service.solve_quiet(timedelta(minutes=60), datetime.now(UTC)) == []
    later = datetime.now(UTC) + timedelta(hours=2)
    assert await service.solve_quiet(timedelta(minutes=60), later) == [quiet["ticket"]]
    data = await api.get(f"/api/v1/tickets/{quiet['ticket']}")
    assert data["status"] == "solved" and "self-served" in data["tags"]
    assert (await api.get(f"/api/v1/tickets/{talking['ticket']}"))["status"] != "solved"
    assert await service.solve_quiet(timedelta(minutes=60), later) == [], "once"
    await ws.close()
    await other.close()
