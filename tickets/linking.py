"""A customer proved they own a phone number on another channel (Telegram's "share my
phone number" sends the number Telegram verified, from the user's own account): the
number joins that customer. When another customer already owns the number, the channel's
customer is merged into the owner, the same undoable merge a supervisor makes
(``merge_customer_rows``), so the SMS history and the chat become one customer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tickets import audit
from tickets.contracts import Actor, Channel
from tickets.events import Event
from tickets.identity import PHONE_IDENTITY, identity_channel, normalize_phone
from tickets.models import Customer, CustomerIdentity
from tickets.services import merge_customer_rows


@dataclass(frozen=True, slots=True)
class Linked:
    customer_id: int
    """The customer who now holds both addresses."""
    phone: str
    outcome: str
    """``added`` (the number was nobody's), ``merged`` (into its owner), ``already``."""
    events: tuple[Event, ...] = ()


async def _owner(session: AsyncSession, channel: str, address: str) -> int | None:
    """The live customer owning a verified identity (a merged one points at its keeper)."""
    row = (
        await session.execute(
            select(CustomerIdentity.customer_id, Customer.merged_into_id)
            .join(Customer, Customer.id == CustomerIdentity.customer_id)
            .where(
                CustomerIdentity.channel == channel,
                CustomerIdentity.address == address,
                CustomerIdentity.verified.is_(True),
            )
            .order_by(CustomerIdentity.id)
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return int(row[1] or row[0])


async def link_verified_phone(
    session: AsyncSession, channel: Channel, address: str, raw_phone: str, now: datetime
) -> Linked | None:
    """Joins the customer of ``address`` on ``channel`` with the owner of ``raw_phone``;
    None when ``address`` has no customer. ``InvalidAddress`` for a bad number."""
    phone = normalize_phone(raw_phone)
    mine = await _owner(session, identity_channel(channel), address)
    if mine is None:
        return None
    owner = await _owner(session, PHONE_IDENTITY, phone)
    actor = Actor.system(f"{channel.value} contact")
    if owner == mine:
        return Linked(mine, phone, "already")
    if owner is None:
        await session.execute(
            insert(CustomerIdentity).values(
                customer_id=mine,
                channel=PHONE_IDENTITY,
                address=phone,
                verified=True,
                created_at=now,
            )
        )
        await audit.record(
            session, actor, "customer.phone_linked", now, customer=mine, channel=channel.value
        )
        return Linked(mine, phone, "added")
    merged = await merge_customer_rows(session, actor, None, owner, mine, now)
    return Linked(owner, phone, "merged", tuple(merged.events))
