"""Read models for the supervisor wallboard: tickets per hour by channel, the
first-response-time distribution, tickets solved per agent since a moment, and the open
tickets whose SLA is at risk or breached.

The aggregates run in SQL that both databases accept: hour buckets and histogram buckets
are ``CASE`` ladders over bound boundaries, computed in a sub-select and grouped outside
(PostgreSQL will not match a ``GROUP BY`` expression whose parameters are bound twice).
Only the length of a response needs one dialect-specific expression (SQLite's
``julianday``, PostgreSQL's ``extract(epoch ...)``).

Decisions where the issue is silent:
- volume is tickets created (new contacts), bucketed by the hour they arrived in, UTC hours
  aligned to the hour (zones off by half an hour see the same bars shifted);
- first response time is wall-clock time from creation to the first agent reply, for
  tickets created in the window (business-hours time is what the SLA clocks measure);
- the SLA list reads the open tickets of the given queues and judges their clocks here
  (one row per ticket, its most urgent clock); paused and met clocks are not at risk.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.models import Queue, Ticket, User, format_number
from tickets.sla.clocks import CLOCKS, with_remaining
from tickets.status import DONE_STATUSES, OPEN_STATUSES
from tickets.websessions import business_time_zone

HOUR = timedelta(hours=1)
FRT_BOUNDS_S: tuple[int, ...] = (60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600)
"""Upper bounds (exclusive) of the first-response histogram's buckets; one more bucket
holds everything slower."""


@dataclass(frozen=True, slots=True)
class HourlyVolume:
    hours: tuple[datetime, ...]
    """The start of each hour bucket, oldest first (UTC)."""
    by_channel: dict[str, tuple[int, ...]]
    """Per channel, the count of tickets created in each hour (same order as ``hours``)."""


@dataclass(frozen=True, slots=True)
class ResponseBucket:
    upper_s: int | None
    """Exclusive upper bound in seconds; None for the last (slower than every bound)."""
    count: int


@dataclass(frozen=True, slots=True)
class SlaRisk:
    ticket_id: int
    number: str
    subject: str
    status: str
    queue_id: int | None
    queue: str | None
    assignee_id: int | None
    assignee: str | None
    assignee_name: str | None
    clock: str
    state: str
    """``warning`` or ``breached``."""
    due_at: datetime
    remaining_s: int
    """Seconds until the breach; negative once breached."""


def _in_queues(queue_ids: Collection[int] | None) -> ColumnElement[bool]:
    if queue_ids is None:
        return literal(True)
    return Ticket.queue_id.in_(sorted(queue_ids))


def _ladder(value: Any, bounds: list[Any]) -> ColumnElement[int]:
    """The index of the first bound ``value`` is below (``len(bounds)`` when none)."""
    return case(*[(value < b, i) for i, b in enumerate(bounds)], else_=len(bounds))


async def volume_by_hour(
    session: AsyncSession,
    queue_ids: Collection[int] | None,
    now: datetime,
    hours: int = 24,
) -> HourlyVolume:
    """Tickets created per hour and channel over the last ``hours`` whole hours up to and
    including the current one. ``queue_ids`` None: every queue (and tickets in none)."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + HOUR
    start = end - hours * HOUR
    starts = tuple(start + i * HOUR for i in range(hours))
    bucket = _ladder(Ticket.created_at, [s + HOUR for s in starts]).label("bucket")
    inner = (
        select(bucket, Ticket.channel.label("channel"))
        .where(Ticket.created_at >= start, Ticket.created_at < end, _in_queues(queue_ids))
        .subquery()
    )
    rows = await session.execute(
        select(inner.c.bucket, inner.c.channel, func.count()).group_by(
            inner.c.bucket, inner.c.channel
        )
    )
    counts: dict[str, list[int]] = {}
    for index, channel, count in rows.all():
        counts.setdefault(channel, [0] * hours)[int(index)] = int(count)
    return HourlyVolume(starts, {ch: tuple(v) for ch, v in sorted(counts.items())})


