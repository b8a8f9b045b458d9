"""The workspace's views through ``tickets.list_view`` and ``tickets.view_counts`` on SQLite
and PostgreSQL: what each view holds, that an agent never sees another queue's ticket in
any view or count, search in every spelling, sorting, and keyset cursors that stay stable
under ties and inserts and refuse anything forged."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from switchboard import db
from switchboard.seed import seed_demo
from tests.helpers import T0, Clock, RecordingPublisher, email, inbound
from tickets import Desk, InboundMessage, Invalid, StaffUser, TicketChanges
from tickets.sla import SlaClocks
from tickets.staff import load_staff

ORDERS_WORDS = ("订单", "order")


def choose(msg: InboundMessage, tier: str) -> Sequence[str]:
    text = f"{msg.subject or ''} {msg.text}".lower()
    return ["Orders"] if any(w in text for w in ORDERS_WORDS) else ["Repairs"]


@dataclass
class World:
    desk: Desk
    clock: Clock
    staff: dict[str, StaffUser]
    sla: SlaClocks

    async def ingest(self, msg: InboundMessage) -> str:
        result = await self.desk.ingest(msg)
        for event in result.events:
            await self.sla.on_event(event)
        return result.number

    async def change(self, number: str, who: str = "supervisor", **changes: Any) -> None:
        staff = self.staff[who]

        async def work(
            session: AsyncSession, now: Any
        ) -> tuple[tuple[tickets.Event, ...], tuple[tickets.Event, ...]]:
            written = await tickets.update_ticket(
                session, staff, number, TicketChanges(**changes), now
            )
            return written.events, written.events

        for event in await self.desk.write(work):
            await self.sla.on_event(event)

    async def view(self, who: str, view: str, **kw: Any) -> list[str]:
        rows, _ = await self.page(who, view, limit=200, **kw)
        return [r["number"] for r in rows]

    async def page(self, who: str, view: str, **kw: Any) -> tuple[list[dict[str, Any]], str | None]:
        staff = self.staff[who]
        kw.setdefault("now", self.clock())
        return await self.desk.read(lambda s: tickets.list_view(s, staff, view, **kw))

    async def counts(self, who: str) -> dict[str, int]:
        staff = self.staff[who]
        return await self.desk.read(lambda s: tickets.view_counts(s, staff, now=self.clock()))


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    engine = db.create_engine(database_url)
    clock = Clock(T0)
    desk = Desk(db.session_factory(engine), RecordingPublisher(), clock, choose_queue=choose)

    async def seed(session: AsyncSession, now: Any) -> tuple[dict[str, StaffUser], tuple[()]]:
        await seed_demo(session, now)
        out = {}
        for name in ("agent1", "agent2", "agent3", "supervisor", "admin"):
            user_id = await tickets.user_id_by_email(session, f"{name}@example.com")
            found = await load_staff(session, user_id)
            assert found is not None
            out[name] = found
        return out, ()

    staff = await desk.write(seed)
    yield World(desk, clock, staff, SlaClocks(desk))
    await desk.close()
    await engine.dispose()


async def test_each_view_holds_its_tickets_and_agents_see_only_their_queues(world: World) -> None:
    repair_new = await world.ingest(inbound("+8613800138001", "洗衣机漏水"))
    repair_mine = await world.ingest(inbound("+8613800138002", "冰箱不制冷"))
    repair_pending = await world.ingest(inbound("+8613800138003", "空调噪音"))
    repair_parts = await world.ingest(inbound("+8613800138004", "热水器坏了"))
    repair_solved = await world.ingest(inbound("+8613800138005", "电视没信号"))
    order_new = await world.ingest(inbound("+8613800138006", "我的订单到哪了"))
    order_pending = await world.ingest(inbound("+8613800138007", "订单退款"))
    await world.change(repair_mine, who="agent1", assignee="agent1@example.com")
    await world.change(repair_pending, status="pending")
    await world.change(repair_parts, status="waiting_parts")
    await world.change(repair_solved, status="solved")
    await world.change(order_pending, status="pending")

    unfinished_repairs = {repair_new, repair_mine, repair_pending, repair_parts}
    assert set(await world.view("agent1", "mine")) == {repair_mine}
    assert set(await world.view("agent1", "unassigned")) == unfinished_repairs - {repair_mine}
    assert set(await world.view("agent1", "open")) == unfinished_repairs
    assert set(await world.view("agent1", "pending")) == {repair_pending}
    assert set(await world.view("agent1", "waiting_parts")) == {repair_parts}
    assert set(await world.view("agent1", "solved")) == {repair_solved}
    assert set(await world.view("agent3", "open")) == {order_new, order_pending}
    assert set(await world.view("agent3", "pending")) == {order_pending}
    assert set(await world.view("agent2", "open")) == unfinished_repairs | {
        order_new,
        order_pending,
    }

    orders = {order_new, order_pending}
    for view in (*tickets.VIEWS, tickets.SEARCH_VIEW):
        seen = set(await world.view("agent3", view))
        assert seen <= orders, f"agent3 saw another queue's ticket in {view}: {seen - orders}"
        for query in ("SB", "1380013800", "空调", "冰箱", repair_mine):
            assert set(await world.view("agent3", view, q=query)) <= orders
    for who in ("agent1", "agent2", "agent3", "supervisor", "admin"):
        counts = await world.counts(who)
        assert set(counts) == set(tickets.VIEWS)
        for view in tickets.VIEWS:
            assert counts[view] == len(await world.view(who, view)), (who, view)
    assert await world.counts("agent3") == {
        "mine": 0,
        "unassigned": 2,
        "open": 2,
        "pending": 1,
        "waiting_parts": 0,
        "solved": 0,
    }
    assert (await world.counts("admin"))["open"] == 6

    world.clock.advance(timedelta(days=8).total_seconds())
    assert await world.view("agent1", "solved") == []
    assert (await world.counts("agent1"))["solved"] == 0


async def test_search_finds_every_spelling(world: World) -> None:
    phone = await world.ingest(inbound("+8613800138000", "我家空调不制冷了", display_name="王小明"))
    mail = await world.ingest(
        email("Zhang.Wei@Example.com", "Order 100% late", "where is it?", message_id="<m1@x>")
    )
    await world.ingest(inbound("+8613900139000", "1000 off, a-c filter", display_name="Li"))
    number_digits = phone.removeprefix("SB-")
    cases = {
        phone: [phone, number_digits, phone.lower(), "+86 138 0013 8000", "13800138000"],
        mail: ["zhang.wei@EXAMPLE.com", "ZHANG.WEI@example.com", "zhang.wei", "100%"],
    }
    cases[phone] += ["138-0013-8000", "空调", "不制冷", "王小明", "小明"]
    for number, queries in cases.items():
        for query in queries:
            found = await world.view("supervisor", tickets.SEARCH_VIEW, q=query)
            assert found == [number], (query, found)
    # % and _ are literal, not wildcards
    assert await world.view("supervisor", tickets.SEARCH_VIEW, q="10_%") == []
    assert await world.view("supervisor", tickets.SEARCH_VIEW, q="a_c") == []
    assert await world.view("supervisor", tickets.SEARCH_VIEW, q="%") == [mail]
    # the search narrows a view, and an agent never finds another queue's ticket
    assert await world.view("agent1", "open", q="空调") == [phone]
    assert await world.view("agent3", tickets.SEARCH_VIEW, q="13800138000") == []
    assert await world.view("agent3", tickets.SEARCH_VIEW, q="空调") == []
    # the REST list's q is the same search
    staff = world.staff["supervisor"]
    rows, _ = await world.desk.read(lambda s: tickets.list_tickets(s, staff, q="138-0013-8000"))
    assert [r["number"] for r in rows] == [phone]


async def test_rows_carry_what_a_list_shows(world: World) -> None:
    number = await world.ingest(inbound("+8613800138000", "第一条", display_name="王小明"))
    world.clock.advance(60)
    await world.ingest(inbound("+8613800138000", "  第二条\n  更新  "))
    await world.change(number, priority="urgent", assignee="agent1@example.com")
    (row,) = (await world.page("agent1", "mine"))[0]
    assert row["number"] == number and row["status"] == "new" and row["priority"] == "urgent"
    assert row["queue"] == "Repairs" and row["channel"] == "sms"
    assert row["assignee"] == "agent1@example.com" and row["assignee_name"] == "王芳 Wang Fang"
    assert row["customer"]["name"] == "王小明"
    assert row["last_message"]["preview"] == "第二条 更新"
    assert row["last_message"]["direction"] == "in"
    assert row["sla"]["clock"] == "first_response" and row["sla"]["state"] == "running"
    assert row["sla_due_at"] == row["sla"]["due_at"] is not None


async def test_sorts(world: World) -> None:
    first = await world.ingest(inbound("+8613800138001", "one"))
    world.clock.advance(3600)
    second = await world.ingest(inbound("+8613800138002", "two"))
    world.clock.advance(3600)
    third = await world.ingest(inbound("+8613800138003", "three"))
    world.clock.advance(60)
    await world.change(third, priority="urgent")  # a 30-minute first-response target
    world.clock.advance(10)
    await world.change(first, priority="low")
    world.clock.advance(10)
    await world.change(second, status="pending")  # resolution paused, first response runs
    # business hours 09-12, 13-18 Shanghai; T0 is 17:00 there: first is due Wed 12:00,
    # second (4 h from 18:00) Wed 14:00, third (urgent, 30 min from 19:00) Wed 09:30
    assert await world.view("supervisor", "open") == [third, first, second]
    assert await world.view("supervisor", "open", sort="priority") == [third, second, first]
    assert await world.view("supervisor", "open", sort="activity") == [second, first, third]


async def test_no_sla_sorts_last(world: World) -> None:
    timed = await world.ingest(inbound("+8613800138001", "timed"))
    untimed_msg = inbound("+8613800138002", "untimed")
    untimed = (await world.desk.ingest(untimed_msg)).number  # clocks never started
    assert await world.view("supervisor", "open") == [timed, untimed]
    assert await world.view("supervisor", "open", sort="priority") == [timed, untimed]


@pytest.mark.parametrize("sort", tickets.SORTS)
async def test_cursor_paging_is_stable_under_ties_and_inserts(world: World, sort: str) -> None:
    made = [
        (await world.desk.ingest(inbound(f"+86138001380{i:02d}", f"t{i}"))).number for i in range(7)
    ]
    full = await world.view("admin", "open", sort=sort)
    assert sorted(full) == sorted(made) and len(set(full)) == 7
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        rows, cursor = await world.page("admin", "open", sort=sort, limit=2, cursor=cursor)
        seen += [r["number"] for r in rows]
        pages += 1
        if pages == 2:  # a ticket arriving mid-way neither repeats nor hides the others
            await world.desk.ingest(inbound("+8613900139999", "late"))
        if cursor is None:
            break
    assert [n for n in seen if n in made] == full
    assert len(seen) == len(set(seen))


async def test_forged_cursors_are_invalid(world: World) -> None:
    for i in range(3):
        await world.desk.ingest(inbound(f"+86138001380{i:02d}", f"t{i}"))
    _, cursor = await world.page("admin", "open", limit=1)
    assert cursor is not None
    rows, _ = await world.page("admin", "open", limit=1, cursor=cursor)
    assert len(rows) == 1

    def forge(data: Any) -> str:
        raw = json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    hostile = [
        "x",
        "!!!!",
        "A" * 1000,
        "空调",
        "SB-1042",
        forge(["open", "sla"]),
        forge(["open", "sla", [None]]),
        forge(["open", "sla", ["not a time", 3]]),
        forge(["open", "sla", ["2026-01-01T00:00:00", 3]]),  # naive
        forge(["open", "sla", [None, "3"]]),
        forge(["open", "sla", [None, True]]),
        forge(["open", "sla", [None, 2**70]]),
        forge(["open", "sla", [None, -5]]),
        forge(["open", "activity", [None, 3]]),
        forge(["mine", "sla", [None, 3]]),
        forge({"a": 1}),
        forge([[[[[[[[[[[]]]]]]]]]]]),
    ]
    for bad in hostile:
        with pytest.raises(Invalid):
            await world.page("admin", "open", limit=1, cursor=bad)
    with pytest.raises(Invalid):  # a cursor belongs to its view and sort
        await world.page("admin", "open", limit=1, sort="activity", cursor=cursor)
    with pytest.raises(Invalid):
        await world.page("admin", "pending", limit=1, cursor=cursor)
    for kw in ({"sort": "nope"}, {"limit": 0}, {"limit": 201}, {"q": "x" * 201}):
        with pytest.raises(Invalid):
            await world.page("admin", "open", **kw)
    with pytest.raises(Invalid):
        await world.page("admin", "everything")
