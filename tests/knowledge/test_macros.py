"""Macros: placeholders rendered from the ticket, customer and agent; personal macros
for their owner only, queue macros for that queue's members (made by supervisors); the
composer's lookups by name and the filled-in text."""

from __future__ import annotations

import re
from typing import Any

import pytest

import knowledge
from agent_ui.erp_api import ERP
from tests.agent_ui.webhelpers import sign_in
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.erp.apphelpers import seed_catalogue
from tests.helpers import inbound
from tickets import Role, StaffUser, parse_number

AGENT = StaffUser(7, "li@example.com", "李工", Role.AGENT, frozenset({1}))


def test_placeholders_render() -> None:
    ticket = {"number": "SB-1042", "subject": "空调漏水", "customer": {"name": "王小明"}}
    values = knowledge.placeholders(ticket, AGENT)
    body = "{customer.name}您好，工单 {ticket.number}（{ticket.subject}）由{agent.name}跟进。"
    assert (
        knowledge.render_macro(body, values) == "王小明您好，工单 SB-1042（空调漏水）由李工跟进。"
    )
    assert knowledge.render_macro("{order.status} {{x}} {nope}", values) == (
        "{order.status} {x} {nope}"
    )
    assert knowledge.render_macro("{order.status}", {**values, "order.status": "已发货"}) == (
        "已发货"
    )


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix)


async def add(api: Api, csrf: str, name: str, body: str, queue: str = "") -> int:
    response = await api.client.post(
        "/agent/kb/macros",
        data={"csrf_token": csrf, "name": name, "body": body, "queue": queue},
        allow_redirects=False,
    )
    return response.status


async def test_personal_and_queue_macros_in_the_composer(api: Api) -> None:
    ticket = await api.runtime.desk.ingest(
        inbound("+8613800138000", "空调漏水", display_name="王小明")
    )
    csrf = await sign_in(api.client, "supervisor@example.com")
    page = await (await api.client.get("/agent/kb/macros")).text()
    repairs = re.search(r'<option value="(\d+)">Repairs</option>', page)
    assert repairs is not None
    assert (
        await add(api, csrf, "Greeting", "{customer.name}您好，我是{agent.name}。", repairs[1])
        == 303
    )

    api.client.session.cookie_jar.clear()
    csrf = await sign_in(api.client, "agent1@example.com")
    assert await add(api, csrf, "Visit booked", "{ticket.number} 已预约上门。") == 303
    assert await add(api, csrf, "Sneaky", "x", repairs[1]) == 400
    base = f"/agent/tickets/{ticket.number}/macros"
    found = await (await api.client.get(base + "?q=")).json()
    names = {m["name"]: m for m in found["macros"]}
    assert set(names) == {"Greeting", "Visit booked"}
    assert names["Greeting"]["scope"] == "Repairs" and names["Visit booked"]["scope"] == "personal"
    assert [
        m["name"] for m in (await (await api.client.get(base + "?q=visit")).json())["macros"]
    ] == ["Visit booked"]
    filled = await (await api.client.get(f"{base}/{names['Greeting']['id']}")).json()
    assert filled["text"] == "王小明您好，我是王芳。" or filled["text"].startswith(
        "王小明您好，我是"
    )
    booked = await (await api.client.get(f"{base}/{names['Visit booked']['id']}")).json()
    assert booked["text"] == f"{ticket.number} 已预约上门。"

    api.client.session.cookie_jar.clear()
    await sign_in(api.client, "agent3@example.com")  # Orders only: neither macro
    other = await api.client.get(f"{base}/{names['Greeting']['id']}")
    assert other.status == 404
    listing = await (await api.client.get("/agent/kb/macros")).text()
    assert "Greeting" not in listing and "Visit booked" not in listing


async def test_order_status_from_the_erp(api: Api) -> None:
    await seed_catalogue(api.runtime.settings.database_url)  # the builtin ERP's demo orders
    ticket = await api.runtime.desk.ingest(inbound("+8613800138002", "我的订单 SO-2291 到哪了"))
    app = api.client.app
    assert app is not None
    ticket_id = parse_number(ticket.number)
    assert ticket_id is not None
    # what the ERP room's background consumer does for every customer message
    await app[ERP].examine(ticket_id, ticket.number, ticket.message_id)
    csrf = await sign_in(api.client, "supervisor@example.com")
    assert await add(api, csrf, "Order", "订单 {order.number}：{order.status}") == 303
    base = f"/agent/tickets/{ticket.number}/macros"
    (macro,) = (await (await api.client.get(base + "?q=order")).json())["macros"]
    filled = await (await api.client.get(f"{base}/{macro['id']}")).json()
    assert filled["text"] == "订单 SO-2291：shipped"
