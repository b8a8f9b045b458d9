"""The workspace's one door to the core's data: the views with their counts, search,
cursors, the queues a user may file into, and ``create_ticket``. Pages call only this
module, so a change of the core's read models is one edit here.

Every function takes the signed-in ``StaffUser`` and leaves visibility to ``tickets``
(an agent's views, counts and search cover their queues and their own tickets only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from tickets import Desk, StaffUser

VIEWS: tuple[str, ...] = tuple(tickets.VIEWS)
SEARCH_VIEW: str = tickets.SEARCH_VIEW
SORTS: tuple[str, ...] = tuple(tickets.SORTS)
DEFAULT_VIEW = "open"
DEFAULT_SORT = "sla"
PAGE_SIZE = 25


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None


async def view_page(
    desk: Desk,
    staff: StaffUser,
    view: str,
    *,
    sort: str,
    q: str | None,
    cursor: str | None,
    limit: int = PAGE_SIZE,
) -> Page:
    now = desk.clock()
    rows, next_cursor = await desk.read(
        lambda s: tickets.list_view(
            s, staff, view, sort=sort, q=q, limit=limit, cursor=cursor, now=now
        )
    )
    return Page(rows, next_cursor)


async def counts(desk: Desk, staff: StaffUser) -> dict[str, int]:
    now = desk.clock()
    return await desk.read(lambda s: tickets.view_counts(s, staff, now=now))


async def queues_for(desk: Desk, staff: StaffUser) -> list[str]:
    """The queues this user may file a new ticket into (agents: their own)."""
    found = await desk.read(tickets.all_queues)
    return [q.name for q in found if staff.sees_all_queues or q.id in staff.queue_ids]


@dataclass(frozen=True, slots=True)
class NewTicketForm:
    customer_name: str
    subject: str
    text: str
    email: str | None
    phone: str | None
    channel: str | None
    queue: str | None
    priority: str | None


async def create_ticket(
    desk: Desk, staff: StaffUser, form: NewTicketForm, *, idempotency_key: str | None
) -> str:
    """Opens the ticket (``tickets.create_ticket``); returns its number."""
    new = tickets.NewTicket(
        customer_name=form.customer_name,
        subject=form.subject,
        text=form.text,
        email=form.email,
        phone=form.phone,
        channel=form.channel,
        queue=form.queue,
        priority=form.priority,
    )

    async def work(
        session: AsyncSession, now: datetime
    ) -> tuple[tickets.Created, tuple[tickets.Event, ...]]:
        created = await tickets.create_ticket(
            session,
            staff,
            new,
            now,
            idempotency_key=idempotency_key,
            choose_queue=desk.choose_queue,
        )
        return created, created.events

    created = await desk.write(work)
    return created.number


async def ticket_summaries(
    desk: Desk, staff: StaffUser, numbers: list[str]
) -> dict[str, dict[str, Any]]:
    """List rows (subject, customer, ...) of the given tickets this user may see; the
    others are left out. For the few tickets of an agent's open offers."""
    out: dict[str, dict[str, Any]] = {}
    for number in numbers:
        page = await view_page(desk, staff, SEARCH_VIEW, sort=DEFAULT_SORT, q=number, cursor=None)
        for row in page.rows:
            if row["number"] == number:
                out[number] = row
    return out
