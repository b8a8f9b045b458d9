"""What ingest and a reply write, field by field: the stored ticket, the audit row and the
events other rooms act on. Mutation testing (mutmut) showed these went unchecked: a wrong
field in ``TicketCreated`` or ``MessageSent`` would have sent routing, SLA and screens the
wrong ticket, channel or author without any test noticing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from routing.loader import QueueConfig
from routing.rules import QueueRules
from tests.helpers import T0, email, inbound, seed_with_tokens
from tests.tickets.test_ingest import desk, ticket  # noqa: F401  (the three-store fixture)
from tickets import Channel, MessageReceived, MessageSent, OutboxQueued, TicketCreated
from tickets import staff as staff_svc
from tickets.desk import Desk
from tickets.events import Event, TicketStatusChanged
from tickets.models import AuditEntry, Message, OutboxEntry, Ticket
from tickets.services import merge_customers, reply


async def test_a_new_ticket_is_written_and_announced_exactly(desk: Desk) -> None:  # noqa: F811
    result = await desk.ingest(
        email(
            "Wang@Example.CN",
            "[#SB-9999] 热水器 E21 故障",
            "热水器显示E21，不出热水",
            message_id="<e21@example.cn>",
        )
    )
    created, received = result.events
    assert isinstance(created, TicketCreated) and isinstance(received, MessageReceived)
    assert (created.ticket_id, created.number, created.channel) == (
        result.ticket_id,
        result.number,
        "email",
    )
    assert (created.queue, created.priority, created.customer_id) == (
        None,
        "normal",
        result.customer_id,
    )
    assert (received.ticket_id, received.number, received.message_id) == (
        result.ticket_id,
        result.number,
        result.message_id,
    )
    assert (received.channel, received.customer_id) == ("email", result.customer_id)
    assert created.event_id != received.event_id

    stored = await ticket(desk, result.ticket_id)
    assert stored.subject == "热水器 E21 故障"  # the foreign ticket number is dropped
    assert (stored.status, stored.priority, stored.channel) == ("new", "normal", "email")
    assert stored.language == "zh" and stored.customer_id == result.customer_id
    assert stored.created_at == stored.updated_at == stored.last_inbound_at == T0

    message = await desk.read(lambda s: s.get(Message, result.message_id))
    assert message is not None
    assert (message.direction, message.channel, message.external_id) == (
        "in",
        "email",
        "<e21@example.cn>",
    )
    assert message.author_name == "wang@example.cn" and message.delivery_status == "received"
    assert message.email_message_id == "<e21@example.cn>" and message.created_at == T0

    audit = await desk.read(_audit_rows)
    assert [(a.action, a.actor_kind, a.actor_id, a.ticket_id) for a in audit] == [
        ("ticket.created", "customer", result.customer_id, result.ticket_id)
    ]
    assert audit[0].data == {"channel": "email", "queue": None, "follow_up_of": None}


async def test_subjects_fall_back_to_the_first_line_then_the_channel(desk: Desk) -> None:  # noqa: F811
    first = await desk.ingest(inbound("+8613800138001", "\n\n  洗衣机漏水  \n第二行"))
    assert (await ticket(desk, first.ticket_id)).subject == "洗衣机漏水"
    blank = await desk.ingest(inbound("+8613800138002", "   "))
    assert (await ticket(desk, blank.ticket_id)).subject == "sms conversation"
    long = await desk.ingest(inbound("+8613800138003", "冰" * 200))
    assert (await ticket(desk, long.ticket_id)).subject == "冰" * 80


async def test_a_reopen_is_announced_with_its_old_status(desk: Desk) -> None:  # noqa: F811
    first = await desk.ingest(inbound("+8613800138004", "空调不制冷"))

    async def solve(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
        await session.execute(
            update(Ticket).where(Ticket.id == first.ticket_id).values(status="solved")
        )
        return None, []

    await desk.write(solve)
    again = await desk.ingest(inbound("+8613800138004", "还是不行"))
    changed, received = again.events
    assert isinstance(changed, TicketStatusChanged)
    assert (changed.ticket_id, changed.number, changed.old, changed.new, changed.channel) == (
        first.ticket_id,
        first.number,
        "solved",
        "open",
        "sms",
    )
    assert isinstance(received, MessageReceived) and received.message_id == again.message_id
    assert (await ticket(desk, first.ticket_id)).status == "open"


async def test_a_reply_is_written_queued_and_announced_exactly(database_url: str) -> None:
    from switchboard import db
    from tests.helpers import Clock, RecordingPublisher

    await seed_with_tokens(database_url)
    engine = db.create_engine(database_url)
    repairs = QueueRules([QueueConfig(1, "Repairs", is_default=True)])
    desk_ = Desk(db.session_factory(engine), RecordingPublisher(), Clock(), choose_queue=repairs)
    try:
        asked = await desk_.ingest(inbound("+8613800138005", "空调坏了", channel=Channel.SMS))

        async def answer(session: AsyncSession, now: datetime) -> tuple[int, tuple[Event, ...]]:
            agent_id = await staff_svc.user_id_by_email(session, "agent1@example.com")
            agent = await staff_svc.load_staff(session, agent_id)
            assert agent is not None
            written = await reply(session, agent, asked.number, "师傅明天上门", now)
            assert written.message_id is not None and written.ticket_id == asked.ticket_id
            sent, queued, opened = written.events
            assert isinstance(sent, MessageSent) and isinstance(queued, OutboxQueued)
            assert (sent.ticket_id, sent.number, sent.message_id) == (
                asked.ticket_id,
                asked.number,
                written.message_id,
            )
            assert (sent.channel, sent.direction, sent.author) == (
                "sms",
                "out",
                "agent1@example.com",
            )
            assert (queued.message_id, queued.channel) == (written.message_id, "sms")
            assert isinstance(opened, TicketStatusChanged)
            assert (opened.old, opened.new) == ("new", "open")
            return written.message_id, written.events

        message_id = await desk_.write(answer)
        message = await desk_.read(lambda s: s.get(Message, message_id))
        assert message is not None
        assert (message.direction, message.channel, message.recipient) == (
            "out",
            "sms",
            "+8613800138005",
        )
        assert (message.text, message.delivery_status) == ("师傅明天上门", "queued")
        entry = await desk_.read(
            lambda s: s.scalar(select(OutboxEntry).where(OutboxEntry.message_id == message_id))
        )
        assert entry is not None and (entry.state, entry.attempts, entry.channel) == (
            "pending",
            0,
            "sms",
        )
        stored = await ticket(desk_, asked.ticket_id)
        assert stored.status == "open" and stored.first_response_at == T0
    finally:
        await desk_.close()
        await engine.dispose()


async def _audit_rows(session: AsyncSession) -> list[AuditEntry]:
    return list((await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars())


async def test_a_reply_goes_to_a_verified_address_before_a_claimed_one(database_url: str) -> None:
    """A customer merged from a chat carries the address its visitor typed (an unverified
    claim) beside the address their own mail came from: the reply goes to the latter, even
    though the claim was recorded first."""
    from switchboard import db
    from tests.helpers import Clock, RecordingPublisher

    await seed_with_tokens(database_url)
    engine = db.create_engine(database_url)
    desk_ = Desk(db.session_factory(engine), RecordingPublisher(), Clock())
    try:
        chat = await desk_.ingest(
            inbound("v_claim", "你好", channel=Channel.WEBCHAT, claimed_email="typed@example.com")
        )
        mail = await desk_.ingest(
            email("owner@example.com", "空调", "空调坏了", message_id="<own@example.com>")
        )

        async def merge_and_answer(session: AsyncSession, now: datetime) -> tuple[str | None, Any]:
            sup = await staff_svc.load_staff(
                session, await staff_svc.user_id_by_email(session, "admin@example.com")
            )
            assert sup is not None
            owners = dict((await session.execute(select(Ticket.id, Ticket.customer_id))).all())
            keep, gone = owners[mail.ticket_id], owners[chat.ticket_id]
            merged = await merge_customers(session, sup, keep, gone, now)
            written = await reply(session, sup, mail.number, "收到", now, channel=Channel.EMAIL)
            to = (
                await session.execute(
                    select(Message.recipient).where(Message.id == written.message_id)
                )
            ).scalar_one()
            return to, (*merged.events, *written.events)

        assert await desk_.write(merge_and_answer) == "owner@example.com"
    finally:
        await desk_.close()
        await engine.dispose()
