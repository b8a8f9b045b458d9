"""Every call the ticket page makes into ``tickets``, in one module, so the switch to the
workspace data functions (customer search, un-merge) when they land is one edit here.

Each function takes the caller's session and staff user; visibility is the services'
own (``NotFound`` for a ticket outside the user's queues), never re-implemented here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from tickets import AttachmentRef, Channel, Event, StaffUser, TicketChanges

MAX_CANDIDATES = 10


async def ticket(session: AsyncSession, staff: StaffUser, number: str) -> dict[str, Any]:
    """The ticket as the JSON API shows it (messages oldest first); NotFound if hidden."""
    return await tickets.ticket_detail(session, staff, number)


async def customer(session: AsyncSession, staff: StaffUser, customer_id: int) -> dict[str, Any]:
    return await tickets.customer_detail(session, staff, customer_id)


async def queues(session: AsyncSession) -> list[tickets.QueueRef]:
    return await tickets.all_queues(session)


async def members(session: AsyncSession) -> list[tickets.QueueMemberRef]:
    return await tickets.queue_members(session)


async def find_customers(
    session: AsyncSession, staff: StaffUser, query: str, *, exclude: int
) -> list[dict[str, Any]]:
    """Customers to merge: an id (``#12`` or ``12``), else the customers of the tickets
    the ticket search finds for ``query`` (name, email, phone once the workspace search
    lands; subject and message text before)."""
    found: dict[int, dict[str, Any]] = {}
    plain = query.strip().lstrip("#")
    if plain.isdigit() and len(plain) < 12:
        try:
            one = await tickets.customer_detail(session, staff, int(plain))
        except tickets.NotFound:
            pass
        else:
            found[one["id"]] = one
    if query.strip():
        page, _ = await tickets.list_tickets(session, staff, q=query.strip(), limit=50)
        for t in page:
            c = t.get("customer")
            if c and c["id"] not in found:
                found[c["id"]] = c
    found.pop(exclude, None)
    return list(found.values())[:MAX_CANDIDATES]


Work = Callable[[AsyncSession, datetime], Awaitable[tuple[None, tuple[Event, ...]]]]


def reply(
    staff: StaffUser,
    number: str,
    text: str,
    channel: Channel | None,
    reachable: Any,
    attachments: Sequence[AttachmentRef] = (),
) -> Work:
    async def work(s: AsyncSession, now: datetime) -> tuple[None, tuple[Event, ...]]:
        written = await tickets.reply(
            s,
            staff,
            number,
            text,
            now,
            channel=channel,
            reachable=reachable,
            attachments=attachments,
        )
        return None, written.events

    return work


def note(staff: StaffUser, number: str, text: str) -> Work:
    async def work(s: AsyncSession, now: datetime) -> tuple[None, tuple[Event, ...]]:
        return None, (await tickets.add_note(s, staff, number, text, now)).events

    return work


def update(staff: StaffUser, number: str, changes: TicketChanges) -> Work:
    async def work(s: AsyncSession, now: datetime) -> tuple[None, tuple[Event, ...]]:
        return None, (await tickets.update_ticket(s, staff, number, changes, now)).events

    return work


def retry(staff: StaffUser, number: str, message_id: int) -> Work:
    async def work(s: AsyncSession, now: datetime) -> tuple[None, tuple[Event, ...]]:
        return None, (await tickets.retry_message(s, staff, number, message_id, now)).events

    return work


def merge(staff: StaffUser, number: str, other_id: int) -> Work:
    """Merges ``other_id`` into the customer of ``number`` (checked visible first)."""

    async def work(s: AsyncSession, now: datetime) -> tuple[None, tuple[Event, ...]]:
        keep = (await tickets.ticket_detail(s, staff, number))["customer"]["id"]
        return None, (await tickets.merge_customers(s, staff, keep, other_id, now)).events

    return work


def unmerge(staff: StaffUser, number: str, merge_id: int) -> Work:
    """Undoes merge record ``merge_id`` into the customer of ``number``."""

    async def work(s: AsyncSession, now: datetime) -> tuple[None, tuple[Event, ...]]:
        keep = (await tickets.ticket_detail(s, staff, number))["customer"]["id"]
        undo = getattr(tickets, "unmerge_customers", None)
        if undo is None:
            raise tickets.Invalid("un-merge is not available on this server yet")
        written = await undo(s, staff, keep, merge_id, now)
        return None, tuple(written.events)

    return work


def can_unmerge() -> bool:
    return hasattr(tickets, "unmerge_customers")
