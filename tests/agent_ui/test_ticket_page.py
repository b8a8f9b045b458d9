"""The agent's ticket page through its real routes on both backends: what it shows
(escaped, sanitized email in a sandboxed frame, only allowed transitions), what its posts
do (reply, note, status, assign, retry) through the same services as the REST API, CSRF,
and 404 for a ticket outside the user's queues on the page, every fragment and every post."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from tests.agent_ui.webhelpers import sign_in
from tests.apphelpers import Api, start_api
from tests.channels.chat import next_frame
from tests.conftest import Stack
from tests.helpers import email, inbound
from tickets.models import OutboxEntry

HTMX = {"HX-Request": "true"}


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix)


async def as_user(api: Api, who: str) -> str:
    api.client.session.cookie_jar.clear()
    return await sign_in(api.client, who)


def options(html: str, select_id: str) -> list[str]:
    found = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert found, f"no select {select_id}"
    return re.findall(r'<option value="([^"]*)"', found.group(1))


async def outbox_rows(api: Api) -> list[OutboxEntry]:
    async def work(s: AsyncSession) -> list[OutboxEntry]:
        return list((await s.execute(select(OutboxEntry))).scalars())

    return await api.runtime.desk.read(work)


async def test_the_page_shows_what_customers_wrote_inert(api: Api) -> None:
    hostile = await api.runtime.desk.ingest(
        inbound(
            "+8613800138000",
            "<script>alert(1)</script>",
            display_name="<img src=x onerror=alert(1)>",
        )
    )
    await as_user(api, "agent1@example.com")
    page = await api.client.get(f"/agent/tickets/{hostile.number}")
    html = await page.text()
    assert page.status == 200
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x onerror" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<label for="reply-text">Reply</label>' in html
    assert '<button type="submit" class="primary">Send</button>' in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    fragment = await api.client.get(f"/agent/tickets/{hostile.number}/timeline", headers=HTMX)
    body = await fragment.text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert" not in body


async def test_email_html_is_in_an_empty_sandbox(api: Api) -> None:
    msg = email("li@example.com", "空调不制冷", "plain", message_id="<m1@example.com>")
    html = '<p>Hello <a href="https://example.com/x">link</a> "quoted"</p>'
    ingested = await api.runtime.desk.ingest(
        tickets.InboundMessage(
            channel=msg.channel,
            external_id=msg.external_id,
            sender=msg.sender,
            text=msg.text,
            received_at=msg.received_at,
            subject=msg.subject,
            thread=msg.thread,
            html=html,
        )
    )
    await as_user(api, "agent1@example.com")
    page = await (await api.client.get(f"/agent/tickets/{ingested.number}")).text()
    frame = re.search(r"<iframe[^>]*>", page)
    assert frame, "the email HTML is shown in a frame"
    tag = frame.group(0)
    assert " sandbox " in tag and "allow-scripts" not in tag and "allow-same-origin" not in tag
    assert 'srcdoc="&lt;p&gt;Hello' in tag and "&#34;quoted&#34;" in tag


async def test_zh_ui_speaks_chinese(api: Api) -> None:
    t = await api.runtime.desk.ingest(inbound("+8613800138000", "洗衣机漏水"))
    await as_user(api, "agent1@example.com")
    page = await api.client.get(f"/agent/tickets/{t.number}", headers={"Accept-Language": "zh-CN"})
    html = await page.text()
    assert '<label for="reply-text">回复</label>' in html and ">发送</button>" in html
    assert "内部备注" in html


async def test_a_ticket_outside_your_queues_is_404_everywhere(api: Api) -> None:
    repair = await api.runtime.desk.ingest(inbound("+8613800138001", "洗衣机漏水"))
    csrf = await as_user(api, "agent3@example.com")
    headers = {"X-CSRF-Token": csrf}
    for number in (repair.number, "SB-999999", "nonsense"):
        base = f"/agent/tickets/{number}"
        page = await api.client.get(base)
        assert page.status == 404 and "Not found." in await page.text()
        assert "洗衣机" not in await page.text()
        for part in ("timeline", "controls", "side", "customers?q=x"):
            got = await api.client.get(f"{base}/{part}", headers=HTMX)
            assert got.status == 404, (part, got.status)
        posts = {
            "messages": {"text": "hi"},
            "messages?note=1": {"text": "hi", "note": "1"},
            "update": {"priority": "high"},
            "messages/1/retry": {},
            "merge": {"merge": "1"},
            "unmerge": {"merge_id": "1"},
        }
        for path, form in posts.items():
            for extra in ({}, HTMX):
                got = await api.client.post(
                    f"{base}/{path}", data=form, headers={**headers, **extra}
                )
                assert got.status == 404, (path, got.status, await got.text())
    detail = await api.get(f"/api/v1/tickets/{repair.number}")
    assert detail["priority"] == "normal" and len(detail["messages"]) == 1


async def test_posts_need_the_csrf_token(api: Api) -> None:
    t = await api.runtime.desk.ingest(inbound("+8613800138000", "洗衣机漏水"))
    await as_user(api, "agent1@example.com")
    base = f"/agent/tickets/{t.number}"
    for path, form in (("messages", {"text": "hi"}), ("update", {"status": "pending"})):
        got = await api.client.post(f"{base}/{path}", data=form, headers=HTMX)
        assert got.status == 403
        got = await api.client.post(
            f"{base}/{path}", data={**form, "csrf_token": "wrong"}, allow_redirects=False
        )
        assert got.status == 403
    detail = await api.get(f"/api/v1/tickets/{t.number}")
    assert detail["status"] == "new" and len(detail["messages"]) == 1


def chat(visitor: str, text: str) -> tickets.InboundMessage:
    return inbound(visitor, text, channel=tickets.Channel.WEBCHAT, display_name="李明")


async def test_reply_note_status_and_assign_through_the_page(api: Api) -> None:
    t = await api.runtime.desk.ingest(chat("visitor-1", "洗衣机漏水"))
    csrf = await as_user(api, "agent1@example.com")
    base = f"/agent/tickets/{t.number}"
    headers = {**HTMX, "X-CSRF-Token": csrf}

    replied = await api.client.post(
        f"{base}/messages", data={"text": "请问型号？", "channel": "webchat"}, headers=headers
    )
    assert replied.status == 200
    timeline = await replied.text()
    assert 'id="timeline"' in timeline and "请问型号？" in timeline
    noted = await api.client.post(
        f"{base}/messages", data={"text": "客户是VIP", "note": "1"}, headers=headers
    )
    assert noted.status == 200 and 'class="msg msg-note"' in await noted.text()

    plain = await api.client.post(
        f"{base}/messages",
        data={"text": "第二条", "csrf_token": csrf},
        allow_redirects=False,
    )
    assert plain.status == 303 and plain.headers["Location"] == base

    updated = await api.client.post(
        f"{base}/update",
        data={
            "status": "pending",
            "priority": "high",
            "assignee": "agent1@example.com",
            "tags": "漏水, VIP",
        },
        headers=headers,
    )
    assert updated.status == 200, await updated.text()
    assert updated.headers.get("HX-Trigger") == "ticket-side"
    detail = await api.get(f"/api/v1/tickets/{t.number}")
    assert detail["status"] == "pending" and detail["priority"] == "high"
    assert detail["assignee"] == "agent1@example.com" and detail["tags"] == ["vip", "漏水"]
    assert [(m["direction"], m["text"]) for m in detail["messages"]] == [
        ("in", "洗衣机漏水"),
        ("out", "请问型号？"),
        ("note", "客户是VIP"),
        ("out", "第二条"),
    ]
    rows = await outbox_rows(api)
    out_ids = {m["id"] for m in detail["messages"] if m["direction"] == "out"}
    assert {r.message_id for r in rows} == out_ids, "a note never gets an outbox row"

    refused = await api.client.post(
        f"{base}/update", data={"assignee": "agent2@example.com"}, headers=headers
    )
    assert refused.status == 403 and "only to themselves" in await refused.text()
    wrong = await api.client.post(f"{base}/update", data={"status": "new"}, headers=headers)
    assert wrong.status == 400 and "cannot become new" in await wrong.text()
    inline = await api.client.post(
        f"{base}/update", data={"status": "new", "csrf_token": csrf}, allow_redirects=False
    )
    assert inline.status == 400
    assert re.search(
        r'id="controls-error"[^>]*>a pending ticket cannot become new<', await inline.text()
    )
    assert (await api.get(f"/api/v1/tickets/{t.number}"))["assignee"] == "agent1@example.com"


async def test_agents_are_offered_only_what_they_may_do(api: Api) -> None:
    t = await api.runtime.desk.ingest(inbound("+8613800138000", "洗衣机漏水"))
    await api.send("PATCH", f"/api/v1/tickets/{t.number}", {"status": "solved"})
    await as_user(api, "agent1@example.com")
    html = await (await api.client.get(f"/agent/tickets/{t.number}")).text()
    assert options(html, "c-status") == ["solved", "open", "closed"]
    assert options(html, "c-assignee") == ["", "agent1@example.com"]
    assert '<select id="c-queue"' not in html
    assert "Merge a duplicate customer" not in html

    await as_user(api, "supervisor@example.com")
    html = await (await api.client.get(f"/agent/tickets/{t.number}")).text()
    assert set(options(html, "c-assignee")) >= {"", "agent1@example.com", "agent2@example.com"}
    assert "agent3@example.com" not in options(html, "c-assignee"), "Repairs members only"
    assert "Orders" in options(html, "c-queue")
    assert "Merge a duplicate customer" in html

    await api.send("PATCH", f"/api/v1/tickets/{t.number}", {"status": "closed"})
    csrf = await as_user(api, "agent1@example.com")
    html = await (await api.client.get(f"/agent/tickets/{t.number}")).text()
    assert '<select id="c-status"' not in html and "only internal notes" in html
    headers = {**HTMX, "X-CSRF-Token": csrf}
    base = f"/agent/tickets/{t.number}"
    note = await api.client.post(f"{base}/messages", data={"text": "结案备注"}, headers=headers)
    assert note.status == 200
    change = await api.client.post(f"{base}/update", data={"priority": "low"}, headers=headers)
    assert change.status == 409
    detail = await api.get(f"/api/v1/tickets/{t.number}")
    assert detail["messages"][-1]["direction"] == "note" and detail["priority"] == "normal"


async def test_retry_of_a_failed_message_queues_it_again(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix, run_workers=False)
    t = await api.runtime.desk.ingest(chat("visitor-2", "洗衣机漏水"))
    csrf = await as_user(api, "agent1@example.com")
    base = f"/agent/tickets/{t.number}"
    headers = {**HTMX, "X-CSRF-Token": csrf}
    sent = await api.client.post(f"{base}/messages", data={"text": "型号？"}, headers=headers)
    assert sent.status == 200
    policy = tickets.RetryPolicy()
    owner = uuid.uuid4().hex

    async def fail(s: AsyncSession, now: datetime) -> tuple[int, list[tickets.Event]]:
        (leased,) = await tickets.lease_due(s, now, policy, owner=owner)
        events = await tickets.mark_failed(
            s,
            leased.message_id,
            "21610: unsubscribed <b>",
            now,
            policy,
            owner=owner,
            permanent=True,
        )
        return leased.message_id, events

    message_id = await api.runtime.desk.write(fail)
    html = await (await api.client.get(base)).text()
    assert "21610: unsubscribed &lt;b&gt;" in html and ">Retry</button>" in html
    retried = await api.client.post(f"{base}/messages/{message_id}/retry", headers=headers)
    assert retried.status == 200, await retried.text()
    assert ">Retry</button>" not in await retried.text()
    (row,) = await outbox_rows(api)
    assert row.state == "pending" and row.attempts == 0 and row.last_error is None
    detail = await api.get(f"/api/v1/tickets/{t.number}")
    out = detail["messages"][-1]
    assert out["delivery_status"] == "queued" and out["delivery_error"] is None
    again = await api.client.post(f"{base}/messages/{message_id}/retry", headers=headers)
    assert again.status == 409, "only a failed message is retried"


async def test_notes_never_reach_the_customers_chat(api: Api) -> None:
    await api.client.get("/chat")
    ws = await api.client.ws_connect("/chat/ws")
    await ws.send_json({"type": "hello", "name": "李明"})
    await ws.send_json({"type": "message", "text": "空调不制冷", "client_id": "c1"})
    number = (await next_frame(ws, "ack"))["ticket"]
    await next_frame(ws, "message")
    csrf = await sign_in(api.client, "agent1@example.com")
    headers = {**HTMX, "X-CSRF-Token": csrf}
    base = f"/agent/tickets/{number}"
    html = await (await api.client.get(base)).text()
    assert options(html, "via") == ["webchat"]
    note = await api.client.post(
        f"{base}/messages", data={"text": "内部：先查保修", "note": "1"}, headers=headers
    )
    assert note.status == 200
    reply = await api.client.post(
        f"{base}/messages",
        data={"text": "您好，请问型号？", "channel": "webchat"},
        headers=headers,
    )
    assert reply.status == 200
    pushed = await next_frame(ws, "message")
    assert pushed["direction"] == "out" and pushed["text"] == "您好，请问型号？"
    await ws.close()
