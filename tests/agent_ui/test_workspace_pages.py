"""The agent workspace pages through the real routes on both backends: views and their
counts, visibility (an Orders agent never sees a Repairs ticket anywhere), search, sorts
and cursor paging, the presence switch the routing engine obeys, offers with Accept and
Reject, CSRF on every form, and the new-ticket form."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.agent_ui.webhelpers import csrf_of, sign_in
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import eventually, inbound
from tickets import Channel

A1, A3, SUP = "agent1@example.com", "agent3@example.com", "supervisor@example.com"
NUMBER = re.compile(r'href="/agent/tickets/(SB-\d+)" class="ticket-link"')


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix)


async def as_user(api: Api, email: str) -> str:
    api.client.session.cookie_jar.clear()
    return await sign_in(api.client, email)


async def page(api: Api, path: str, *, lang: str | None = None, status: int = 200) -> str:
    headers = {"Accept-Language": lang} if lang else {}
    response = await api.client.get(path, headers=headers)
    text = await response.text()
    assert response.status == status, text
    return text


def numbers(html: str) -> list[str]:
    return NUMBER.findall(html)


def count_of(html: str, view: str) -> int:
    found = re.search(rf'data-count="{view}">(\d+)<', html)
    assert found, f"no count for {view}"
    return int(found.group(1))


async def seed(api: Api) -> dict[str, str]:
    desk = api.runtime.desk
    repairs = await desk.ingest(inbound("+8613800138000", "我家空调不制冷了", display_name="王芳"))
    fridge = await desk.ingest(inbound("+8613900139000", "冰箱门关不上", display_name="李雷"))
    order = await desk.ingest(inbound("+8613700137000", "我的订单还没到", display_name="张伟"))
    return {"repairs": repairs.number, "fridge": fridge.number, "order": order.number}


async def test_views_list_counts_and_links(api: Api) -> None:
    made = await seed(api)
    await as_user(api, A1)
    html = await page(api, "/agent", lang="en")
    assert sorted(numbers(html)) == sorted([made["repairs"], made["fridge"]])
    assert f'href="/agent/tickets/{made["repairs"]}"' in html
    assert "我家空调不制冷了" in html and "王芳" in html and ">SMS</span>" in html
    assert count_of(html, "open") == 2 and count_of(html, "unassigned") == 2
    assert count_of(html, "mine") == 0 and count_of(html, "solved") == 0
    assert 'aria-current="page"' in html and ">All open<" in html

    await api.send("PATCH", f"/api/v1/tickets/{made['fridge']}", {"assignee": A1}, who=SUP)
    await api.send("PATCH", f"/api/v1/tickets/{made['repairs']}", {"status": "pending"}, who=SUP)
    counts = await page(api, "/agent/fragments/counts")
    assert count_of(counts, "mine") == 1 and count_of(counts, "unassigned") == 1
    assert count_of(counts, "pending") == 1 and count_of(counts, "open") == 2
    mine = await page(api, "/agent/fragments/list?view=mine")
    assert numbers(mine) == [made["fridge"]]
    pending = await page(api, "/agent?view=pending")
    assert numbers(pending) == [made["repairs"]]


async def test_an_orders_agent_never_sees_a_repairs_ticket(api: Api) -> None:
    made = await seed(api)
    await as_user(api, A3)
    for view in ("mine", "unassigned", "open", "pending", "waiting_parts", "solved"):
        for path in (f"/agent?view={view}", f"/agent/fragments/list?view={view}"):
            html = await page(api, path)
            assert made["repairs"] not in html and made["fridge"] not in html, path
            assert "空调" not in html
    html = await page(api, "/agent")
    assert numbers(html) == [made["order"]]
    counts = await page(api, "/agent/fragments/counts")
    assert count_of(counts, "open") == 1 and count_of(counts, "unassigned") == 1
    for q in (made["repairs"], "空调", "+86 138 0013 8000", "王芳"):
        found = await page(api, "/agent?" + _q(q))
        assert numbers(found) == [], q
    assert numbers(await page(api, "/agent?" + _q("订单"))) == [made["order"]]


def _q(text: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"q": text})


async def test_search_by_number_phone_any_spelling_name_email_and_chinese_text(api: Api) -> None:
    made = await seed(api)
    mail = await api.runtime.desk.ingest(
        inbound("Li.Na@Example.com", "热水器漏水", channel=Channel.EMAIL, display_name="李娜")
    )
    await as_user(api, "agent2@example.com")
    cases = {
        made["repairs"]: made["repairs"],
        made["fridge"][3:]: made["fridge"],
        "+86 138-0013-8000": made["repairs"],
        "13800138000": made["repairs"],
        "空调": made["repairs"],
        "李雷": made["fridge"],
        "li.na@example.com": mail.number,
        "LI.NA@EXAMPLE.COM": mail.number,
    }
    for q, expected in cases.items():
        html = await page(api, "/agent?" + _q(q))
        assert expected in numbers(html), (q, numbers(html))
        assert len(numbers(html)) == 1, (q, numbers(html))
    empty = await page(api, "/agent?" + _q("没有这样的东西"))
    assert numbers(empty) == [] and "No tickets here." in empty


async def test_sorts_and_cursor_paging(api: Api) -> None:
    desk = api.runtime.desk
    made = [
        (await desk.ingest(inbound(f"+861350000{i:04d}", f"洗衣机故障 {i}"))).number
        for i in range(30)
    ]
    await api.send("PATCH", f"/api/v1/tickets/{made[7]}", {"priority": "urgent"}, who=SUP)
    await as_user(api, A1)
    first = await page(api, "/agent?sort=activity")
    shown = numbers(first)
    assert len(shown) == 25 and shown[0] == made[7], "the latest change is on top"
    nxt = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert nxt, "a next link"
    second = await page(api, nxt.group(1).replace("&amp;", "&"))
    rest = numbers(second)
    assert len(rest) == 5 and not set(rest) & set(shown)
    assert sorted(shown + rest) == sorted(made)
    assert 'rel="next"' not in second and "First page" in second
    by_priority = numbers(await page(api, "/agent?sort=priority"))
    assert by_priority[0] == made[7]
    forged = await page(api, "/agent?cursor=bm9wZQ")
    assert len(numbers(forged)) == 25, "a forged cursor starts over"
    fallback = await page(api, "/agent?view=nonsense&sort=nonsense")
    assert len(numbers(fallback)) == 25


async def test_presence_switch_drives_routing_and_needs_csrf(api: Api) -> None:
    csrf = await as_user(api, A1)
    html = await page(api, "/agent", lang="en")
    assert 'value="online"' in html and 'aria-pressed="true">Offline<' in html
    refused = await api.client.post("/agent/presence", data={"status": "online"})
    assert refused.status == 403

    response = await api.client.post(
        "/agent/presence",
        data={"status": "online", "csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    fragment = await response.text()
    assert response.status == 200 and 'aria-pressed="true">Online<' in fragment
    agents = {a["email"]: a for a in (await api.get("/api/v1/agents"))["agents"]}
    assert agents[A1]["presence"] == "online"

    back = await api.client.post(
        "/agent/presence",
        data={"status": "away", "csrf_token": csrf, "next": "//evil.example/"},
        allow_redirects=False,
    )
    assert back.status == 303 and back.headers["Location"] == "/agent"
    agents = {a["email"]: a for a in (await api.get("/api/v1/agents"))["agents"]}
    assert agents[A1]["presence"] == "away"
    bad = await api.client.post("/agent/presence", data={"status": "busy", "csrf_token": csrf})
    assert bad.status == 400


async def test_offer_banner_accept_and_reject(api: Api) -> None:
    csrf = await as_user(api, A1)
    await api.client.post("/agent/presence", data={"status": "online", "csrf_token": csrf})
    first = await api.runtime.desk.ingest(
        inbound("v_offer1", "空调不制冷", channel=Channel.WEBCHAT, display_name="访客甲")
    )

    async def banner() -> str:
        html = await page(api, "/agent/fragments/offers", lang="zh-CN")
        return html if first.number in html else ""

    html = await eventually(banner)
    assert ">接受</button>" in html and ">拒绝</button>" in html and "空调不制冷" in html
    offer_id = re.search(r'data-offer="([^"]+)"', html)
    assert offer_id
    refused = await api.client.post(f"/agent/offers/{offer_id.group(1)}/accept")
    assert refused.status == 403
    accepted = await api.client.post(
        f"/agent/offers/{offer_id.group(1)}/accept",
        data={"csrf_token": csrf},
        allow_redirects=False,
    )
    assert accepted.status == 303
    assert accepted.headers["Location"] == f"/agent/tickets/{first.number}"
    ticket = await api.get(f"/api/v1/tickets/{first.number}")
    assert ticket["assignee"] == A1

    second = await api.runtime.desk.ingest(
        inbound("v_offer2", "冰箱不冷", channel=Channel.WEBCHAT, display_name="访客乙")
    )

    async def second_banner() -> str:
        html = await page(api, "/agent", lang="en")
        return html if second.number in html and ">Accept</button>" in html else ""

    html = await eventually(second_banner)
    offer_id = re.search(r'data-offer="([^"]+)"', html)
    assert offer_id and ">Reject</button>" in html
    rejected = await api.client.post(
        f"/agent/offers/{offer_id.group(1)}/reject",
        data={"csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert rejected.status == 200 and second.number not in await rejected.text()
    assert (await api.get(f"/api/v1/tickets/{second.number}"))["assignee"] is None


async def test_new_ticket_form_creates_a_ticket_once(api: Api) -> None:
    csrf = await as_user(api, A1)
    form_page = await page(api, "/agent/new", lang="en")
    assert '<label for="phone">Phone</label>' in form_page and "Repairs" in form_page
    assert "Orders" not in form_page, "an agent files only into their own queues"
    key = re.search(r'name="key" value="([^"]+)"', form_page)
    assert key
    fields = {
        "customer_name": "赵敏",
        "phone": "138 0013 8999",
        "email": "",
        "channel": "voice",
        "queue": "Repairs",
        "priority": "high",
        "subject": "电话报修：空调漏水",
        "text": "客户来电，说空调一直滴水。",
        "key": key.group(1),
    }
    refused = await api.client.post("/agent/new", data=fields)
    assert refused.status == 403
    created = await api.client.post(
        "/agent/new", data={**fields, "csrf_token": csrf}, allow_redirects=False
    )
    assert created.status == 303, await created.text()
    number = created.headers["Location"].rsplit("/", 1)[1]
    ticket = await api.get(f"/api/v1/tickets/{number}")
    assert ticket["subject"] == "电话报修：空调漏水" and ticket["priority"] == "high"
    assert ticket["queue"] == "Repairs" and ticket["channel"] == "voice"
    assert ticket["messages"][0]["text"] == "客户来电，说空调一直滴水。"
    again = await api.client.post(
        "/agent/new", data={**fields, "csrf_token": csrf}, allow_redirects=False
    )
    assert again.headers["Location"] == f"/agent/tickets/{number}", "a re-sent form is one ticket"
    listed = await page(api, "/agent?" + _q("+8613800138999"))
    assert numbers(listed) == [number]

    missing = await api.client.post(
        "/agent/new",
        data={**fields, "phone": "", "key": "other", "csrf_token": csrf},
        headers={"Accept-Language": "en"},
    )
    text = await missing.text()
    assert missing.status == 400 and "phone or email" in text and "赵敏" in text


async def test_chinese_and_english_labels(api: Api) -> None:
    await as_user(api, A1)
    zh = await page(api, "/agent", lang="zh-CN")
    assert "全部未解决" in zh and "新建工单" in zh and "在线" in zh and "键盘快捷键" in zh
    en = await page(api, "/agent", lang="en")
    assert "All open" in en and "New ticket" in en and "Online" in en
    assert "全部未解决" not in en


async def test_pages_need_a_session(api: Api) -> None:
    response = await api.client.get("/agent/fragments/list", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/?next=")
    htmx = await api.client.get("/agent/fragments/counts", headers={"HX-Request": "true"})
    assert htmx.status == 401
    csrf = csrf_of(await (await api.client.get("/")).text())
    assert csrf
