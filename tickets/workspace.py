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
  subject or message text (substring, ``%``/``_`` taken literally). Substring search is
  ``LIKE`` on both databases (case folding: SQLite folds ASCII only); the knowledge room
  brings an index later.
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
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
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
    found: list[ColumnElement[bool]] = [
        Ticket.subject.ilike(pattern, escape="\\"),
        exists().where(Message.ticket_id == Ticket.id, Message.text.ilike(pattern, escape="\\")),
        exists().where(
            Customer.id == Ticket.customer_id, Customer.name.ilike(pattern, escape="\\")
        ),
    ]
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


@dataclass(frozen=True, slots=True)
class _Columns:
    """Where the sort keys are read from: the tickets table, or a union of slices."""

    id: Any
    due: Any
    updated: Any
    rank: Any


TICKET_COLUMNS = _Columns(Ticket.id, Ticket.sla_due_at, Ticket.updated_at, _PRIORITY_ORDER)


def _keys(sort: str, cols: _Columns = TICKET_COLUMNS) -> list[_Key]:
    due = _Key(cols.due, False, True, "time")
    if sort == "sla":
        keys = [due]
    elif sort == "priority":
        keys = [_Key(cols.rank, False, False, "int"), due]
    elif sort == "activity":
        keys = [_Key(cols.updated, True, False, "time")]
    else:
        raise Invalid(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    last = _Key(cols.id, sort == "activity", False, "int")
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


async def list_rows(
    session: AsyncSession, tickets: Sequence[Ticket], now: datetime
) -> list[dict[str, Any]]:
    """What a ticket list shows per ticket, in the order given, in four queries."""
    ids = [t.id for t in tickets]
    if not ids:
        return []
    queue_ids = {t.queue_id for t in tickets if t.queue_id is not None}
    user_ids = {t.assignee_id for t in tickets if t.assignee_id is not None}
    queues: dict[int, str] = {}
    if queue_ids:
        rows = await session.execute(select(Queue.id, Queue.name).where(Queue.id.in_(queue_ids)))
        queues = {qid: name for qid, name in rows.all()}
    users: dict[int, tuple[str, str]] = {}
    if user_ids:
        found = await session.execute(
            select(User.id, User.email, User.name).where(User.id.in_(user_ids))
        )
        users = {uid: (mail, name) for uid, mail, name in found.all()}
    names = dict(
        (
            await session.execute(
                select(Customer.id, Customer.name).where(
                    Customer.id.in_({t.customer_id for t in tickets})
                )
            )
        ).all()
    )
    latest = (
        select(func.max(Message.id)).where(Message.ticket_id.in_(ids)).group_by(Message.ticket_id)
    )
    previews: dict[int, tuple[str, str, datetime]] = {
        ticket_id: (text, direction, at)
        for ticket_id, text, direction, at in (
            await session.execute(
                select(
                    Message.ticket_id,
                    func.substr(Message.text, 1, PREVIEW_CHARS * 2),
                    Message.direction,
                    Message.created_at,
                ).where(Message.id.in_(latest))
            )
        ).all()
    }
    out = []
    for t in tickets:
        assignee = users.get(t.assignee_id) if t.assignee_id else None
        last = previews.get(t.id)
        out.append(
            {
                "number": t.number,
                "subject": t.subject,
                "status": t.status,
                "priority": t.priority,
                "channel": t.channel,
                "language": t.language,
                "queue": queues.get(t.queue_id) if t.queue_id else None,
                "assignee": assignee[0] if assignee else None,
                "assignee_name": assignee[1] if assignee else None,
                "customer": {"id": t.customer_id, "name": names.get(t.customer_id, "")},
                "last_message": None
                if last is None
                else {"preview": _preview(last[0]), "direction": last[1], "at": _iso(last[2])},
                "created_at": _iso(t.created_at),
                "updated_at": _iso(t.updated_at),
                "sla_due_at": _iso(t.sla_due_at),
                "sla": sla_summary(t.sla, now),
            }
        )
    return out


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# -- the read models -----------------------------------------------------------------


MAX_SLICES = 160
"""Beyond this many slices (an admin over every queue) one plain query is cheaper."""


@dataclass(frozen=True, slots=True)
class _Slice:
    """Tickets of one owner (a queue, or the assignee for ``mine``), one status and, for
    the SLA and priority sorts, one priority: an index hands each out already in order."""

    where: tuple[ColumnElement[bool], ...]
    rank: int | None


async def _slices(
    session: AsyncSession, staff: StaffUser, view: str, sort: str, now: datetime
) -> list[_Slice] | None:
    """The view as disjoint slices, or None when it is better read in one query."""
    extra: tuple[ColumnElement[bool], ...] = ()
    statuses: Sequence[str] = UNFINISHED
    if view == "unassigned":
        extra = (Ticket.assignee_id.is_(None),)
    elif view in (TicketStatus.PENDING.value, TicketStatus.WAITING_PARTS.value):
        statuses = (view,)
    elif view == "solved":
        statuses, extra = SOLVED, (Ticket.solved_at >= now - SOLVED_WINDOW,)
    elif view not in ("mine", "open"):
        return None
    owners: list[ColumnElement[bool]]
    if view == "mine":
        owners = [Ticket.assignee_id == staff.id]
    elif staff.role is Role.ADMIN:
        queue_ids = (await session.execute(select(Queue.id).order_by(Queue.id))).scalars()
        owners = [Ticket.queue_id.is_(None), *(Ticket.queue_id == q for q in queue_ids)]
    else:
        owners = [Ticket.queue_id == q for q in sorted(staff.queue_ids)]
    ranks: Sequence[tuple[str, int] | None] = (
        [None] if sort == "activity" else list(PRIORITY_RANK.items())
    )
    if len(owners) * len(statuses) * len(ranks) > MAX_SLICES:
        return None
    return [
        _Slice(
            (
                owner,
                Ticket.status == status,
                *extra,
                *(() if rank is None else (Ticket.priority == rank[0],)),
            ),
            None if rank is None else rank[1],
        )
        for owner in owners
        for status in statuses
        for rank in ranks
    ]


def _slice_query(
    part: _Slice, sort: str, after: list[Any] | None, limit: int
) -> Select[Any] | None:
    """One slice's first ``limit`` rows after the cursor, in the index's order; None
    when the whole slice lies before the cursor."""
    rank = _PRIORITY_ORDER if part.rank is None else literal(part.rank)
    keys = _keys(sort)
    wheres = list(part.where)
    if sort == "priority" and part.rank is not None:
        keys = keys[1:]  # one priority per slice: (due, id) orders it
        if after is not None:
            if part.rank < after[0]:
                return None
            after = after[1:] if part.rank == after[0] else None
    if after is not None:
        wheres.append(_after(keys, after))
    inner = (
        select(
            Ticket.id.label("id"),
            Ticket.sla_due_at.label("due"),
            Ticket.updated_at.label("updated"),
            rank.label("rank"),
        )
        .where(*wheres)
        .order_by(*_order_by(keys))
        .limit(limit)
        .subquery()
    )
    return select(inner)


async def _page_ids(
    session: AsyncSession,
    staff: StaffUser,
    view: str,
    sort: str,
    q: str | None,
    after: list[Any] | None,
    limit: int,
    now: datetime,
) -> list[int]:
    """The ids of the page, in order. Without a search, the view's slices are each read
    in index order and merged (a few hundred index entries instead of sorting every
    ticket of the user's queues); with one, or too many slices, one plain query."""
    slices = None if q else await _slices(session, staff, view, sort, now)
    if slices is None:
        keys = _keys(sort)
        query = select(Ticket.id).where(view_clause(staff, view, now))
        if q:
            query = query.where(search_clause(q))
        if after is not None:
            query = query.where(_after(keys, after))
        query = query.order_by(*_order_by(keys)).limit(limit)
        return list((await session.execute(query)).scalars())
    parts = [p for p in (_slice_query(s, sort, after, limit) for s in slices) if p is not None]
    if not parts:
        return []
    merged = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    cols = _Columns(merged.c.id, merged.c.due, merged.c.updated, merged.c.rank)
    query = select(merged.c.id).order_by(*_order_by(_keys(sort, cols))).limit(limit)
    return list((await session.execute(query)).scalars())


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
    the cursor of the next page (None on the last). Rows are ``list_rows`` dicts."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")
    at = now or datetime.now(UTC)
    view_clause(staff, view, at)  # refuses an unknown view
    _keys(sort)  # and an unknown sort
    after = decode_cursor(cursor, view, sort) if cursor else None
    ids = await _page_ids(session, staff, view, sort, q, after, limit + 1, at)
    found = {
        t.id: t for t in (await session.execute(select(Ticket).where(Ticket.id.in_(ids)))).scalars()
    }
    rows = [found[i] for i in ids if i in found]
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(view, sort, _key_values(sort, page[-1])) if more else None
    return await list_rows(session, page, at), next_cursor


async def view_counts(
    session: AsyncSession, staff: StaffUser, *, now: datetime | None = None
) -> dict[str, int]:
    """How many tickets each view holds for this user, in one query."""
    at = now or datetime.now(UTC)
    columns = [
        func.coalesce(func.sum(case((view_clause(staff, v, at), 1), else_=0)), 0).label(v)
        for v in VIEWS
    ]
    relevant = or_(
        Ticket.status.in_(UNFINISHED),
        and_(Ticket.status.in_(SOLVED), Ticket.solved_at >= at - SOLVED_WINDOW),
    )
    scope = or_(_in_my_queues(staff), Ticket.assignee_id == staff.id)
    row = (await session.execute(select(*columns).where(relevant, scope))).one()
    return {v: int(row[i] or 0) for i, v in enumerate(VIEWS)}


__all__ = [
    "SEARCH_VIEW",
    "SORTS",
    "VIEWS",
    "list_view",
    "search_clause",
    "view_counts",
]
