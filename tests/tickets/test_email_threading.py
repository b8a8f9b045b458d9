"""Email threading (``tickets.ingest.email``) on SQLite, PostgreSQL's fast path and
PostgreSQL through the portable store: the rule order, the stored ``thread_reason``,
participants (CC), strangers never glued, and noise recorded but never opening tickets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard import db
from tests.conftest import truncate_all
from tests.helpers import T0, Clock, RecordingPublisher, email
from tickets.desk import Desk
from tickets.ingest.email import normalize_subject
from tickets.models import CustomerIdentity, Message, Ticket, TicketParticipant


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-portable"])
async def desk(request: pytest.FixtureRequest) -> AsyncIterator[Desk]:
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("pg_database")
        await truncate_all(url)
    engine = db.create_engine(url)
    fast = request.param == "postgresql"
    desk = Desk(db.session_factory(engine), RecordingPublisher(), Clock(), fast_path=fast)
    yield desk
    await desk.close()
    await engine.dispose()


async def reasons(desk: Desk, ticket_id: int) -> list[str | None]:
    async def read(session: AsyncSession) -> list[str | None]:
        rows = await session.execute(
            select(Message.thread_reason).where(Message.ticket_id == ticket_id).order_by(Message.id)
        )
        return list(rows.scalars())

    return await desk.read(read)


def test_normalize_subject_strips_prefixes_in_many_languages() -> None:
    assert normalize_subject("Re: RE: Fwd: 空调故障") == "空调故障"
    assert normalize_subject("回复：转发: [#SB-1042] 空调故障") == "空调故障"
    assert normalize_subject("AW: WG:  Kühlschrank   kaputt") == "kühlschrank kaputt"
    assert normalize_subject("Re[2]: hello") == "hello"
    assert normalize_subject("Return policy") == "return policy"


async def test_each_rule_is_recorded_in_order(desk: Desk) -> None:
    first = await desk.ingest(email("a@example.com", "洗衣机漏水", "漏水", message_id="<t1@a>"))
    by_irt = await desk.ingest(
        email("a@example.com", "x", "1", message_id="<t2@a>", in_reply_to="<t1@a>")
    )
    by_refs = await desk.ingest(
        email("a@example.com", "y", "2", message_id="<t3@a>", references=("<zz@a>", "<t2@a>"))
    )
    by_token = await desk.ingest(
        email("a@example.com", f"Re: [#{first.number}] z", "3", message_id="<t4@a>")
    )
    by_subject = await desk.ingest(
        email("a@example.com", "回复: 洗衣机漏水", "4", message_id="<t5@a>")
    )
    ids = {r.ticket_id for r in (by_irt, by_refs, by_token, by_subject)}
    assert ids == {first.ticket_id}
    assert await reasons(desk, first.ticket_id) == [
        "new",
        "in_reply_to",
        "references",
        "subject_token",
        "subject",
    ]


async def test_subject_rule_needs_same_sender_and_recent_ticket(desk: Desk) -> None:
    first = await desk.ingest(email("b@example.com", "Order late", "where", message_id="<s1@b>"))
    other = await desk.ingest(email("c@example.com", "Re: Order late", "?", message_id="<s2@c>"))
    assert other.new_ticket and other.ticket_id != first.ticket_id
    clock = desk.clock
    assert isinstance(clock, Clock)
    clock.now = T0 + timedelta(days=8)
    late = await desk.ingest(email("b@example.com", "Re: Order late", "?", message_id="<s3@b>"))
    assert late.new_ticket


async def test_cc_become_participants_and_strangers_are_not_glued(desk: Desk) -> None:
    first = await desk.ingest(
        email(
            "boss@corp.example",
            "Office AC",
            "broken",
            message_id="<p1@corp>",
            cc=("Assistant@Corp.example", "boss@corp.example"),
        )
    )

    async def participants(session: AsyncSession) -> list[str]:
        rows = await session.execute(
            select(TicketParticipant.address).where(TicketParticipant.ticket_id == first.ticket_id)
        )
        return list(rows.scalars())

    assert await desk.read(participants) == ["assistant@corp.example"]
    helper = await desk.ingest(
        email(
            "assistant@corp.example",
            "Re: Office AC",
            "me too",
            message_id="<p2@corp>",
            in_reply_to="<p1@corp>",
        )
    )
    assert helper.ticket_id == first.ticket_id
    token = await desk.ingest(
        email("assistant@corp.example", f"[#{first.number}]", "token", message_id="<p3@corp>")
    )
    assert token.ticket_id == first.ticket_id
    stranger = await desk.ingest(
        email(
            "spam@else.example",
            f"Re: [#{first.number}] Office AC",
            "hi",
            message_id="<p4@else>",
            in_reply_to="<p1@corp>",
            references=("<p1@corp>",),
        )
    )
    assert stranger.new_ticket
    assert await reasons(desk, stranger.ticket_id) == ["new"]


async def test_noise_is_recorded_on_its_ticket_and_never_opens_one(desk: Desk) -> None:
    first = await desk.ingest(email("d@example.com", "Fridge", "noise", message_id="<n1@d>"))
    ooo = await desk.ingest(
        email(
            "d@example.com",
            "Automatic reply: Fridge",
            "away",
            message_id="<n2@d>",
            in_reply_to="<n1@d>",
            noise="auto_reply",
        )
    )
    assert ooo.ticket_id == first.ticket_id and ooo.events == () and not ooo.new_ticket
    lost = await desk.ingest(
        email("e@example.com", "Out of office", "away", message_id="<n3@e>", noise="auto_reply")
    )
    assert lost.ignored

    async def read(session: AsyncSession) -> tuple[int, dict[str, object] | None]:
        count = len((await session.execute(select(Ticket.id))).all())
        people = (await session.execute(select(CustomerIdentity.address))).scalars()
        assert "e@example.com" not in set(people)  # machine mail makes no customer
        meta = (
            await session.execute(select(Message.email_meta).where(Message.id == ooo.message_id))
        ).scalar_one()
        return count, meta

    count, meta = await desk.read(read)
    assert count == 1 and meta is not None and meta["noise"] == "auto_reply"


async def test_a_closed_ticket_gets_a_follow_up(desk: Desk) -> None:
    from sqlalchemy import update

    first = await desk.ingest(email("f@example.com", "Oven", "hot", message_id="<c1@f>"))

    async def close(session: AsyncSession, now: object) -> tuple[None, list[object]]:
        await session.execute(update(Ticket).values(status="closed"))
        return None, []

    await desk.write(close)  # type: ignore[arg-type]
    again = await desk.ingest(
        email("f@example.com", "Re: Oven", "again", message_id="<c2@f>", in_reply_to="<c1@f>")
    )
    assert again.new_ticket and again.ticket_id != first.ticket_id
    assert await reasons(desk, again.ticket_id) == ["follow_up"]
