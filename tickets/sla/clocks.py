"""SLA clocks: which policy applies, when each target is due in business time, pausing
the resolution clock while the ticket waits on the customer or on parts, and a watch that
raises a warning and a breach event exactly once per clock.

The state lives on the ticket (``tickets.sla``, JSON) with ``next_sla_check_at`` indexed,
so the watch only reads tickets whose next warning or breach is due: it never scans all
open tickets. Clocks are advanced by events (created, replied, customer wrote, status
changed) consumed from the bus, so ingest stays lean.

Per clock: ``target_min``, ``due_at`` (None while paused), ``warn_at``, ``met_at``,
``warned``, ``breached``; resolution adds ``paused``, ``elapsed_s`` and ``running_since``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.desk import Desk
from tickets.events import (
    Event,
    MessageReceived,
    MessageSent,
    TicketCreated,
    TicketStatusChanged,
    TicketUpdated,
    register,
)
from tickets.models import BusinessCalendar, SlaPolicy, Ticket, TicketTag, format_number
from tickets.sla.calendar import ALWAYS, Calendar
from tickets.status import DONE_STATUSES, PAUSED_STATUSES

log = logging.getLogger(__name__)
PAUSING = frozenset(s.value for s in PAUSED_STATUSES)
FINISHED = frozenset(s.value for s in DONE_STATUSES)
CLOCKS = ("first_response", "next_response", "resolution")


@register
@dataclass(frozen=True, slots=True)
class SlaWarning(Event):
    ticket_id: int
    number: str
    clock: str
    due_at: str


@register
@dataclass(frozen=True, slots=True)
class SlaBreached(Event):
    ticket_id: int
    number: str
    clock: str
    due_at: str


@register
@dataclass(frozen=True, slots=True)
class SlaStarted(Event):
    """A ticket's clocks started; routing re-orders its waiting work by ``due_at``."""

    ticket_id: int
    number: str
    due_at: str | None


@dataclass(frozen=True)
class Policy:
    name: str
    position: int
    priority: str | None
    channel: str | None
    queue_id: int | None
    tag: str | None
    targets: dict[str, int | None]
    warning_share: float
    calendar: Calendar

    def matches(self, priority: str, channel: str, queue_id: int | None, tags: set[str]) -> bool:
        return (
            (self.priority is None or self.priority == priority)
            and (self.channel is None or self.channel == channel)
            and (self.queue_id is None or self.queue_id == queue_id)
            and (self.tag is None or self.tag in tags)
        )


