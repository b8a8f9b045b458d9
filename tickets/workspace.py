"""The agent workspace's read side: the ticket views (mine, unassigned, open, pending,
waiting for parts, solved lately) with their counts, sorting, keyset paging and search.

Decisions where the issue is silent:
- "my queues" are the queues the user is a member of (supervisors too: the views are a
  working list, the wallboard shows everything); admins' views cover every queue. ``mine``
  is every unfinished ticket assigned to the user, which ``tickets.may_see`` already lets
  them see. An agent never sees another queue's ticket in any view or count.
- ``unassigned`` and ``open`` hold unfinished tickets (new, open, pending, waiting for
  parts), like Zendesk's "unsolved"; ``solved`` holds tickets solved (or closed after
  being solved) in the last 7 days; ``all`` (not counted) is every status, for search.
- Sorts: ``sla`` (the nearest due time of a running clock, none last), ``priority``
  (urgent first, then the nearest due time), ``activity`` (latest first). Every sort ends
  in the ticket id, so the order is total and the keyset cursor is stable under ties
  and under inserts. A cursor is opaque (URL-safe base64 of JSON) and bound to its view
  and sort; anything else is ``Invalid``.
- Search (``q``) finds a ticket number (``SB-1042``, ``1042``), a phone number in any
  spelling (normalized to E.164 by ``tickets.identity``, matched exactly), an email
  (case-insensitive: exact when it is an address, and a substring of any customer's
  email when the query has a letter or ``@``), a customer name, a
  subject (substring, ``%``/``_`` taken literally, ``LIKE`` on both databases), or message
  text through the full-text index (``tickets.search``: Chinese words, stemmed English,
  model numbers; a query with punctuation must also appear literally).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from tickets.contracts import Channel, Priority, Role, TicketStatus
from tickets.errors import Invalid
from tickets.identity import PHONE_IDENTITY, InvalidAddress, normalize_email, normalize_phone
from tickets.models import (
    Customer,
    CustomerIdentity,
    Message,
    Queue,
    Ticket,
    User,
    parse_id,
    parse_number,
)
from tickets.search import MESSAGES, Matches, query_terms
from tickets.sla.clocks import CLOCKS, with_remaining
from tickets.staff import StaffUser
from tickets.status import OPEN_STATUSES

VIEWS = ("mine", "unassigned", "open", "pending", "waiting_parts", "solved")
"""The counted views, in the order the workspace shows them."""
SEARCH_VIEW = "all"
SORTS = ("sla", "priority", "activity")
MAX_LIMIT = 200
MAX_QUERY = 200
MAX_CURSOR = 300
SOLVED_WINDOW = timedelta(days=7)
PREVIEW_CHARS = 140

UNFINISHED = tuple(sorted(s.value for s in OPEN_STATUSES))
SOLVED = (TicketStatus.SOLVED.value, TicketStatus.CLOSED.value)
PRIORITY_RANK = {
    Priority.URGENT.value: 0,
    Priority.HIGH.value: 1,
    Priority.NORMAL.value: 2,
    Priority.LOW.value: 3,
}
_PRIORITY_ORDER = case(PRIORITY_RANK, value=Ticket.priority, else_=4)
_NUMBER = re.compile(r"^(?:SB-?)?\d{1,19}$", re.IGNORECASE)
_PHONE = re.compile(r"^\+?[\d\s().\-]{6,30}$")
_LITERAL = re.compile(r"[^\w\s]|_")


# -- scope ---------------------------------------------------------------------------


def _in_my_queues(staff: StaffUser) -> ColumnElement[bool]:
    if staff.role is Role.ADMIN:
        return Ticket.id.is_not(None)
    if not staff.queue_ids:
        return false()
    return Ticket.queue_id.in_(sorted(staff.queue_ids))


def view_clause(staff: StaffUser, view: str, now: datetime) -> ColumnElement[bool]:
    """The WHERE clause of one view for this user (``Invalid`` for an unknown view)."""
    if view == "mine":
        return and_(Ticket.assignee_id == staff.id, Ticket.status.in_(UNFINISHED))
    mine_or_queue = _in_my_queues(staff)
    if view == "unassigned":
        return and_(mine_or_queue, Ticket.assignee_id.is_(None), Ticket.status.in_(UNFINISHED))
    if view == "open":
        return and_(mine_or_queue, Ticket.status.in_(UNFINISHED))
    if view in (TicketStatus.PENDING.value, TicketStatus.WAITING_PARTS.value):
        return and_(mine_or_queue, Ticket.status == view)
    if view == "solved":
        return and_(
            mine_or_queue, Ticket.status.in_(SOLVED), Ticket.solved_at >= now - SOLVED_WINDOW
        )
    if view == SEARCH_VIEW:
        return or_(mine_or_queue, Ticket.assignee_id == staff.id)
    raise Invalid(f"unknown view {view!r}; one of {', '.join((*VIEWS, SEARCH_VIEW))}")


# -- search --------------------------------------------------------------------------


def like_pattern(text: str) -> str:
    """A ``LIKE`` pattern matching ``text`` anywhere, its ``%``, ``_`` and ``\\`` literal."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_clause(q: str) -> ColumnElement[bool]:
    """Tickets matching a search: number, phone, email, customer name, subject, text."""
    if len(q) > MAX_QUERY:
        raise Invalid(f"a search is at most {MAX_QUERY} characters")
    text = q.strip()
    if not text:
        return true()
    pattern = like_pattern(text)

    def contains(column: Any) -> ColumnElement[bool]:
        # Text without case (Chinese, digits) is matched with LIKE: ILIKE would fold
        # every row's case for nothing, several times slower on PostgreSQL.
        if text.lower() == text.upper():
            return column.like(pattern, escape="\\")  # type: ignore[no-any-return]
        return column.ilike(pattern, escape="\\")  # type: ignore[no-any-return]

    found: list[ColumnElement[bool]] = [
        contains(Ticket.subject),
        exists().where(Customer.id == Ticket.customer_id, contains(Customer.name)),
    ]
    terms = query_terms(text)
    if terms:
        # Message text through the full-text index (tickets.search); punctuation in the
        # query asks for the literal text, checked on the few indexed candidates.
        matched: ColumnElement[bool] = Matches(MESSAGES, terms)
        if _LITERAL.search(text):
            matched = and_(matched, contains(Message.text))
        found.append(Ticket.id.in_(select(Message.ticket_id).where(matched)))
    if _NUMBER.match(text):
        ticket_id = parse_number(text)
        if ticket_id is not None:
            found.append(Ticket.id == ticket_id)
    addresses: list[tuple[str, str]] = []
    if _PHONE.match(text) and sum(c.isdigit() for c in text) >= 6:
        with contextlib.suppress(InvalidAddress):
            addresses.append((PHONE_IDENTITY, normalize_phone(text)))
    if "@" in text:
        with contextlib.suppress(InvalidAddress):
            addresses.append((Channel.EMAIL.value, normalize_email(text)))
    if "@" in text or any(c.isalpha() for c in text):
        found.append(
            exists().where(
                CustomerIdentity.customer_id == Ticket.customer_id,
                CustomerIdentity.channel == Channel.EMAIL.value,
                CustomerIdentity.address.like(like_pattern(text.lower()), escape="\\"),
            )
        )
    for channel, address in addresses:
        found.append(
            exists().where(
                CustomerIdentity.customer_id == Ticket.customer_id,
                CustomerIdentity.channel == channel,
                CustomerIdentity.address == address,
            )
        )
    return or_(*found)


