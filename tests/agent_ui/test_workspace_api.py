"""The workspace's REST additions through the real server on both stacks: opening a
ticket by hand (find-or-create the customer, idempotent retries, concurrent twins),
undoing a merge exactly, the views and their counts, and the user's own settings."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import email, eventually, inbound
from tickets.contracts import Channel
from tickets.models import AuditEntry, Message, Ticket

NEW = {
    "customer": {"name": "王小明", "phone": "138-0013-8000"},
    "subject": "电话报修：空调不制冷",
    "text": "客户来电：我家空调不制冷了",
}


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix)


async def ticket_count(api: Api) -> int:
    async def read(session: AsyncSession) -> int:
        return int(await session.scalar(select(func.count()).select_from(Ticket)) or 0)

    return await api.runtime.desk.read(read)


async def post_ticket(
    api: Api, body: Any, *, key: str | None = None, who: str = "agent1@example.com"
) -> tuple[int, Any, Any]:
    headers = api.as_(who)
    if key is not None:
        headers["Idempotency-Key"] = key
    response = await api.client.post("/api/v1/tickets", json=body, headers=headers)
    return response.status, await response.json(), response.headers


async def test_a_logged_call_becomes_a_ticket_of_the_existing_customer(api: Api) -> None:
    earlier = await api.runtime.desk.ingest(inbound("+8613800138000", "上次的问题"))
    known = (await api.get(f"/api/v1/tickets/{earlier.number}"))["customer"]["id"]
    status, ticket, _ = await post_ticket(api, {**NEW, "priority": "high", "tags": ["Phone"]})
    assert status == 201, ticket
    assert ticket["number"] != earlier.number and ticket["status"] == "new"
    assert ticket["channel"] == "sms" and ticket["queue"] == "Repairs"
    assert ticket["priority"] == "high" and ticket["tags"] == ["phone"]
    assert ticket["customer"]["id"] == known
    assert [(m["direction"], m["text"]) for m in ticket["messages"]] == [("in", NEW["text"])]
    assert ticket["messages"][0]["author"] == "王小明"

    async def audit(session: AsyncSession) -> list[tuple[str, str, Any]]:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.actor_label, AuditEntry.data).where(
                AuditEntry.action == "ticket.created", AuditEntry.actor_kind == "user"
            )
        )
        return [(r[0], r[1], r[2]) for r in rows.all()]

    ((_action, actor, data),) = await api.runtime.desk.read(audit)
    assert actor == "agent1@example.com" and data["logged_by"] == "agent1@example.com"

    async def author(session: AsyncSession) -> Any:
        return await session.scalar(
            select(Message.author_user_id).where(Message.id == ticket["messages"][0]["id"])
        )

    assert await api.runtime.desk.read(author) is not None


async def test_a_new_customer_gets_both_identities_and_channel_defaults(api: Api) -> None:
    body = {
        "customer": {"name": "Emma", "email": "Emma@Example.com", "phone": "+86 139 0013 9000"},
        "subject": "Refund for order SO-1",
        "text": "She called about a refund",
        "queue": "Orders",
    }
    status, ticket, _ = await post_ticket(api, body, who="supervisor@example.com")
    assert status == 201
    assert ticket["channel"] == "email" and ticket["queue"] == "Orders"
    assert {(i["channel"], i["address"]) for i in ticket["customer"]["identities"]} == {
        ("email", "emma@example.com"),
        ("phone", "+8613900139000"),
    }
    # the customer's next mail threads to the same customer
    mail = await api.runtime.desk.ingest(
        email("emma@example.com", "again", "hello?", message_id="<e1@x>")
    )
    assert (await api.get(f"/api/v1/tickets/{mail.number}"))["customer"]["id"] == ticket[
        "customer"
    ]["id"]
    voice = {**body, "channel": "voice", "customer": {"name": "Emma", "phone": "13900139000"}}
    status, logged, _ = await post_ticket(api, voice, who="supervisor@example.com")
    assert status == 201 and logged["channel"] == "voice"
    assert logged["customer"]["id"] == ticket["customer"]["id"]


async def test_bad_new_tickets_are_refused(api: Api) -> None:
    before = await ticket_count(api)
    bad: list[tuple[Any, int]] = [
        ({**NEW, "customer": {"name": "x"}}, 400),  # no way to answer
        ({**NEW, "customer": {"name": "x", "phone": "not a phone"}}, 400),
        ({**NEW, "customer": {"name": "x", "email": "nope"}}, 400),
        ({**NEW, "customer": {"name": " ", "phone": "13800138000"}}, 400),
        ({**NEW, "customer": {"name": "x", "phone": "13800138000", "x": 1}}, 400),
        ({**NEW, "customer": "王小明"}, 400),
        ({**NEW, "channel": "email"}, 400),  # no email given
        ({**NEW, "channel": "webchat"}, 400),
        ({**NEW, "channel": "fax"}, 400),
        ({**NEW, "priority": "asap"}, 400),
        ({**NEW, "queue": "Nowhere"}, 400),
        ({**NEW, "subject": ""}, 400),
        ({**NEW, "text": "   "}, 400),
        ({**NEW, "tags": [1]}, 400),
        ({**NEW, "extra": True}, 400),
        ({k: v for k, v in NEW.items() if k != "subject"}, 400),
    ]
    for body, expected in bad:
        status, answer, _ = await post_ticket(api, body)
        assert status == expected, (body, answer)
    status, answer, _ = await post_ticket(api, {**NEW, "queue": "Orders"})  # not agent1's
    assert status == 403, answer
    status, answer, _ = await post_ticket(api, NEW, key="")
    assert status == 400, answer
    status, answer, _ = await post_ticket(api, NEW, key="k" * 201)
    assert status == 400, answer
    assert await ticket_count(api) == before


async def test_an_idempotency_key_makes_a_retry_answer_the_first_ticket(api: Api) -> None:
    status, first, headers = await post_ticket(api, NEW, key="form-42")
    assert status == 201 and "Idempotent-Replayed" not in headers
    status, again, headers = await post_ticket(api, NEW, key="form-42")
    assert status == 201 and headers["Idempotent-Replayed"] == "true"
    assert again["number"] == first["number"] and again["messages"] == first["messages"]
    assert await ticket_count(api) == 1
    status, other, _ = await post_ticket(api, {**NEW, "text": "another call"}, key="form-42")
    assert status == 409, other
    # keys are per user: another user's same key is a new ticket
    status, theirs, _ = await post_ticket(api, NEW, key="form-42", who="agent2@example.com")
    assert status == 201 and theirs["number"] != first["number"]
    assert await ticket_count(api) == 2


async def test_concurrent_twins_with_one_key_make_one_ticket(api: Api) -> None:
    answers = await asyncio.gather(*(post_ticket(api, NEW, key="twin") for _ in range(6)))
    assert [a[0] for a in answers] == [201] * 6, [a[1] for a in answers]
    assert len({a[1]["number"] for a in answers}) == 1
    assert sum(1 for a in answers if "Idempotent-Replayed" not in a[2]) == 1
    assert await ticket_count(api) == 1


async def customer_state(api: Api, customer_id: int) -> tuple[set[Any], set[str]]:
    data = await api.get(f"/api/v1/customers/{customer_id}")
    return (
        {(i["channel"], i["address"], i["verified"]) for i in data["identities"]},
        {t["number"] for t in data["tickets"]},
    )


async def test_unmerge_restores_every_identity_and_ticket(api: Api) -> None:
    chat = await api.runtime.desk.ingest(
        inbound(
            "v_merge",
            "你好",
            channel=Channel.WEBCHAT,
            display_name="李明",
            claimed_email="li@example.com",
        )
    )
    sms1 = await api.runtime.desk.ingest(inbound("+8613800138009", "空调坏了"))
    mail = await api.runtime.desk.ingest(
        email("li@example.com", "空调", "还是坏的", message_id="<li1@x>")
    )
    keep = (await api.get(f"/api/v1/tickets/{chat.number}"))["customer"]["id"]
    gone = (await api.get(f"/api/v1/tickets/{sms1.number}"))["customer"]["id"]
    third = (await api.get(f"/api/v1/tickets/{mail.number}"))["customer"]["id"]
    before = {c: await customer_state(api, c) for c in (keep, gone, third)}

    merged = await api.send("POST", f"/api/v1/customers/{keep}/merge", {"merge": gone})
    merge_id = merged["merge_id"]
    second = await api.send("POST", f"/api/v1/customers/{keep}/merge", {"merge": third})
    assert [m["id"] for m in second["merges"]] == [second["merge_id"], merge_id]
    assert second["merges"][1]["merged_id"] == gone and second["merges"][1]["tickets"] == 1
    assert len((await customer_state(api, keep))[1]) == 3

    path = f"/api/v1/customers/{keep}/unmerge"
    denied = await api.send(
        "POST", path, {"merge_id": merge_id}, who="agent1@example.com", status=403
    )
    assert denied["error"]["code"] == "forbidden"
    await api.send("POST", path, {"merge_id": 424242}, status=404)
    await api.send("POST", f"/api/v1/customers/{gone}/unmerge", {"merge_id": merge_id}, status=404)
    for bad in ({"merge_id": "1"}, {}, {"merge_id": 1, "x": 1}):
        await api.send("POST", path, bad, status=400)

    after_first = await api.send("POST", path, {"merge_id": merge_id})
    assert [m["id"] for m in after_first["merges"]] == [second["merge_id"]]
    assert await customer_state(api, gone) == before[gone]
    await api.send("POST", path, {"merge_id": merge_id}, status=409)  # undone already
    await api.send("POST", path, {"merge_id": second["merge_id"]})
    for customer, state in before.items():
        assert await customer_state(api, customer) == state, customer
    assert (await api.get(f"/api/v1/tickets/{sms1.number}"))["customer"]["id"] == gone
    # the restored customers take part in merges again, and a new sms finds its owner
    await api.send("POST", f"/api/v1/customers/{gone}/merge", {"merge": third})
    again = await api.runtime.desk.ingest(inbound("+8613800138009", "又坏了"))
    assert (await api.get(f"/api/v1/tickets/{again.number}"))["customer"]["id"] == gone


async def test_a_later_merge_of_the_kept_customer_blocks_the_undo(api: Api) -> None:
    a = await api.runtime.desk.ingest(inbound("+8613800138001", "a"))
    b = await api.runtime.desk.ingest(inbound("+8613800138002", "b"))
    c = await api.runtime.desk.ingest(inbound("+8613800138003", "c"))
    ids = [(await api.get(f"/api/v1/tickets/{t.number}"))["customer"]["id"] for t in (a, b, c)]
    first = await api.send("POST", f"/api/v1/customers/{ids[0]}/merge", {"merge": ids[1]})
    later = await api.send("POST", f"/api/v1/customers/{ids[2]}/merge", {"merge": ids[0]})
    blocked = await api.send(
        "POST", f"/api/v1/customers/{ids[0]}/unmerge", {"merge_id": first["merge_id"]}, status=409
    )
    assert "undo that merge first" in blocked["error"]["message"]
    await api.send("POST", f"/api/v1/customers/{ids[2]}/unmerge", {"merge_id": later["merge_id"]})
    await api.send("POST", f"/api/v1/customers/{ids[0]}/unmerge", {"merge_id": first["merge_id"]})
    assert (await api.get(f"/api/v1/tickets/{b.number}"))["customer"]["id"] == ids[1]


async def test_views_and_counts_over_rest(api: Api) -> None:
    repair = await api.runtime.desk.ingest(inbound("+8613800138000", "我家空调不制冷了"))
    order = await api.runtime.desk.ingest(inbound("+8613800138002", "我的订单 SO-2291 到哪了"))
    counts = (await api.get("/api/v1/views", who="agent3@example.com"))["counts"]
    assert counts["open"] == 1 and counts["unassigned"] == 1 and counts["mine"] == 0
    page = await api.get("/api/v1/views/open", who="agent3@example.com")
    assert [t["number"] for t in page["tickets"]] == [order.number]
    found = await api.get("/api/v1/views/all?q=空调", who="agent1@example.com")
    assert [t["number"] for t in found["tickets"]] == [repair.number]
    assert (await api.get("/api/v1/views/all?q=空调", who="agent3@example.com"))["tickets"] == []
    found = await api.get("/api/v1/tickets?q=%2B86%20138%200013%208000", who="agent1@example.com")
    assert [t["number"] for t in found["tickets"]] == [repair.number]
    first = await api.get("/api/v1/views/open?limit=1&sort=activity")
    assert first["next_cursor"]
    rest = await api.get(f"/api/v1/views/open?limit=1&sort=activity&cursor={first['next_cursor']}")
    assert {t["number"] for t in first["tickets"] + rest["tickets"]} == {
        repair.number,
        order.number,
    }
    for bad in ("cursor=nope", "cursor=SB-1001", "sort=random", "limit=0", f"q={'x' * 201}"):
        answer = await api.get(f"/api/v1/views/open?{bad}", status=400)
        assert answer["error"]["code"] == "invalid", bad
    wrong = await api.get(f"/api/v1/views/pending?cursor={first['next_cursor']}", status=400)
    assert wrong["error"]["message"] == "bad cursor"
    await api.get("/api/v1/views/everything", status=404)


async def test_preferences_and_password(api: Api) -> None:
    me = await api.get("/api/v1/me", who="agent1@example.com")
    assert me["locale"] is None and me["time_zone"] is None
    who = "agent1@example.com"
    me = await api.send(
        "PATCH", "/api/v1/me", {"locale": "zh_CN", "time_zone": "Asia/Shanghai"}, who=who
    )
    assert me["locale"] == "zh_CN" and me["time_zone"] == "Asia/Shanghai"
    assert (await api.get("/api/v1/me", who=who))["time_zone"] == "Asia/Shanghai"
    for bad in (
        {"locale": "fr"},
        {"time_zone": "Mars/Olympus"},
        {"time_zone": "../../etc/passwd"},
        {"time_zone": ""},
        {"locale": 1},
        {"theme": "dark"},
    ):
        await api.send("PATCH", "/api/v1/me", bad, who=who, status=400)
    me = await api.send("PATCH", "/api/v1/me", {"time_zone": None}, who=who)
    assert me["time_zone"] is None and me["locale"] == "zh_CN"
    staff = await api.runtime.desk.read(lambda s: tickets.staff_for_password(s, who, "demo"))
    assert staff is not None
    zone = await api.runtime.desk.read(lambda s: tickets.effective_time_zone(s, staff))
    assert zone == "Asia/Shanghai"  # the demo's business calendar

    path = "/api/v1/me/password"
    wrong = await api.send(
        "POST", path, {"old": "guess", "new": "a-long-password"}, who=who, status=403
    )
    assert wrong["error"]["code"] == "forbidden"
    await api.send("POST", path, {"old": "demo", "new": "short"}, who=who, status=400)
    await api.send("POST", path, {"old": "demo", "new": "x" * 1025}, who=who, status=400)
    await api.send("POST", path, {"old": "demo", "new": "a-long-password"}, who=who, status=204)
    desk = api.runtime.desk
    assert await desk.read(lambda s: tickets.staff_for_password(s, who, "demo")) is None
    assert await desk.read(lambda s: tickets.staff_for_password(s, who, "a-long-password"))

    async def audited(session: AsyncSession) -> list[str]:
        rows = await session.execute(
            select(AuditEntry.action).where(AuditEntry.actor_label == who).order_by(AuditEntry.id)
        )
        return list(rows.scalars())

    actions = await desk.read(audited)
    assert actions.count("user.preferences") == 2 and actions.count("user.password_changed") == 1


async def test_the_openapi_document_has_the_new_routes(api: Api) -> None:
    doc = await (await api.client.get("/api/v1/openapi.json")).json()
    create = doc["paths"]["/api/v1/tickets"]["post"]
    assert "201" in create["responses"]
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= create["parameters"][0].items()
    assert doc["paths"]["/api/v1/customers/{id}/unmerge"]["post"]["requestBody"]
    assert "/api/v1/views/{view}" in doc["paths"] and "/api/v1/views" in doc["paths"]


async def test_routing_assigns_a_ticket_opened_by_hand(api: Api) -> None:
    """An SMS ticket is pushed to an online agent of its queue (chat and calls are
    offered); either way routing saw the ``TicketCreated``."""
    a1 = "agent1@example.com"
    await api.send("POST", "/api/v1/presence", {"status": "online"}, who=a1)
    status, ticket, _ = await post_ticket(api, NEW, who="supervisor@example.com")
    assert status == 201 and ticket["queue"] == "Repairs"

    async def assignee() -> Any:
        return (await api.get(f"/api/v1/tickets/{ticket['number']}"))["assignee"]

    assert await eventually(assignee) == a1
