"""The agent workspace's reads on a big PostgreSQL: the views list (``tickets.list_view``
over every view and sort, for agents of two queues each), the counts beside it, the
ticket page of a ticket with 50 messages (``tickets.ticket_detail``), and a Chinese
substring search, timed server-side (the service call in process, no HTTP), p50/p95.

The database ``bench`` (on the server of SWITCHBOARD_TEST_DATABASE_URL) is dropped and
made again on each run, migrated, then bulk-loaded with COPY through asyncpg (not
through ingest): 20 queues, 200 agents, customers with phone (and some email)
identities, 100,000 tickets and 1,000,000 messages of mixed Chinese and English
after-sales text by default, then ANALYZEd.

    python bench/workspace.py [--tickets 100000] [--messages 1000000] [--samples 200]
    python bench/workspace.py --tickets 5000 --messages 50000 --samples 50   # quick

Ends with one JSON line: a list of {"backend", "view", "p50_ms", "p95_ms"} for
``list``, ``ticket`` and ``search`` (plus ``counts``, and a rare-term search, each
with their extra fields).
"""

# ruff: noqa: E402  (the imports follow the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# bench/ holds email.py: run as a script, that folder must not shadow the standard library's
# email package, so it leaves sys.path and the repository root goes first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from bench.common import percentile, postgres_base, print_result
from switchboard import db
from tickets import Role, StaffUser

QUEUES = 20
AGENTS = 200
LONG_TICKET_MESSAGES = 50
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

SUBJECTS_ZH = (
    "空调不制冷",
    "洗衣机漏水",
    "冰箱噪音大",
    "热水器打不着火",
    "油烟机吸力弱",
    "订单物流查询",
    "申请退款",
    "发票开具",
    "预约上门安装",
    "配件缺货",
)
SUBJECTS_EN = (
    "Fridge is noisy",
    "Washer leaks water",
    "Where is my order",
    "Refund request",
    "Invoice needed",
    "Install appointment",
    "Spare part on back order",
)
LINES_ZH = (
    "我家{p}不制冷了，已经三天了。",
    "师傅什么时候能上门？",
    "型号是{m}，去年买的，还在保修期内。",
    "订单号 SO-{n}，物流一直没有更新。",
    "请尽快安排维修，谢谢。",
    "已经重启过了，还是不行。",
    "显示故障代码 E{c}。",
    "可以换新吗？",
    "我们已为您登记，工程师会在24小时内联系您。",
    "配件已下单，预计三到五个工作日到货。",
    "请问方便的上门时间是？",
)
LINES_EN = (
    "The {p} stopped working yesterday.",
    "Model {m}, bought last year, still under warranty.",
    "Order SO-{n} has not moved for a week.",
    "Could a technician come on Friday morning?",
    "It shows error code E{c} after a restart.",
    "Thanks, we booked an engineer for you.",
    "The spare part is on order and should arrive in 3-5 working days.",
)
PRODUCTS_ZH = ("空调", "冰箱", "洗衣机", "热水器", "油烟机", "洗碗机")
PRODUCTS_EN = ("air conditioner", "fridge", "washer", "water heater", "dishwasher")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛")
ENGLISH = ("Emma Brown", "Liam Smith", "Olivia Jones", "Noah Wilson", "Ava Taylor")
STATUSES = (
    ("new", 15),
    ("open", 20),
    ("pending", 8),
    ("waiting_parts", 4),
    ("solved", 30),
    ("closed", 23),
)
PRIORITIES = (("low", 10), ("normal", 65), ("high", 20), ("urgent", 5))
RARE_TERM = "漏电保护"
"""Appears in about one message in 20,000: a search that must look nearly everywhere."""


