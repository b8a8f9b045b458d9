"""A customer's message racing a close: it never reopens (or lands on) a closed ticket;
a follow-up ticket linked to the closed one starts instead. On every store."""

from __future__ import annotations

import asyncio

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.helpers import email
from tests.tickets.test_ingest import desk, ticket  # noqa: F401  (the three-store fixture)
from tickets.desk import Desk
from tickets.events import Event
from tickets.models import Message, Ticket


async def test_a_message_racing_a_close_opens_a_linked_follow_up(desk: Desk) -> None:  # noqa: F811
    first = await desk.ingest(
        email("lin@example.cn", "热水器漏水", "漏水了", message_id="<m1@example.cn>")
    )
    await desk.write(
        lambda s, now: _set_status(s, first.ticket_id, "solved")  # the agent solved it
    )
    answer = email(
        "lin@example.cn",
        "Re: 热水器漏水",
        "还是漏",
        message_id="<m2@example.cn>",
        in_reply_to="<m1@example.cn>",
    )
    # Another transaction closes the ticket and holds its lock while the message arrives.
    closing = desk.sessions()
    async with closing as session:
        transaction = await session.begin()
        await session.execute(
            update(Ticket).where(Ticket.id == first.ticket_id).values(status="closed")
        )
        if session.bind.dialect.name == "sqlite":  # type: ignore[union-attr]
            await transaction.commit()  # one writer: the close simply happens first
            result = await desk.ingest(answer)
        else:
            racing = asyncio.create_task(desk.ingest(answer))
            await asyncio.sleep(0.5)  # ingest has read "solved" and waits on the row lock
            assert not racing.done()
            await transaction.commit()
            result = await racing
    old = await ticket(desk, first.ticket_id)
    assert old.status == "closed"
    assert result.new_ticket and result.ticket_id != first.ticket_id
    follow_up = await ticket(desk, result.ticket_id)
    assert follow_up.follow_up_of_id == first.ticket_id
    assert follow_up.status == "new"
    message = await desk.read(lambda s: s.get(Message, result.message_id))
    assert message is not None and message.ticket_id == result.ticket_id
    assert not any(type(e).__name__ == "TicketStatusChanged" for e in result.events)


async def _set_status(
    session: AsyncSession, ticket_id: int, status: str
) -> tuple[None, list[Event]]:
    await session.execute(update(Ticket).where(Ticket.id == ticket_id).values(status=status))
    return None, []
