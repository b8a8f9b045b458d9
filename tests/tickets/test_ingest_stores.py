"""The SQLite fast path (raw aiosqlite) writes exactly the rows the portable SQLAlchemy
store writes: the same story of messages into two copies of one database, then every row
the stores touch compared as SQLite holds it (timestamps and JSON as stored text)."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard import db
from tests.helpers import Clock, RecordingPublisher, email, inbound
from tickets.contracts import AttachmentRef, Channel, InboundMessage, TicketStatus
from tickets.desk import Desk
from tickets.events import Event
from tickets.ingest import IngestResult
from tickets.models import Queue, Ticket

TABLES = (
    "customers",
    "customer_identities",
    "tickets",
    "messages",
    "attachments",
    "event_outbox",
    "audit_log",
    "queues",
)


def choose(msg: InboundMessage, tier: str) -> Sequence[str]:
    return ("Missing", "Stores") if tier == "standard" else ()


async def tell_the_story(url: str, *, fast: bool) -> list[tuple[bool, bool, int, int]]:
    engine = db.create_engine(url)
    clock = Clock()
    desk = Desk(db.session_factory(engine), RecordingPublisher(), clock, choose, fast_path=fast)
    results: list[IngestResult] = []

    async def ingest(msg: InboundMessage) -> IngestResult:
        clock.advance(7.25)
        if msg.external_id.startswith("ext-"):  # the helper's ids differ between the runs
            msg = dataclasses.replace(msg, external_id=f"story-{len(results)}")
        result = await desk.ingest(msg)
        results.append(result)
        return result

    async def set_status(ticket_id: int, status: TicketStatus) -> None:
        async def change(session, now):  # type: ignore[no-untyped-def]
            (await session.get(Ticket, ticket_id)).status = status.value
            return None, []

        await desk.write(change)

    try:
        await desk.write(lambda s, now: _add_queue(s))  # the chooser's second choice
        first = await ingest(inbound("+8613800138000", "空调不制冷", display_name="李明"))
        await ingest(inbound("+86 138 0013 8000", "型号 KFR-35GW"))
        await ingest(inbound("+8613800138000", "型号 KFR-35GW", external_id="dup-1"))
        await ingest(inbound("+8613800138000", "again", external_id="dup-1"))
        await set_status(first.ticket_id, TicketStatus.SOLVED)
        await ingest(inbound("+8613800138000", "还是不行"))
        await set_status(first.ticket_id, TicketStatus.CLOSED)
        await ingest(inbound("+8613800138000", "又坏了"))
        mail = await ingest(
            email("Li.Ming@Example.COM", "冰箱 [#SB-1]", "不冷", message_id="<a1@mail>")
        )
        await ingest(
            inbound(
                "li.ming@example.com",
                "照片见附件",
                channel=Channel.EMAIL,
                subject="Re: 冰箱",
                html='<p onclick="x()">照片<script>1</script></p>',
                attachments=(
                    AttachmentRef("a.jpg", "image/jpeg", 1234, "blob:1"),
                    AttachmentRef("说明.pdf", "application/pdf", 99, "blob:2"),
                ),
                thread=email(
                    "x@y.z", "s", "t", message_id="<a2@mail>", in_reply_to="<a1@mail>"
                ).thread,
                external_id="<a2@mail>",
            )
        )
        await ingest(
            email("li.ming@example.com", f"Re: [#{mail.number}]", "号", message_id="<a3@mail>")
        )
        await ingest(
            inbound("v_abc", "你好", channel=Channel.WEBCHAT, claimed_email="Li.Ming@Example.com")
        )
        await ingest(
            inbound("v_abc", "在吗", channel=Channel.WEBCHAT, claimed_email="li.ming@example.com")
        )
        await desk.flush()
    finally:
        await desk.close()
        await engine.dispose()
    return [(r.duplicate, r.new_ticket, r.ticket_id, len(r.events)) for r in results]


async def _add_queue(session: AsyncSession) -> tuple[None, list[Event]]:
    await session.execute(insert(Queue).values(name="Stores", description=""))
    return None, []


def rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    # when a batch of events is marked relayed depends on timing; that it is, does not
    columns = {"event_outbox": "id, type, payload, consumer_group, created_at, relayed_at > ''"}
    with sqlite3.connect(path) as conn:
        return {
            t: conn.execute(f"SELECT {columns.get(t, '*')} FROM {t} ORDER BY 1").fetchall()
            for t in TABLES
        }


async def test_the_sqlite_fast_path_writes_the_rows_the_portable_store_writes(
    sqlite_template: Path, tmp_path: Path
) -> None:
    fast_db, portable_db = tmp_path / "fast.db", tmp_path / "portable.db"
    shutil.copy(sqlite_template, fast_db)
    shutil.copy(sqlite_template, portable_db)
    fast = await tell_the_story(f"sqlite+aiosqlite:///{fast_db}", fast=True)
    portable = await tell_the_story(f"sqlite+aiosqlite:///{portable_db}", fast=False)
    assert fast == portable
    written, expected = rows(fast_db), rows(portable_db)
    assert {t: len(r) for t, r in written.items()} == {t: len(r) for t, r in expected.items()}
    assert len(written["attachments"]) == 2 and len(written["customer_identities"]) == 4
    for table in TABLES:
        assert written[table] == expected[table], table