def pick(rng: random.Random, weighted: Sequence[tuple[str, int]]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def message_text(rng: random.Random, chinese: bool) -> str:
    lines = LINES_ZH if chinese else LINES_EN
    products = PRODUCTS_ZH if chinese else PRODUCTS_EN
    parts = [
        rng.choice(lines).format(
            p=rng.choice(products),
            m=f"KFR-{rng.randint(20, 99)}GW",
            n=rng.randint(1000, 99999),
            c=rng.randint(1, 9),
        )
        for _ in range(rng.randint(1, 3))
    ]
    if rng.random() < 1 / 20_000:
        parts.append(f"{RARE_TERM}跳闸了。")
    return "".join(parts) if chinese else " ".join(parts)


def sla_state(rng: random.Random, created: datetime, status: str) -> tuple[str, datetime | None]:
    due = created + timedelta(minutes=rng.choice((30, 60, 240, 480)))
    running = status in ("new", "open")
    clock = {
        "target_min": 240,
        "started_at": created.isoformat(),
        "due_at": due.isoformat(),
        "warn_at": (due - timedelta(minutes=30)).isoformat(),
        "met_at": None if running else (created + timedelta(minutes=20)).isoformat(),
        "warned": running and due < NOW + timedelta(minutes=30),
        "breached": running and due < NOW,
    }
    state = {"policy": "Standard", "first_response": clock, "next_response": None}
    return json.dumps(state), due if running else None


async def load(dsn: str, n_tickets: int, n_messages: int, seed: int) -> dict[str, int]:
    """Bulk-loads the company with COPY; returns what it wrote."""
    rng = random.Random(seed)
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "queues",
            columns=["id", "name", "description"],
            records=[(q, f"Queue {q:02d}", "") for q in range(1, QUEUES + 1)],
        )
        users = [
            (u, f"agent{u}@bench.example", f"Agent {u}", "agent", None, "[]", True, NOW)
            for u in range(1, AGENTS + 1)
        ]
        await conn.copy_records_to_table(
            "users",
            columns=[
                "id",
                "email",
                "name",
                "role",
                "password_hash",
                "languages",
                "is_active",
                "created_at",
            ],
            records=users,
        )
        members = [
            (q, u) for u in range(1, AGENTS + 1) for q in {(u % QUEUES) + 1, ((u + 1) % QUEUES) + 1}
        ]
        await conn.copy_records_to_table(
            "queue_members", columns=["queue_id", "user_id"], records=members
        )
        queue_agents: dict[int, list[int]] = {}
        for q, u in members:
            queue_agents.setdefault(q, []).append(u)

        n_customers = max(1, n_tickets * 2 // 5)
        customers: list[tuple[Any, ...]] = []
        identities: list[tuple[Any, ...]] = []
        for c in range(1, n_customers + 1):
            name = (
                rng.choice(ENGLISH)
                if c % 7 == 0
                else rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
            )
            customers.append((c, name, "standard", None, NOW))
            identities.append((len(identities) + 1, c, "phone", f"+86138{c:08d}", True, NOW))
            if c % 3 == 0:
                identities.append(
                    (len(identities) + 1, c, "email", f"customer{c}@mail.example", True, NOW)
                )
        await conn.copy_records_to_table(
            "customers",
            columns=["id", "name", "tier", "merged_into_id", "created_at"],
            records=customers,
        )
        await conn.copy_records_to_table(
            "customer_identities",
            columns=["id", "customer_id", "channel", "address", "verified", "created_at"],
            records=identities,
        )

        # Messages stream in before their tickets (a ticket's activity time is its last
        # message's), so the foreign key is dropped for the load and checked after it.
        await conn.execute("ALTER TABLE messages DROP CONSTRAINT fk_messages_ticket_id_tickets")
        long_every = 100  # one ticket in 100 has a 50-message timeline
        n_long = n_tickets // long_every
        rest = max(0, n_messages - n_long * LONG_TICKET_MESSAGES)
        per_ticket = rest / max(1, n_tickets - n_long)
        ticket_rows, message_rows = [], []
        message_id = 0
        carry = 0.0
        for t in range(1, n_tickets + 1):
            status = pick(rng, STATUSES)
            queue = rng.randint(1, QUEUES)
            chinese = rng.random() < 0.8
            created = NOW - timedelta(minutes=rng.randint(1, 60 * 24 * 30))
            if t % long_every == 0:
                count = LONG_TICKET_MESSAGES
            else:
                carry += per_ticket
                count = max(1, int(carry))
                carry -= count
            at = created
            for i in range(count):
                at += timedelta(minutes=rng.randint(1, 120))
                direction = "in" if i % 2 == 0 else ("note" if rng.random() < 0.1 else "out")
                message_id += 1
                message_rows.append(
                    (
                        message_id,
                        t,
                        direction,
                        "sms",
                        None,
                        None if direction == "in" else rng.choice(queue_agents[queue]),
                        "customer" if direction == "in" else "agent",
                        message_text(rng, chinese),
                        "received" if direction == "in" else "delivered",
                        at,
                    )
                )
            assignee = (
                None if status == "new" or rng.random() < 0.3 else rng.choice(queue_agents[queue])
            )
            sla, due = sla_state(rng, created, status)
            subject = rng.choice(SUBJECTS_ZH if chinese else SUBJECTS_EN)
            ticket_rows.append(
                (
                    t,
                    subject,
                    status,
                    pick(rng, PRIORITIES),
                    "sms",
                    "zh" if chinese else "en",
                    queue,
                    assignee,
                    rng.randint(1, n_customers),
                    created,
                    at,
                    at,
                    sla,
                    due,
                    at if status in ("solved", "closed") else None,
                )
            )
            if len(message_rows) >= 200_000:
                await _copy_messages(conn, message_rows)
                message_rows = []
        await conn.copy_records_to_table(
            "tickets",
            columns=[
                "id",
                "subject",
                "status",
                "priority",
                "channel",
                "language",
                "queue_id",
                "assignee_id",
                "customer_id",
                "created_at",
                "updated_at",
                "last_inbound_at",
                "sla",
                "sla_due_at",
                "solved_at",
            ],
            records=ticket_rows,
        )
        await _copy_messages(conn, message_rows)
        await conn.execute(
            "ALTER TABLE messages ADD CONSTRAINT fk_messages_ticket_id_tickets "
            "FOREIGN KEY (ticket_id) REFERENCES tickets (id)"
        )
        for table in ("queues", "users", "customers", "customer_identities", "tickets", "messages"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        # what autovacuum does on a live server: statistics and the visibility map (so
        # the views' slices are read from the index alone)
        await conn.execute("VACUUM ANALYZE")
        print(
            f"loaded {n_tickets} tickets, {message_id} messages, {n_customers} customers "
            f"in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        return {"tickets": n_tickets, "messages": message_id, "customers": n_customers}
    finally:
        await conn.close()


async def _copy_messages(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """One COPY of a chunk of messages, with their search tokens (``tickets.search``:
    the full-text index's triggers index them as they land)."""
    if rows:
        await conn.copy_records_to_table(
            "messages",
            records=[(*row, tickets.token_string(row[7])) for row in rows],
            columns=[
                "id",
                "ticket_id",
                "direction",
                "channel",
                "external_id",
                "author_user_id",
                "author_name",
                "text",
                "delivery_status",
                "created_at",
                "search_tokens",
            ],
        )


async def timed(
    desk: tickets.Desk,
    samples: int,
    call: Callable[[int], Callable[[AsyncSession], Awaitable[Any]]],
) -> list[float]:
    out = []
    for i in range(samples):
        work = call(i)
        started = time.perf_counter()
        await desk.read(work)
        out.append(time.perf_counter() - started)
    return out


def row(view: str, samples: list[float], **extra: Any) -> dict[str, Any]:
    result = {
        "backend": "postgresql",
        "view": view,
        "p50_ms": round(percentile(samples, 0.5) * 1000, 2),
        "p95_ms": round(percentile(samples, 0.95) * 1000, 2),
        **extra,
    }
    load = os.getloadavg()[0]
    print(
        f"{view:8s} p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms {extra} "
        f"(load average {load:.1f} on {os.cpu_count()} CPUs)",
        flush=True,
    )
    return result


async def measure(url: str, n_tickets: int, samples: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed + 1)
    engine = db.create_engine(url, pool_size=5)

    class Quiet:
        async def publish(self, events: Any) -> None:
            return None

        async def broadcast(self, events: Any) -> None:
            return None

    desk = tickets.Desk(db.session_factory(engine), Quiet(), lambda: NOW)
    agents = [
        StaffUser(
            u,
            f"agent{u}@bench.example",
            f"Agent {u}",
            Role.AGENT,
            frozenset({(u % QUEUES) + 1, ((u + 1) % QUEUES) + 1}),
        )
        for u in range(1, AGENTS + 1)
    ]
    supervisor = StaffUser(0, "sup@bench.example", "Sup", Role.SUPERVISOR, frozenset())
    views = [(v, s) for v in tickets.VIEWS for s in tickets.SORTS]
    out = []
    try:
        for _ in range(5):  # warm the pool and the caches
            await desk.read(lambda s: tickets.list_view(s, agents[0], "open", now=NOW, limit=50))

        def list_call(i: int) -> Callable[[AsyncSession], Awaitable[Any]]:
            staff, (view, sort) = rng.choice(agents), views[i % len(views)]
            return lambda s: tickets.list_view(s, staff, view, sort=sort, limit=50, now=NOW)

        out.append(row("list", await timed(desk, samples, list_call), limit=50))

        # the second page too: keyset paging costs what the first page does
        def page2_call(i: int) -> Callable[[AsyncSession], Awaitable[Any]]:
            staff, sort = rng.choice(agents), tickets.SORTS[i % 3]

            async def work(s: AsyncSession) -> Any:
                _, cursor = await tickets.list_view(s, staff, "open", sort=sort, now=NOW)
                return await tickets.list_view(s, staff, "open", sort=sort, cursor=cursor, now=NOW)

            return work

        page2 = await timed(desk, max(10, samples // 4), page2_call)
        print(f"two pages of open: p50 {percentile(page2, 0.5) * 1000:.1f} ms", flush=True)

        def counts_call(i: int) -> Callable[[AsyncSession], Awaitable[Any]]:
            staff = rng.choice(agents)
            return lambda s: tickets.view_counts(s, staff, now=NOW)

        out.append(row("counts", await timed(desk, samples, counts_call)))

        long_ids = list(range(100, n_tickets + 1, 100))

        def ticket_call(i: int) -> Callable[[AsyncSession], Awaitable[Any]]:
            number = tickets.format_number(rng.choice(long_ids))
            return lambda s: tickets.ticket_detail(s, supervisor, number)

        detail = await desk.read(
            lambda s: tickets.ticket_detail(s, supervisor, tickets.format_number(long_ids[0]))
        )
        assert len(detail["messages"]) == LONG_TICKET_MESSAGES
        out.append(
            row("ticket", await timed(desk, samples, ticket_call), messages=LONG_TICKET_MESSAGES)
        )

        for query, count in (("空调", max(10, samples // 4)), (RARE_TERM, max(5, samples // 20))):

            def search_call(i: int, q: str = query) -> Callable[[AsyncSession], Awaitable[Any]]:
                staff = rng.choice(agents)
                return lambda s: tickets.list_view(
                    s, staff, tickets.SEARCH_VIEW, q=q, limit=50, now=NOW
                )

            found, _ = await desk.read(search_call(0))
            out.append(
                row(
                    "search",
                    await timed(desk, count, search_call),
                    query=query,
                    first_page=len(found),
                    index="none (LIKE scan)",
                )
            )
    finally:
        await desk.close()
        await engine.dispose()
    return out


async def recreate(base: str, name: str) -> str:
    admin = db.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
    finally:
        await engine.dispose()
    return url


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--database", default="bench")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    base = postgres_base()
    if not base:
        print("postgresql: skipped (set SWITCHBOARD_TEST_DATABASE_URL)", flush=True)
        print_result([])
        return
    url = await recreate(base, args.database)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    await load(dsn, args.tickets, args.messages, args.seed)
    print_result(await measure(url, args.tickets, args.samples, args.seed))


if __name__ == "__main__":
    asyncio.run(main())
