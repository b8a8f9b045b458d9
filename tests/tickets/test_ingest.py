"""Ingest: idempotency (sequential and concurrent), threading and identity rules, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard import db
from tests.conftest import truncate_all
from tests.helpers import Clock, RecordingPublisher, email, inbound
from tickets.contracts import Channel, TicketStatus
from tickets.desk import Desk
from tickets.events import MessageReceived, TicketCreated, TicketStatusChanged
from tickets.models import CustomerIdentity, Message, Ticket


@pytest.fixture(params=["sqlite", "sqlite-portable", "postgresql", "postgresql-portable"])
async def desk(request: pytest.FixtureRequest) -> AsyncIterator[Desk]:
    """Each test runs on each database's fast path (raw aiosqlite, prepared asyncpg
    statements) and through the portable SQLAlchemy store, so the stores cannot drift
    apart."""
    if request.param.startswith("sqlite"):
        url = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("pg_database")
        await truncate_all(url)
    engine = db.create_engine(url)
    fast = not request.param.endswith("-portable")
    desk = Desk(db.session_factory(engine), RecordingPublisher(), Clock(), fast_path=fast)
    yield desk
    await desk.close()
    await engine.dispose()


async def count(desk: Desk, model: type) -> int:
    async def read(session: AsyncSession) -> int:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    return await desk.read(read)


async def ticket(desk: Desk, ticket_id: int) -> Ticket:
    found = await desk.read(lambda s: s.get(Ticket, ticket_id))
    assert found is not None
    return found


async def test_redelivery_is_a_no_op(desk: Desk) -> None:
    msg = inbound("+8613800138000", external_id="SM123")
    first = await desk.ingest(msg)
    second = await desk.ingest(msg)
    assert not first.duplicate and second.duplicate
    assert second.message_id == first.message_id and second.ticket_id == first.ticket_id
    assert await count(desk, Message) == 1
    assert second.events == ()
    publisher = desk.publisher
    assert isinstance(publisher, RecordingPublisher)
    assert len(publisher.of(MessageReceived)) == 1 and len(publisher.of(TicketCreated)) == 1


async def test_twenty_concurrent_deliveries_make_one_message(desk: Desk) -> None:
    msg = inbound("+8613900139000", external_id="SM-concurrent")
    results = await asyncio.gather(*(desk.ingest(msg) for _ in range(20)))
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.message_id for r in results}) == 1
    assert await count(desk, Message) == 1
    assert await count(desk, Ticket) == 1
    assert await count(desk, CustomerIdentity) == 1


async def test_concurrent_new_messages_from_one_new_customer_share_a_ticket(desk: Desk) -> None:
    msgs = [inbound("+8613700137000", f"第{i}条") for i in range(10)]
    results = await asyncio.gather(*(desk.ingest(m) for m in msgs))
    assert len({r.ticket_id for r in results}) == 1
    assert await count(desk, Message) == 10


async def test_second_message_joins_the_open_ticket(desk: Desk) -> None:
    first = await desk.ingest(inbound("+8613800138001", "空调不制冷"))
    second = await desk.ingest(inbound("+8613800138001", "型号 KFR-35GW"))
    assert first.new_ticket and not second.new_ticket
    assert second.ticket_id == first.ticket_id
    assert (await ticket(desk, first.ticket_id)).subject == "空调不制冷"


async def test_after_close_a_new_ticket_opens(desk: Desk) -> None:
    first = await desk.ingest(inbound("+8613800138002"))

    async def close(session, now):  # type: ignore[no-untyped-def]
        t = await session.get(Ticket, first.ticket_id)
        t.status = TicketStatus.CLOSED.value
        return None, []

    await desk.write(close)
    second = await desk.ingest(inbound("+8613800138002", "又坏了"))
    assert second.new_ticket and second.ticket_id != first.ticket_id
    assert second.customer_id == first.customer_id


async def test_a_message_reopens_a_solved_ticket(desk: Desk) -> None:
    first = await desk.ingest(inbound("+8613800138003"))

    async def solve(session, now):  # type: ignore[no-untyped-def]
        (await session.get(Ticket, first.ticket_id)).status = TicketStatus.SOLVED.value
        return None, []

    await desk.write(solve)
    again = await desk.ingest(inbound("+8613800138003", "还是不行"))
    assert again.ticket_id == first.ticket_id
    assert (await ticket(desk, first.ticket_id)).status == "open"
    assert any(isinstance(e, TicketStatusChanged) and e.new == "open" for e in again.events)


async def test_three_spellings_of_a_phone_number_are_one_identity(desk: Desk) -> None:
    spellings = ["+86 138 0013 8000", "13800138000", "0086-138-0013-8000"]
    results = [await desk.ingest(inbound(s, f"msg {s}")) for s in spellings]
    assert len({r.customer_id for r in results}) == 1
    assert len({r.ticket_id for r in results}) == 1
    addresses = await desk.read(lambda s: s.scalars(select(CustomerIdentity.address)))
    assert list(addresses) == ["+8613800138000"]


async def test_channels_keep_their_own_tickets(desk: Desk) -> None:
    sms = await desk.ingest(inbound("+8613800138004", channel=Channel.SMS))
    voice = await desk.ingest(inbound("+8613800138004", channel=Channel.VOICE))
    sms_again = await desk.ingest(inbound("+8613800138004", "还有", channel=Channel.SMS))
    assert voice.new_ticket and sms.ticket_id != voice.ticket_id
    assert sms_again.ticket_id == sms.ticket_id and not sms_again.new_ticket
    assert (await ticket(desk, sms.ticket_id)).channel == "sms"
    assert (await ticket(desk, voice.ticket_id)).channel == "voice"


async def test_email_is_lowercased_and_threads_by_in_reply_to(desk: Desk) -> None:
    first = await desk.ingest(
        email(
            "Li.Ming@Example.COM",
            "空调故障",
            "不制冷",
            message_id="<a1@mail>",
            cc=("Wife@Example.com",),
        )
    )
    reply = await desk.ingest(
        email(
            "li.ming@example.com",
            "Re: 空调故障",
            "照片见附件",
            message_id="<a2@mail>",
            in_reply_to="<a1@mail>",
        )
    )
    assert reply.ticket_id == first.ticket_id
    colleague = await desk.ingest(
        email(
            "wife@example.com",
            "Re: 空调故障",
            "我补充一下",
            message_id="<a3@mail>",
            in_reply_to="<a2@mail>",
        )
    )
    assert colleague.ticket_id == first.ticket_id
    stranger = await desk.ingest(
        email(
            "stranger@example.com",
            "Re: 空调故障",
            "newsletter reply",
            message_id="<a4@mail>",
            in_reply_to="<a2@mail>",
        )
    )
    assert stranger.new_ticket and stranger.ticket_id != first.ticket_id


async def test_email_subject_number_threads_only_for_the_ticket_owner(desk: Desk) -> None:
    first = await desk.ingest(email("owner@example.com", "冰箱不冷", "...", message_id="<b1@mail>"))
    number = first.number
    own = await desk.ingest(
        email("owner@example.com", f"Re: [#{number}] 冰箱", "更新", message_id="<b2@mail>")
    )
    assert own.ticket_id == first.ticket_id
    stranger = await desk.ingest(
        email("evil@example.com", f"[#{number}] hi", "inject", message_id="<b3@mail>")
    )
    assert stranger.ticket_id != first.ticket_id and stranger.new_ticket


async def test_bad_address_is_refused(desk: Desk) -> None:
    from tickets.identity import InvalidAddress

    with pytest.raises(InvalidAddress):
        await desk.ingest(inbound("not-a-phone"))
    assert await count(desk, Message) == 0


async def test_a_claimed_email_is_an_unverified_identity_that_email_ignores(desk: Desk) -> None:
    taken = await desk.ingest(email("taken@example.com", "s", "t", message_id="<c1@mail>"))
    chat = await desk.ingest(
        inbound("v_abc", "你好", channel=Channel.WEBCHAT, claimed_email="Taken@Example.com")
    )
    other = await desk.ingest(
        inbound("v_def", "你好", channel=Channel.WEBCHAT, claimed_email="free@example.com")
    )
    await desk.ingest(
        inbound("v_def", "又来", channel=Channel.WEBCHAT, claimed_email="free@example.com")
    )
    free = await desk.ingest(email("free@example.com", "s", "t", message_id="<c2@mail>"))
    again = await desk.ingest(email("taken@example.com", "s2", "t", message_id="<c3@mail>"))
    rows = await desk.read(
        lambda s: s.execute(
            select(
                CustomerIdentity.address, CustomerIdentity.customer_id, CustomerIdentity.verified
            ).where(CustomerIdentity.channel == "email")
        )
    )
    assert sorted(rows.all()) == sorted(
        [
            ("taken@example.com", taken.customer_id, True),
            ("taken@example.com", chat.customer_id, False),
            ("free@example.com", other.customer_id, False),
            ("free@example.com", free.customer_id, True),
        ]
    )
    assert len({taken.customer_id, chat.customer_id, other.customer_id, free.customer_id}) == 4
    assert again.customer_id == taken.customer_id


async def test_customer_html_is_stored_sanitized(desk: Desk) -> None:
    hostile = (
        '<p onclick="steal()">空调<b>坏了</b></p><script>alert(1)</script>'
        '<img src="x.png" onerror="alert(1)"><a href="javascript:alert(1)">看这里</a>'
    )
    result = await desk.ingest(
        inbound("html@example.com", "空调坏了", channel=Channel.EMAIL, subject="空调", html=hostile)
    )
    stored = await desk.read(
        lambda s: s.scalar(select(Message.html).where(Message.id == result.message_id))
    )
    assert stored == (
        '<p>空调<b>坏了</b></p><img src="x.png"><a rel="noopener noreferrer">看这里</a>'
    )
    plain = await desk.ingest(inbound("+8613800138010", "no html"))
    assert (
        await desk.read(
            lambda s: s.scalar(select(Message.html).where(Message.id == plain.message_id))
        )
        is None
    )