def _seconds_between(session: AsyncSession, later: Any, earlier: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


async def first_response_histogram(
    session: AsyncSession,
    queue_ids: Collection[int] | None,
    now: datetime,
    days: int = 7,
    bounds: tuple[int, ...] = FRT_BOUNDS_S,
) -> list[ResponseBucket]:
    """How many tickets created in the last ``days`` got their first reply within each
    bucket of ``bounds`` (seconds); tickets still unanswered are not counted."""
    since = now - timedelta(days=days)
    waited = _seconds_between(session, Ticket.first_response_at, Ticket.created_at)
    inner = (
        select(_ladder(waited, list(bounds)).label("bucket"))
        .where(
            Ticket.created_at >= since,
            Ticket.created_at <= now,
            Ticket.first_response_at.is_not(None),
            _in_queues(queue_ids),
        )
        .subquery()
    )
    rows = await session.execute(select(inner.c.bucket, func.count()).group_by(inner.c.bucket))
    counts = [0] * (len(bounds) + 1)
    for index, count in rows.all():
        counts[int(index)] = int(count)
    uppers: list[int | None] = [*bounds, None]
    return [ResponseBucket(u, c) for u, c in zip(uppers, counts, strict=True)]


async def business_day_start(session: AsyncSession, now: datetime) -> datetime:
    """Midnight of today in the business calendar's zone, as a UTC moment."""
    name = await business_time_zone(session)
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
    return midnight.astimezone(UTC)


async def solved_since(
    session: AsyncSession,
    since: datetime,
    agent_ids: Collection[int],
    queue_ids: Collection[int] | None = None,
) -> dict[int, int]:
    """Tickets each agent (the assignee) solved since ``since`` and that are still solved
    or closed (a reopened ticket is not a solved one)."""
    if not agent_ids:
        return {}
    rows = await session.execute(
        select(Ticket.assignee_id, func.count())
        .where(
            Ticket.solved_at >= since,
            Ticket.assignee_id.in_(sorted(agent_ids)),
            Ticket.status.in_(sorted(s.value for s in DONE_STATUSES)),
            _in_queues(queue_ids),
        )
        .group_by(Ticket.assignee_id)
    )
    return {int(agent): int(count) for agent, count in rows.all() if agent is not None}


async def staff_names(session: AsyncSession, user_ids: Collection[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(sorted(user_ids))))
    return {int(i): n for i, n in rows.all()}


async def sla_at_risk(
    session: AsyncSession,
    queue_ids: Collection[int] | None,
    now: datetime,
    limit: int = 200,
) -> list[SlaRisk]:
    """Open tickets with a clock in warning or breached, soonest breach first (the most
    overdue at the top), at most ``limit``."""
    rows = await session.execute(
        select(
            Ticket.id,
            Ticket.subject,
            Ticket.status,
            Ticket.sla,
            Ticket.queue_id,
            Queue.name.label("queue"),
            Ticket.assignee_id,
            User.email.label("assignee"),
            User.name.label("assignee_name"),
        )
        .outerjoin(Queue, Queue.id == Ticket.queue_id)
        .outerjoin(User, User.id == Ticket.assignee_id)
        .where(
            Ticket.status.in_(sorted(s.value for s in OPEN_STATUSES)),
            _in_queues(queue_ids),
        )
    )
    found: list[SlaRisk] = []
    for row in rows.all():
        worst = _worst_clock(row.sla or {}, now)
        if worst is None:
            continue
        clock, state, due_at, remaining = worst
        found.append(
            SlaRisk(
                ticket_id=row.id,
                number=format_number(row.id),
                subject=row.subject,
                status=row.status,
                queue_id=row.queue_id,
                queue=row.queue,
                assignee_id=row.assignee_id,
                assignee=row.assignee,
                assignee_name=row.assignee_name,
                clock=clock,
                state=state,
                due_at=due_at,
                remaining_s=remaining,
            )
        )
    found.sort(key=lambda r: (r.remaining_s, r.ticket_id))
    return found[:limit]


def _worst_clock(sla: dict[str, Any], now: datetime) -> tuple[str, str, datetime, int] | None:
    """The clock nearest its breach among those at risk. Judged from the due and warning
    times as well as the watch's flags, so the list is right before the watch has run."""
    view = with_remaining(sla, now)
    worst: tuple[str, str, datetime, int] | None = None
    for name in CLOCKS:
        clock = view.get(name)
        if not clock or clock.get("state") in ("met", "paused"):
            continue
        remaining, due, warn = clock.get("remaining_s"), clock.get("due_at"), clock.get("warn_at")
        if remaining is None or not isinstance(due, str):
            continue
        if remaining <= 0 or clock.get("breached"):
            state = "breached"
        elif clock.get("warned") or (isinstance(warn, str) and datetime.fromisoformat(warn) <= now):
            state = "warning"
        else:
            continue
        if worst is None or remaining < worst[3]:
            worst = (name, state, datetime.fromisoformat(due), int(remaining))
    return worst
