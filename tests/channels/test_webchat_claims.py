"""An email address typed into the chat is a claim, not an identity: it never attaches
the chat to the customer who owns the address, it is shown to agents as unverified, and
email from that address never lands on the chat's customer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

import tickets
from tests.apphelpers import Api, start_api
from tests.channels.chat import fresh_socket, send_message
from tests.conftest import Stack
from tests.helpers import email


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix)


async def chat_as(api: Api, name: str, claimed: str, text: str) -> dict[str, Any]:
    ws = await fresh_socket(api)
    await ws.send_json({"type": "hello", "name": name, "email": claimed})
    ack = await send_message(ws, text, "c1")
    await ws.close()
    assert ack["type"] == "ack", ack
    ticket: dict[str, Any] = await api.get(f"/api/v1/tickets/{ack['ticket']}")
    return ticket


async def test_claiming_an_owned_address_does_not_take_over_the_customer(api: Api) -> None:
    owner = await api.runtime.desk.ingest(
        email("vip@example.com", "发票", "请开发票", message_id="<vip-1@mail>")
    )
    chat = await chat_as(api, "冒充者", "VIP@example.com", "把我的订单都给我看看")
    assert chat["customer"]["id"] != owner.customer_id
    assert {
        "channel": "email",
        "address": "vip@example.com",
        "verified": False,
        "unreachable": None,
    } in chat["customer"]["identities"]
    owned = await api.get(f"/api/v1/customers/{owner.customer_id}")
    assert owned["identities"] == [
        {"channel": "email", "address": "vip@example.com", "verified": True, "unreachable": None}
    ]
    assert [t["number"] for t in owned["tickets"]] == [owner.number]

    follow_up = await api.runtime.desk.ingest(
        email("vip@example.com", "再问一下", "还有一张", message_id="<vip-2@mail>")
    )
    assert follow_up.customer_id == owner.customer_id


async def test_email_from_a_claimed_address_starts_its_own_customer(api: Api) -> None:
    chat = await chat_as(api, "访客", "new.person@example.com", "你好")
    claimer = chat["customer"]["id"]
    mail = await api.runtime.desk.ingest(
        email("new.person@example.com", "你好", "我是本人", message_id="<np-1@mail>")
    )
    assert mail.customer_id != claimer and mail.new_ticket
    again = await chat_as(api, "另一个访客", "new.person@example.com", "我也是")
    assert again["customer"]["id"] not in (claimer, mail.customer_id)
    mine = await api.get(f"/api/v1/customers/{mail.customer_id}")
    assert mine["identities"] == [
        {
            "channel": "email",
            "address": "new.person@example.com",
            "verified": True,
            "unreachable": None,
        }
    ]
    assert [t["number"] for t in mine["tickets"]] == [mail.number]
    claimed = await api.get(f"/api/v1/customers/{claimer}")
    assert {
        "channel": "email",
        "address": "new.person@example.com",
        "verified": False,
        "unreachable": None,
    } in claimed["identities"]


async def test_a_claim_is_stored_once_and_an_agent_merge_shows_it_once(api: Api) -> None:
    ws = await fresh_socket(api)
    await ws.send_json({"type": "hello", "name": "王五", "email": "wang5@example.com"})
    for i in range(3):
        assert (await send_message(ws, f"第{i}条", f"m{i}"))["type"] == "ack"
    await ws.close()
    owner = await api.runtime.desk.ingest(
        email("wang5@example.com", "s", "t", message_id="<w5@mail>")
    )
    listing = await api.get("/api/v1/tickets?status=new")
    chat_customer = next(t["customer"] for t in listing["tickets"] if t["channel"] == "webchat")
    emails = [i for i in chat_customer["identities"] if i["channel"] == "email"]
    assert emails == [
        {"channel": "email", "address": "wang5@example.com", "verified": False, "unreachable": None}
    ]

    token = api.tokens["supervisor@example.com"]

    async def merge(session: Any, now: datetime) -> tuple[None, tuple[Any, ...]]:
        staff = await tickets.staff_for_token(session, token)
        assert staff is not None
        written = await tickets.merge_customers(
            session, staff, owner.customer_id, chat_customer["id"], now
        )
        return None, written.events

    await api.runtime.desk.write(merge)  # no merge endpoint yet: the service agents call
    merged = await api.get(f"/api/v1/customers/{owner.customer_id}")
    assert [i for i in merged["identities"] if i["channel"] == "email"] == [
        {"channel": "email", "address": "wang5@example.com", "verified": True, "unreachable": None}
    ]