# -- ordering and cursors ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Key:
    """One sort key: the expression, its direction, and whether it may be NULL (NULLs
    always sort last)."""

    expr: ColumnElement[Any] | InstrumentedAttribute[Any]
    descending: bool
    nullable: bool
    kind: str  # "time", "int"


def _keys(sort: str) -> list[_Key]:
    due = _Key(Ticket.sla_due_at, False, True, "time")
    if sort == "sla":
        keys = [due]
    elif sort == "priority":
        keys = [_Key(_PRIORITY_ORDER, False, False, "int"), due]
    elif sort == "activity":
        keys = [_Key(Ticket.updated_at, True, False, "time")]
    else:
        raise Invalid(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    last = _Key(Ticket.id, sort == "activity", False, "int")
    return [*keys, last]


def _order_by(keys: Sequence[_Key]) -> list[Any]:
    out = []
    for k in keys:
        term = k.expr.desc() if k.descending else k.expr.asc()
        out.append(term.nulls_last() if k.nullable else term)
    return out


def _after(keys: Sequence[_Key], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``keys`` (NULLs last)."""
    ors: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    for k, v in zip(keys, values, strict=True):
        if v is None:
            beyond: ColumnElement[bool] = false()
            same: ColumnElement[bool] = k.expr.is_(None)
        else:
            beyond = k.expr < v if k.descending else k.expr > v
            if k.nullable:
                beyond = or_(beyond, k.expr.is_(None))
            same = k.expr == v
        ors.append(and_(*equal, beyond) if equal else beyond)
        equal.append(same)
    return or_(*ors)


def _key_values(sort: str, ticket: Ticket) -> list[Any]:
    if sort == "sla":
        return [ticket.sla_due_at, ticket.id]
    if sort == "priority":
        return [PRIORITY_RANK.get(ticket.priority, 4), ticket.sla_due_at, ticket.id]
    return [ticket.updated_at, ticket.id]


def encode_cursor(view: str, sort: str, values: Sequence[Any]) -> str:
    plain = [v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps([view, sort, plain], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, view: str, sort: str) -> list[Any]:
    """The key values a cursor carries, checked against the view, the sort and each key's
    type; a cursor that is anything else is ``Invalid``."""
    bad = Invalid("bad cursor")
    if not cursor or len(cursor) > MAX_CURSOR or not cursor.isascii():
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as err:
        raise bad from err
    if not (isinstance(data, list) and len(data) == 3 and data[:2] == [view, sort]):
        raise bad
    keys, values = _keys(sort), data[2]
    if not isinstance(values, list) or len(values) != len(keys):
        raise bad
    out: list[Any] = []
    for k, v in zip(keys, values, strict=True):
        if v is None and k.nullable:
            out.append(None)
        elif k.kind == "int" and isinstance(v, int) and not isinstance(v, bool):
            if parse_id(str(v)) is None and v != 0:
                raise bad
            out.append(v)
        elif k.kind == "time" and isinstance(v, str) and len(v) <= 40:
            try:
                moment = datetime.fromisoformat(v)
            except ValueError as err:
                raise bad from err
            if moment.tzinfo is None:
                raise bad
            out.append(moment.astimezone(UTC))
        else:
            raise bad
    return out


# -- rows ----------------------------------------------------------------------------


def sla_summary(state: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The clock a list shows: the running one due soonest (else the latest to finish),
    as ``{"clock", "due_at", "state", "remaining_s"}``; all None without SLA."""
    view = with_remaining(state or {}, now)
    best: tuple[str, dict[str, Any]] | None = None
    for name in CLOCKS:
        clock = view.get(name)
        if not isinstance(clock, dict):
            continue
        if (
            clock.get("remaining_s") is not None
            and (
                best is None
                or best[1].get("remaining_s") is None
                or clock["remaining_s"] < best[1]["remaining_s"]
            )
        ) or best is None:
            best = (name, clock)
    if best is None:
        return {"clock": None, "due_at": None, "state": None, "remaining_s": None}
    name, clock = best
    return {
        "clock": name,
        "due_at": clock.get("due_at"),
        "state": clock.get("state"),
        "remaining_s": clock.get("remaining_s"),
    }


def _preview(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def _row(t: Ticket, extra: Any, now: datetime) -> dict[str, Any]:
    queue, email, assignee_name, customer_name, preview, direction, at = extra
    return {
        "number": t.number,
        "subject": t.subject,
        "status": t.status,
        "priority": t.priority,
        "channel": t.channel,
        "language": t.language,
        "queue": queue,
        "assignee": email,
        "assignee_name": assignee_name,
        "customer": {"id": t.customer_id, "name": customer_name or ""},
        "last_message": None
        if direction is None
        else {"preview": _preview(preview), "direction": direction, "at": _iso(at)},
        "created_at": _iso(t.created_at),
        "updated_at": _iso(t.updated_at),
        "sla_due_at": _iso(t.sla_due_at),
        "sla": sla_summary(t.sla, now),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# -- the read models -----------------------------------------------------------------


async def list_view(
    session: AsyncSession,
    staff: StaffUser,
    view: str,
    *,
    sort: str = "sla",
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    now: datetime | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a view (``VIEWS`` or ``"all"``), optionally narrowed by a search, and
    the cursor of the next page (None on the last).

    One round trip: the page's ids come from the view's index alone on PostgreSQL (the
    columns other views and sorts read are included in it), then only those tickets are
    read with their queue, assignee, customer name and latest message."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")
    at = now or datetime.now(UTC)
    keys = _keys(sort)
    page_ids = select(Ticket.id).where(view_clause(staff, view, at))
    if q:
        page_ids = page_ids.where(search_clause(q))
    if cursor:
        page_ids = page_ids.where(_after(keys, decode_cursor(cursor, view, sort)))
    page_ids = page_ids.order_by(*_order_by(keys)).limit(limit + 1)
    latest = (
        select(func.max(Message.id))
        .where(Message.ticket_id == Ticket.id)
        .correlate(Ticket)
        .scalar_subquery()
    )
    query = (
        select(
            Ticket,
            Queue.name,
            User.email,
            User.name,
            Customer.name,
            func.substr(Message.text, 1, PREVIEW_CHARS * 2),
            Message.direction,
            Message.created_at,
        )
        .join(Customer, Customer.id == Ticket.customer_id)
        .outerjoin(Queue, Queue.id == Ticket.queue_id)
        .outerjoin(User, User.id == Ticket.assignee_id)
        .outerjoin(Message, Message.id == latest)
        .where(Ticket.id.in_(page_ids.scalar_subquery()))
        .order_by(*_order_by(keys))
    )
    rows = (await session.execute(query)).all()
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(view, sort, _key_values(sort, page[-1][0])) if more else None
    return [_row(r[0], r[1:], at) for r in page], next_cursor


async def view_counts(
    session: AsyncSession, staff: StaffUser, *, now: datetime | None = None
) -> dict[str, int]:
    """How many tickets each view holds for this user: one query over their queues, one
    over their own tickets (each answered from an index on PostgreSQL)."""
    at = now or datetime.now(UTC)
    queued = [v for v in VIEWS if v != "mine"]
    columns = [
        func.coalesce(func.sum(case((view_clause(staff, v, at), 1), else_=0)), 0).label(v)
        for v in queued
    ]
    relevant = or_(
        Ticket.status.in_(UNFINISHED),
        and_(Ticket.status.in_(SOLVED), Ticket.solved_at >= at - SOLVED_WINDOW),
    )
    row = (await session.execute(select(*columns).where(_in_my_queues(staff), relevant))).one()
    mine = await session.scalar(
        select(func.count()).select_from(Ticket).where(view_clause(staff, "mine", at))
    )
    counts = {"mine": int(mine or 0)}
    counts.update({v: int(row[i] or 0) for i, v in enumerate(queued)})
    return counts


__all__ = [
    "SEARCH_VIEW",
    "SORTS",
    "VIEWS",
    "list_view",
    "search_clause",
    "view_counts",
]