def choose_policy(
    policies: Sequence[Policy], priority: str, channel: str, queue_id: int | None, tags: set[str]
) -> Policy | None:
    """First match in position order wins."""
    return next((p for p in policies if p.matches(priority, channel, queue_id, tags)), None)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _at(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _start_clock(policy: Policy, clock: str, start: datetime) -> dict[str, Any] | None:
    target = policy.targets.get(clock)
    if not target:
        return None
    seconds = target * 60
    return {
        "target_min": target,
        "started_at": _iso(start),
        "due_at": _iso(policy.calendar.add(start, seconds)),
        "warn_at": _iso(policy.calendar.add(start, seconds * policy.warning_share)),
        "met_at": None,
        "warned": False,
        "breached": False,
    }


def start(policy: Policy, created_at: datetime) -> dict[str, Any]:
    state: dict[str, Any] = {
        "policy": policy.name,
        "calendar": policy.calendar.name,
        "timezone": policy.calendar.timezone,
        "first_response": _start_clock(policy, "first_response", created_at),
        "next_response": None,
        "resolution": _start_clock(policy, "resolution", created_at),
    }
    if state["resolution"] is not None:
        state["resolution"].update(paused=False, elapsed_s=0.0, running_since=_iso(created_at))
    return state


def on_reply(state: dict[str, Any], now: datetime) -> None:
    for name in ("first_response", "next_response"):
        clock = state.get(name)
        if clock and clock.get("met_at") is None:
            clock["met_at"] = _iso(now)


def on_customer_message(policy: Policy, state: dict[str, Any], now: datetime) -> None:
    """The customer wrote again after being answered: the next-response clock starts."""
    first = state.get("first_response")
    if first and first.get("met_at") is None:
        return
    current = state.get("next_response")
    if current and current.get("met_at") is None:
        return
    state["next_response"] = _start_clock(policy, "next_response", now)


def on_status(policy: Policy, state: dict[str, Any], old: str, new: str, now: datetime) -> None:
    clock = state.get("resolution")
    if not clock or clock.get("met_at"):
        return
    if new in FINISHED:
        clock["met_at"] = _iso(now)
        return
    if new in PAUSING and not clock["paused"]:
        since = _at(clock.get("running_since")) or now
        clock["elapsed_s"] = clock.get("elapsed_s", 0.0) + policy.calendar.between(since, now)
        clock.update(paused=True, running_since=None, due_at=None, warn_at=None)
    elif new not in PAUSING and clock["paused"]:
        total = clock["target_min"] * 60
        used = clock.get("elapsed_s", 0.0)
        clock.update(
            paused=False,
            running_since=_iso(now),
            due_at=_iso(policy.calendar.add(now, max(0.0, total - used))),
            warn_at=_iso(policy.calendar.add(now, max(0.0, total * policy.warning_share - used))),
        )


def next_check(state: dict[str, Any]) -> datetime | None:
    """The earliest pending warning or breach, or None when nothing can fire."""
    moments = []
    for name in CLOCKS:
        clock = state.get(name)
        if not clock or clock.get("met_at") or clock.get("paused"):
            continue
        if not clock["warned"] and clock.get("warn_at"):
            moments.append(_at(clock["warn_at"]))
        if not clock["breached"] and clock.get("due_at"):
            moments.append(_at(clock["due_at"]))
    found = [m for m in moments if m is not None]
    return min(found) if found else None


def nearest_due(state: dict[str, Any]) -> datetime | None:
    """The earliest due time of a running clock (breached ones included: they are the
    most urgent), or None; kept in ``tickets.sla_due_at`` for the workspace's sort."""
    found = [
        _at(clock.get("due_at"))
        for name in CLOCKS
        if (clock := state.get(name)) and not clock.get("met_at") and not clock.get("paused")
    ]
    moments = [m for m in found if m is not None]
    return min(moments) if moments else None


def fire_due(state: dict[str, Any], ticket_id: int, now: datetime) -> list[Event]:
    """Marks and returns the warnings and breaches that are due (each fires once)."""
    events: list[Event] = []
    number = format_number(ticket_id)
    for name in CLOCKS:
        clock = state.get(name)
        if not clock or clock.get("met_at") or clock.get("paused"):
            continue
        warn_at, due_at = _at(clock.get("warn_at")), _at(clock.get("due_at"))
        if not clock["warned"] and warn_at is not None and warn_at <= now:
            clock["warned"] = True
            events.append(SlaWarning(ticket_id, number, name, clock["due_at"]))
        if not clock["breached"] and due_at is not None and due_at <= now:
            clock["breached"] = True
            events.append(SlaBreached(ticket_id, number, name, clock["due_at"]))
    return events


def with_remaining(state: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The state as the API shows it: each running clock gains ``remaining_s`` (negative
    once breached) and a one-word ``state``."""
    out = dict(state)
    for name in CLOCKS:
        clock = state.get(name)
        if not clock:
            continue
        view = dict(clock)
        due = _at(clock.get("due_at"))
        view["remaining_s"] = (
            None if due is None or clock.get("met_at") else round((due - now).total_seconds())
        )
        view["state"] = (
            "met"
            if clock.get("met_at")
            else "paused"
            if clock.get("paused")
            else "breached"
            if clock["breached"]
            else "warning"
            if clock["warned"]
            else "running"
        )
        out[name] = view
    return out


def calendar_from_row(row: BusinessCalendar) -> Calendar:
    return Calendar(
        name=row.name,
        timezone=row.timezone,
        weekly_hours=row.weekly_hours,
        holiday_country=row.holiday_country,
        extra_working_days=frozenset(date.fromisoformat(d) for d in row.extra_working_days),
        days_off=frozenset(date.fromisoformat(d) for d in row.days_off),
    )


async def load_policies(session: AsyncSession) -> list[Policy]:
    calendars = {
        c.id: calendar_from_row(c)
        for c in (await session.execute(select(BusinessCalendar))).scalars()
    }
    rows = (
        await session.execute(select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id))
    ).scalars()
    return [
        Policy(
            name=r.name,
            position=r.position,
            priority=r.match_priority,
            channel=r.match_channel,
            queue_id=r.match_queue_id,
            tag=r.match_tag,
            targets={
                "first_response": r.first_response_min,
                "next_response": r.next_response_min,
                "resolution": r.resolution_min,
            },
            warning_share=r.warning_share,
            calendar=calendars.get(r.calendar_id, ALWAYS) if r.calendar_id else ALWAYS,
        )
        for r in rows
    ]


class SlaClocks:
    """Consumes ticket events to move the clocks, and watches for due warnings/breaches."""

    def __init__(
        self, desk: Desk, *, clock: Callable[[], datetime] | None = None, batch: int = 500
    ) -> None:
        self.desk = desk
        self.clock = clock or desk.clock
        self.batch = batch
        self._policies: list[Policy] | None = None
        self._running = False

    async def policies(self) -> list[Policy]:
        if self._policies is None:
            self._policies = await self.desk.read(load_policies)
        return self._policies

    def invalidate(self) -> None:
        self._policies = None

    async def on_event(self, event: Event) -> None:
        if isinstance(event, TicketCreated):
            await self._update(event.ticket_id, "created")
        elif isinstance(event, MessageSent) and event.direction == "out":
            await self._update(event.ticket_id, "reply")
        elif isinstance(event, MessageReceived):
            await self._update(event.ticket_id, "customer")
        elif isinstance(event, TicketStatusChanged):
            await self._update(event.ticket_id, "status", event.old, event.new)
        elif isinstance(event, TicketUpdated) and (
            "priority" in event.changes or "queue" in event.changes
        ):
            await self._update(event.ticket_id, "reclassify")

    async def _update(self, ticket_id: int, why: str, old: str = "", new: str = "") -> None:
        policies = await self.policies()

        async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            ticket = await session.get(Ticket, ticket_id, with_for_update=True)
            if ticket is None:
                return None, []
            tags = set(
                (
                    await session.execute(
                        select(TicketTag.tag).where(TicketTag.ticket_id == ticket_id)
                    )
                ).scalars()
            )
            policy = choose_policy(policies, ticket.priority, ticket.channel, ticket.queue_id, tags)
            state = copy.deepcopy(ticket.sla or {})
            if policy is None:
                return None, []
            if not state or (why == "reclassify" and state.get("policy") != policy.name):
                state = start(policy, ticket.created_at)
                if ticket.first_response_at is not None:
                    on_reply(state, ticket.first_response_at)
            if why == "reply":
                on_reply(state, now)
            elif why == "customer" and ticket.status not in FINISHED:
                on_customer_message(policy, state, now)
            elif why == "status":
                on_status(policy, state, old, new, now)
            await session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id)
                .values(
                    sla=state, next_sla_check_at=next_check(state), sla_due_at=nearest_due(state)
                )
            )
            first = state.get("first_response") or {}
            started: list[Event] = (
                [SlaStarted(ticket_id, format_number(ticket_id), first.get("due_at"))]
                if why == "created"
                else []
            )
            return None, started

        await self.desk.write(work)

    async def watch_once(self) -> int:
        """Fires what is due now; touches only tickets whose next check has come."""

        async def work(session: AsyncSession, now: datetime) -> tuple[int, list[Event]]:
            tickets = (
                (
                    await session.execute(
                        select(Ticket)
                        .where(
                            Ticket.next_sla_check_at.is_not(None), Ticket.next_sla_check_at <= now
                        )
                        .order_by(Ticket.next_sla_check_at)
                        .limit(self.batch)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            events: list[Event] = []
            for ticket in tickets:
                state = copy.deepcopy(ticket.sla or {})
                events.extend(fire_due(state, ticket.id, now))
                await session.execute(
                    update(Ticket)
                    .where(Ticket.id == ticket.id)
                    .values(
                        sla=state,
                        next_sla_check_at=next_check(state),
                        sla_due_at=nearest_due(state),
                    )
                )
            return len(tickets), events

        return await self.desk.write(work)

    def stop(self) -> None:
        self._running = False

    async def run(self, interval_s: float = 1.0) -> None:
        """The watch loop; policies are re-read every minute so edits take effect."""
        self._running = True
        passes = 0
        while self._running:
            try:
                while await self.watch_once() >= self.batch:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SLA watch pass failed")
            passes += 1
            if passes % 60 == 0:
                self.invalidate()
            await asyncio.sleep(interval_s)
