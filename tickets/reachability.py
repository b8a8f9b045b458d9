"""Whether a customer can be reached at an address: the seam every channel uses to say
"stop sending here".

An identity is unreachable when the customer opted out (SMS STOP / 退订, Twilio error
21610) or the channel reports it cannot deliver for good (a Telegram user who blocked the
bot). The state lives on every ``customer_identities`` row of that channel and address
(``opted_out_at``, ``unreachable_reason``), so it follows the address across merges and
across the phone channels (SMS and voice share one E.164 identity). A reply to an
unreachable address is refused at once with the reason (a 400 on the API, a note in the
composer), and the outbox fails a message already queued to it without calling the
provider. ``mark_reachable`` (START / UNSTOP, an unblock) clears it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.contracts import Channel
from tickets.identity import identity_channel
from tickets.models import CustomerIdentity


async def mark_unreachable(
    session: AsyncSession, channel: Channel, address: str, reason: str, now: datetime
) -> int:
    """Marks ``address`` on ``channel`` unreachable for ``reason``; returns the rows changed.
    An already-unreachable address keeps its first time and reason."""
    result = await session.execute(
        update(CustomerIdentity)
        .where(
            CustomerIdentity.channel == identity_channel(channel),
            CustomerIdentity.address == address,
            CustomerIdentity.opted_out_at.is_(None),
        )
        .values(opted_out_at=now, unreachable_reason=reason[:200])
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def mark_reachable(session: AsyncSession, channel: Channel, address: str) -> int:
    result = await session.execute(
        update(CustomerIdentity)
        .where(
            CustomerIdentity.channel == identity_channel(channel),
            CustomerIdentity.address == address,
            CustomerIdentity.opted_out_at.is_not(None),
        )
        .values(opted_out_at=None, unreachable_reason=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def unreachable_reason(session: AsyncSession, channel: Channel, address: str) -> str | None:
    """Why ``address`` cannot be reached on ``channel``, or None when it can."""
    row = (
        await session.execute(
            select(CustomerIdentity.unreachable_reason, CustomerIdentity.opted_out_at)
            .where(
                CustomerIdentity.channel == identity_channel(channel),
                CustomerIdentity.address == address,
                CustomerIdentity.opted_out_at.is_not(None),
            )
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return describe(row[0], row[1])


def describe(reason: str | None, since: datetime | None) -> str:
    when = f" since {since:%Y-%m-%d %H:%M} UTC" if since else ""
    return f"{reason or 'the customer cannot be reached'}{when}"
