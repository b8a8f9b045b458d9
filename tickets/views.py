"""Read side: tickets, messages and customers as JSON-safe dicts (the shapes DESIGN.md
fixes for the REST API), loaded with explicit queries and filtered by visibility.

What the caller may not see answers ``NotFound``, exactly like what does not exist: a
ticket outside an agent's queues, and a customer none of whose tickets they may see."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tickets import reachability
from tickets.errors import Invalid, NotFound
from tickets.identity import identity_channel
from tickets.models import (
    Attachment,
    Customer,
    CustomerIdentity,
    CustomerMerge,
    Message,
    Queue,
    Ticket,
    TicketParticipant,
    TicketTag,
    User,
    format_number,
    parse_number,
)
from tickets.sla.clocks import with_remaining
from tickets.staff import StaffUser, may_see, visible_tickets
from tickets.workspace import search_clause

MAX_LIMIT = 200


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def message_dict(msg: Message, attachments: Sequence[Attachment] = ()) -> dict[str, Any]:
    return {
        "id": msg.id,
        "direction": msg.direction,
        "channel": msg.channel,
        "author": msg.author_name,
        "text": msg.text,
        "html": msg.html,
        "attachments": [
            {"id": a.id, "name": a.name, "content_type": a.content_type, "size": a.size}
            for a in attachments
        ],
        "created_at": iso(msg.created_at),
        "delivery_status": msg.delivery_status,
        "delivery_error": msg.delivery_error,
        "seen_at": iso(msg.seen_at),
        "thread_reason": msg.thread_reason,
        "email": email_facts(msg.email_meta),
    }


def email_facts(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """What an email message shows besides its text: from, to, cc, subject, date, whether
    the original had quoted history, and ``noise`` (auto-reply, bounce) to show it
    collapsed. ``original`` is whether the raw mail is kept (served to staff only).
    ``inline`` maps a ``cid:`` of the HTML to the index of its image in the message's
    attachments."""
    if meta is None:
        return None
    return {
        "from": meta.get("from"),
        "name": meta.get("name"),
        "to": list(meta.get("to") or []),
        "cc": list(meta.get("cc") or []),
        "subject": meta.get("subject"),
        "date": meta.get("date"),
        "support_address": meta.get("support_address"),
        "noise": meta.get("noise"),
        "quoted": bool(meta.get("quoted")),
        "original": bool(meta.get("raw_ref")),
        "inline": {str(k): v for k, v in (meta.get("inline") or {}).items() if isinstance(v, int)},
    }


async def message_detail(session: AsyncSession, message_id: int) -> dict[str, Any]:
    msg = await session.get(Message, message_id)
    if msg is None:
        raise NotFound(f"no message {message_id}")
    files = (
        await session.execute(
            select(Attachment).where(Attachment.message_id == message_id).order_by(Attachment.id)
        )
    ).scalars()
    return message_dict(msg, list(files))


def _identity_dict(i: CustomerIdentity) -> dict[str, Any]:
    """``verified`` is false for a claim nobody checked (an email typed into the chat):
    agents see it, and only they merge it with the customer who owns the address.
    ``unreachable`` says why nothing can be sent there (opted out, blocked), else None."""
    return {
        "channel": i.channel,
        "address": i.address,
        "verified": i.verified,
        "unreachable": (
            None
            if i.opted_out_at is None
            else reachability.describe(i.unreachable_reason, i.opted_out_at)
        ),
    }


async def _customers(session: AsyncSession, ids: set[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    customers = (await session.execute(select(Customer).where(Customer.id.in_(ids)))).scalars()
    out: dict[int, dict[str, Any]] = {
        c.id: {"id": c.id, "name": c.name, "tier": c.tier, "identities": []} for c in customers
    }
    rows = await session.execute(
        select(CustomerIdentity)
        .where(CustomerIdentity.customer_id.in_(ids))
        .order_by(CustomerIdentity.id)
    )
    held: set[tuple[int, str, str]] = set()
    for ident in sorted(rows.scalars(), key=lambda i: not i.verified):
        key = (ident.customer_id, ident.channel, ident.address)
        if key not in held:  # a claim merged onto its verified owner shows once
            held.add(key)
            out[ident.customer_id]["identities"].append(_identity_dict(ident))
    return out


async def ticket_dicts(
    session: AsyncSession, tickets: Sequence[Ticket], now: datetime | None = None
) -> list[dict[str, Any]]:
    ids = [t.id for t in tickets]
    queue_ids = {t.queue_id for t in tickets if t.queue_id is not None}
    user_ids = {t.assignee_id for t in tickets if t.assignee_id is not None}
    queues: dict[int, str] = {}
    if queue_ids:
        rows = await session.execute(select(Queue.id, Queue.name).where(Queue.id.in_(queue_ids)))
        queues = {qid: name for qid, name in rows.all()}
    users: dict[int, str] = {}
    if user_ids:
        rows = await session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
        users = {uid: mail for uid, mail in rows.all()}
    tags: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for ticket_id, tag in (
            await session.execute(
                select(TicketTag.ticket_id, TicketTag.tag)
                .where(TicketTag.ticket_id.in_(ids))
                .order_by(TicketTag.tag)
            )
        ).all():
            tags[ticket_id].append(tag)
    customers = await _customers(session, {t.customer_id for t in tickets})
    return [
        {
            "number": t.number,
            "subject": t.subject,
            "status": t.status,
            "priority": t.priority,
            "channel": t.channel,
            "language": t.language,
            "queue": queues.get(t.queue_id) if t.queue_id else None,
            "assignee": users.get(t.assignee_id) if t.assignee_id else None,
            "customer": customers.get(t.customer_id),
            "tags": tags[t.id],
            "created_at": iso(t.created_at),
            "updated_at": iso(t.updated_at),
            "first_response_at": iso(t.first_response_at),
            "sla": with_remaining(t.sla or {}, now or datetime.now(UTC)),
            "rating": _rating(t),
        }
        for t in tickets
    ]


def _rating(t: Ticket) -> dict[str, Any] | None:
    if t.rating is None:
        return None
    return {"score": t.rating, "comment": t.rating_comment, "rated_at": iso(t.rated_at)}


async def list_tickets(
    session: AsyncSession,
    staff: StaffUser,
    *,
    status: str | None = None,
    queue: str | None = None,
    assignee: str | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; ``cursor`` is the number of the last ticket of the previous page."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")
    query: Select[Ticket] = select(Ticket).where(visible_tickets(staff))
    if status:
        query = query.where(Ticket.status.in_(status.split(",")))
    if queue:
        query = query.join(Queue, Queue.id == Ticket.queue_id).where(Queue.name == queue)
    if assignee is not None:
        if assignee in ("", "none"):
            query = query.where(Ticket.assignee_id.is_(None))
        else:
            email = staff.email if assignee == "me" else assignee.lower()
            query = query.join(User, User.id == Ticket.assignee_id).where(User.email == email)
    if q:
        query = query.where(search_clause(q))
    if cursor:
        after = parse_number(cursor)
        if after is None:
            raise Invalid("bad cursor")
        query = query.where(Ticket.id < after)
    rows = (
        (await session.execute(query.order_by(Ticket.id.desc()).limit(limit + 1))).scalars().all()
    )
    page, more = rows[:limit], len(rows) > limit
    return await ticket_dicts(session, page), (format_number(page[-1].id) if more else None)


async def ticket_detail(session: AsyncSession, staff: StaffUser, number: str) -> dict[str, Any]:
    ticket_id = parse_number(number)
    ticket = await session.get(Ticket, ticket_id) if ticket_id else None
    if ticket is None or not may_see(staff, ticket):
        raise NotFound(f"no ticket {number}")
    (data,) = await ticket_dicts(session, [ticket])
    data["messages"] = await messages_of(session, ticket.id)
    data["participants"] = list(
        (
            await session.execute(
                select(TicketParticipant.address)
                .where(TicketParticipant.ticket_id == ticket.id)
                .order_by(TicketParticipant.created_at, TicketParticipant.address)
            )
        ).scalars()
    )
    return data


async def messages_of(
    session: AsyncSession, ticket_id: int, *, include_notes: bool = True
) -> list[dict[str, Any]]:
    query = select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id)
    if not include_notes:
        query = query.where(Message.direction != "note")
    messages = (await session.execute(query)).scalars().all()
    files: dict[int, list[Attachment]] = {m.id: [] for m in messages}
    if messages:
        for a in (
            await session.execute(select(Attachment).where(Attachment.message_id.in_(files)))
        ).scalars():
            files[a.message_id].append(a)
    return [message_dict(m, files[m.id]) for m in messages]


async def customer_detail(
    session: AsyncSession, staff: StaffUser, customer_id: int
) -> dict[str, Any]:
    customers = await _customers(session, {customer_id})
    if customer_id not in customers:
        raise NotFound(f"no customer {customer_id}")
    tickets = (
        (
            await session.execute(
                select(Ticket)
                .where(Ticket.customer_id == customer_id, visible_tickets(staff))
                .order_by(Ticket.id.desc())
                .limit(MAX_LIMIT)
            )
        )
        .scalars()
        .all()
    )
    if not tickets and not staff.sees_all_queues:
        raise NotFound(f"no customer {customer_id}")
    data = customers[customer_id]
    data["merges"] = await undoable_merges(session, customer_id)
    data["tickets"] = [
        {k: d[k] for k in ("number", "subject", "status", "priority", "channel", "created_at")}
        for d in await ticket_dicts(session, tickets)
    ]
    return data


async def undoable_merges(session: AsyncSession, customer_id: int) -> list[dict[str, Any]]:
    """The merges into this customer that ``unmerge_customers`` can still undo, newest
    first: whom they merged, when, by whom, and how many identities and tickets moved."""
    rows = (
        await session.execute(
            select(CustomerMerge, Customer.name, User.email)
            .join(Customer, Customer.id == CustomerMerge.merged_id)
            .outerjoin(User, User.id == CustomerMerge.merged_by)
            .where(CustomerMerge.kept_id == customer_id, CustomerMerge.undone_at.is_(None))
            .order_by(CustomerMerge.id.desc())
        )
    ).all()
    return [
        {
            "id": m.id,
            "merged_id": m.merged_id,
            "merged_name": name,
            "merged_at": iso(m.merged_at),
            "merged_by": by,
            "identities": len(m.identity_ids),
            "tickets": len(m.ticket_ids),
        }
        for m, name, by in rows
    ]


async def open_conversation(
    session: AsyncSession, channel: str, address: str
) -> tuple[int, list[dict[str, Any]]] | None:
    """The customer-visible messages of the address's open ticket on the channel (what a
    chat window shows on reconnect); notes are never included."""
    row = (
        await session.execute(
            select(Ticket.id)
            .join(CustomerIdentity, CustomerIdentity.customer_id == Ticket.customer_id)
            .where(
                CustomerIdentity.channel == identity_channel(channel),
                CustomerIdentity.address == address,
                CustomerIdentity.verified,
                Ticket.channel == channel,
                Ticket.status != "closed",
            )
            .order_by(Ticket.id.desc())
            .limit(1)
        )
    ).scalar()
    if row is None:
        return None
    return row, await messages_of(session, row, include_notes=False)


async def inbound_message(
    session: AsyncSession, channel: str, external_id: str
) -> dict[str, Any] | None:
    """The stored inbound message with this provider id (``id``, ``ticket``), so a
    channel can answer a resend as the stored message before charging any rate limit."""
    row = (
        await session.execute(
            select(Message.id, Message.ticket_id).where(
                Message.channel == channel, Message.external_id == external_id
            )
        )
    ).first()
    return None if row is None else {"id": row[0], "ticket": format_number(row[1])}


async def channel_address(session: AsyncSession, ticket_id: int, channel: str) -> str | None:
    return (
        await session.execute(
            select(CustomerIdentity.address)
            .join(Ticket, Ticket.customer_id == CustomerIdentity.customer_id)
            .where(Ticket.id == ticket_id, CustomerIdentity.channel == identity_channel(channel))
            .order_by(CustomerIdentity.id)
            .limit(1)
        )
    ).scalar()
