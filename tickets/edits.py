"""A customer edited a message they sent (Telegram lets them): the stored text becomes
the new text, and the caller keeps the text it replaces (``edit_inbound`` returns it), so
the timeline can mark the message edited and show the original. Never a second message.

The event is ``DeliveryStatusChanged`` with the message's unchanged ``received`` status:
it is what makes an open ticket page reload that message's timeline, and no consumer
reads more into it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tickets import audit
from tickets.contracts import Actor, Channel, DeliveryStatus, Direction
from tickets.events import DeliveryStatusChanged, Event
from tickets.ingest.policy import MAX_TEXT
from tickets.models import Message, format_number


@dataclass(frozen=True, slots=True)
class Edited:
    message_id: int
    ticket_id: int
    previous_text: str
    changed: bool
    events: tuple[Event, ...]

    @property
    def number(self) -> str:
        return format_number(self.ticket_id)


async def edit_inbound(
    session: AsyncSession, channel: Channel, external_id: str, text: str, now: datetime
) -> Edited | None:
    """Replaces the text of the customer's message ``external_id`` on ``channel``; None
    when no such message is stored (the caller ingests the edited one as new)."""
    row = (
        await session.execute(
            select(Message.id, Message.ticket_id, Message.text)
            .where(
                Message.channel == channel.value,
                Message.external_id == external_id,
                Message.direction == Direction.IN.value,
            )
            .with_for_update()
        )
    ).first()
    if row is None:
        return None
    message_id, ticket_id, previous = row
    new = text[:MAX_TEXT]
    if new == previous:
        return Edited(message_id, ticket_id, previous, False, ())
    await session.execute(update(Message).where(Message.id == message_id).values(text=new))
    await audit.record(
        session,
        Actor.customer(None, channel.value),
        "message.edited",
        now,
        ticket_id,
        message_id=message_id,
    )
    event = DeliveryStatusChanged(
        ticket_id, format_number(ticket_id), message_id, DeliveryStatus.RECEIVED.value
    )
    return Edited(message_id, ticket_id, previous, True, (event,))
