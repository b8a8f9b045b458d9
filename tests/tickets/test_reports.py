"""The wallboard's read models on both databases, with seeded tickets at known times:
tickets per hour and channel (bucket edges, the window, the queue filter), the
first-response histogram, tickets solved today in the business calendar's zone, and the
SLA list (at risk and breached, soonest breach first, paused and met clocks left out)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from switchboard import db
from switchboard.seed import seed_demo
from tests.helpers import Clock, RecordingPublisher, inbound
from tickets import Actor, Channel, Desk
from tickets.models import Queue, Ticket
from tickets.staff import load_staff

NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai (the demo calendar)
H = timedelta(hours=1)
SENDERS = itertools.count(1)


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Desk]:
    engine = db.create_engine(database_url)
    desk = Desk(db.session_factory(engine), RecordingPublisher(), Clock(NOW))
    await desk.write(lambda s, now: _seed(s, now))
    yield desk
    await desk.close()
    await engine.dispose()


async def _seed(session: AsyncSession, now: datetime) -> tuple[None, tuple[()]]:
    await seed_demo(session, now)
    return None, ()


async def queue_id(desk: Desk, name: str) -> int:
    found = await desk.read(lambda s: s.scalar(select(Queue.id).where(Queue.name == name)))
    assert found is not None
    return int(found)


async def make(
    desk: Desk,
    at: datetime,
    *,
    channel: Channel = Channel.SMS,
    queue: str = "Repairs",
    answered_after: timedelta | None = None,
) -> tickets.IngestResult:
    """A ticket created at ``at`` in ``queue``; answered by the admin after the delay."""
    n = next(SENDERS)
    sender = f"visitor-{n}" if channel is Channel.WEBCHAT else f"+86138{n:08d}"
    clock = desk.clock
    assert isinstance(clock, Clock)
    clock.now = at
    result = await desk.ingest(inbound(sender, "空调不制冷", channel=channel, at=at))
    target = await queue_id(desk, queue)

    async def route(s: AsyncSession, now: datetime) -> tuple[None, Any]:
        written = await tickets.assign(
            s, result.ticket_id, None, Actor.system("test"), now, reason="test", queue_id=target
        )
        return None, written.events

    await desk.write(route)
    if answered_after is not None:
        clock.now = at + answered_after

        async def answer(s: AsyncSession, now: datetime) -> tuple[None, Any]:
            admin = await load_staff(s, await tickets.user_id_by_email(s, "admin@example.com"))
            assert admin is not None
            written = await tickets.reply(s, admin, result.number, "您好", now)
            return None, written.events

        await desk.write(answer)
    clock.now = NOW
    return result


async def test_volume_per_hour_by_channel(desk: Desk) -> None:
    await make(desk, datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC))  # before the window
    await make(desk, datetime(2026, 11, 23, 16, 0, tzinfo=UTC))  # first bucket, its edge
    await make(desk, datetime(2026, 11, 24, 14, 0, tzinfo=UTC))
    await make(desk, datetime(2026, 11, 24, 15, 10, tzinfo=UTC))
    await make(desk, datetime(2026, 11, 24, 15, 29, tzinfo=UTC), channel=Channel.WEBCHAT)
    await make(desk, datetime(2026, 11, 24, 15, 20, tzinfo=UTC), queue="Orders")

    every = await desk.read(lambda s: tickets.volume_by_hour(s, None, NOW))
    assert len(every.hours) == 24
    assert every.hours[0] == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    assert every.hours[-1] == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    assert set(every.by_channel) == {"sms", "webchat"}
    sms = every.by_channel["sms"]
    assert (sms[0], sms[22], sms[23], sum(sms)) == (1, 1, 2, 4)
    assert every.by_channel["webchat"][23] == 1 and sum(every.by_channel["webchat"]) == 1

    repairs = await queue_id(desk, "Repairs")
    only = await desk.read(lambda s: tickets.volume_by_hour(s, {repairs}, NOW))
    assert only.by_channel["sms"][23] == 1 and sum(only.by_channel["sms"]) == 3
    nothing = await desk.read(lambda s: tickets.volume_by_hour(s, set(), NOW))
    assert nothing.by_channel == {} and len(nothing.hours) == 24


async def test_first_response_histogram_over_seven_days(desk: Desk) -> None:
    base = NOW - timedelta(days=4)
    for i, delay in enumerate(
        [
            timedelta(seconds=30),
            timedelta(seconds=59),
            timedelta(minutes=2),
            timedelta(minutes=10),
            timedelta(hours=2),
            timedelta(days=3),
        ]
    ):
        await make(desk, base + i * timedelta(minutes=1), answered_after=delay)
    await make(desk, NOW - timedelta(days=8), answered_after=timedelta(seconds=5))  # too old
    await make(desk, NOW - H)  # never answered
    await make(desk, base, queue="Orders", answered_after=timedelta(minutes=20))

    buckets = await desk.read(lambda s: tickets.first_response_histogram(s, None, NOW))
    assert [b.upper_s for b in buckets] == [60, 300, 900, 1800, 3600, 14400, 86400, None]
    assert [b.count for b in buckets] == [2, 1, 1, 1, 0, 1, 0, 1]

    repairs = await queue_id(desk, "Repairs")
    mine = await desk.read(lambda s: tickets.first_response_histogram(s, {repairs}, NOW))
    assert [b.count for b in mine] == [2, 1, 1, 0, 0, 1, 0, 1]


async def test_solved_today_counts_from_midnight_in_the_business_zone(desk: Desk) -> None:
    # 23:30 in Shanghai: "today" began at 16:00 UTC the day before.
    start = await desk.read(lambda s: tickets.business_day_start(s, NOW))
    assert start == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    agent = await desk.read(lambda s: tickets.user_id_by_email(s, "agent2@example.com"))
    early = await make(desk, NOW - 2 * H)
    today = await make(desk, NOW - 2 * H)
    reopened = await make(desk, NOW - 2 * H)
    for result, solved_at, status in (
        (early, datetime(2026, 11, 23, 15, 59, tzinfo=UTC), "solved"),
        (today, datetime(2026, 11, 23, 16, 1, tzinfo=UTC), "closed"),
        (reopened, NOW - H, "open"),
    ):

        async def mark(
            s: AsyncSession, now: datetime, r: Any = result, at: Any = solved_at, st: Any = status
        ) -> tuple[None, tuple[()]]:
            await s.execute(
                update(Ticket)
                .where(Ticket.id == r.ticket_id)
                .values(assignee_id=agent, solved_at=at, status=st)
            )
            return None, ()

        await desk.write(mark)
    counts = await desk.read(lambda s: tickets.solved_since(s, start, [agent]))
    assert counts == {agent: 1}
    orders = await queue_id(desk, "Orders")
    assert await desk.read(lambda s: tickets.solved_since(s, start, [agent], {orders})) == {}


def clock(due: datetime, warn: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "target_min": 60,
        "started_at": (due - H).isoformat(),
        "due_at": due.isoformat(),
        "warn_at": warn.isoformat(),
        "met_at": None,
        "warned": False,
        "breached": False,
        **extra,
    }


async def test_the_sla_list_shows_risk_and_breach_soonest_first(desk: Desk) -> None:
    made = [await make(desk, NOW - 2 * H) for _ in range(6)]
    orders = await make(desk, NOW - 2 * H, queue="Orders")
    states = {
        # breached 10 minutes ago (the watch has not run yet: judged from due_at)
        made[0]: {"first_response": clock(NOW - timedelta(minutes=10), NOW - H)},
        # in its warning window, 5 minutes left
        made[1]: {"resolution": clock(NOW + timedelta(minutes=5), NOW - timedelta(minutes=1))},
        # running, not yet warned
        made[2]: {"first_response": clock(NOW + H, NOW + timedelta(minutes=30))},
        # met: never at risk
        made[3]: {"first_response": clock(NOW - H, NOW - 2 * H, met_at=NOW.isoformat())},
        # two clocks: the worse one (breached an hour ago) is the row
        made[4]: {
            "first_response": clock(NOW + timedelta(minutes=3), NOW - H, warned=True),
            "resolution": clock(NOW - H, NOW - 2 * H, breached=True, warned=True),
        },
        made[5]: {"resolution": clock(NOW + H, NOW - H, paused=True)},
        orders: {"first_response": clock(NOW - timedelta(minutes=1), NOW - H)},
    }
    for result, sla in states.items():

        async def put(
            s: AsyncSession, now: datetime, r: Any = result, v: Any = sla
        ) -> tuple[None, tuple[()]]:
            await s.execute(update(Ticket).where(Ticket.id == r.ticket_id).values(sla=v))
            return None, ()

        await desk.write(put)
    every = await desk.read(lambda s: tickets.sla_at_risk(s, None, NOW))
    assert [(r.number, r.state, r.clock, r.remaining_s) for r in every] == [
        (made[4].number, "breached", "resolution", -3600),
        (made[0].number, "breached", "first_response", -600),
        (orders.number, "breached", "first_response", -60),
        (made[1].number, "warning", "resolution", 300),
    ]
    assert every[2].queue == "Orders" and every[0].queue == "Repairs"
    repairs = await queue_id(desk, "Repairs")
    mine = await desk.read(lambda s: tickets.sla_at_risk(s, {repairs}, NOW))
    assert orders.number not in [r.number for r in mine] and len(mine) == 3
