"""SLA clocks: business time across a weekend, a CN public holiday and an adjusted
working Saturday in Asia/Shanghai; policy matching; pause and resume; warnings and
breaches fire once; and the demo's ticket JSON shows its SLA."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from switchboard.app import RUNTIME, create_app
from tests.conftest import Stack
from tests.helpers import Clock, eventually, inbound, seed_with_tokens
from tickets.contracts import Channel
from tickets.sla.calendar import Calendar
from tickets.sla.clocks import (
    Policy,
    SlaBreached,
    SlaWarning,
    choose_policy,
    fire_due,
    next_check,
    on_reply,
    on_status,
    start,
    with_remaining,
)

SHANGHAI_HOURS = {
    d: [["09:00", "12:00"], ["13:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")
}
CN = Calendar("cn", "Asia/Shanghai", SHANGHAI_HOURS, "CN")


def sh(y: int, m: int, d: int, h: int, mi: int = 0) -> datetime:
    """A Shanghai wall-clock time as aware UTC."""
    return datetime(y, m, d, h, mi, tzinfo=CN.zone).astimezone(UTC)


def policy(first: int | None = 240, resolution: int | None = 960, **match: Any) -> Policy:
    return Policy(
        name=match.pop("name", "p"),
        position=0,
        priority=match.get("priority"),
        channel=match.get("channel"),
        queue_id=match.get("queue_id"),
        tag=match.get("tag"),
        targets={"first_response": first, "next_response": 120, "resolution": resolution},
        warning_share=0.75,
        calendar=CN,
    )


def test_a_weekend_is_skipped() -> None:
    # Friday 2026-11-27 17:00 + 2 business hours -> Monday 10:00 (lunch 12-13 not counted later)
    assert CN.add(sh(2026, 11, 27, 17), 2 * 3600) == sh(2026, 11, 30, 10)
    assert CN.between(sh(2026, 11, 27, 17), sh(2026, 11, 30, 10)) == 2 * 3600
    assert CN.add(sh(2026, 11, 30, 11), 2 * 3600) == sh(2026, 11, 30, 14)  # skips lunch


def test_spring_festival_and_adjusted_saturdays() -> None:
    # Sat 2026-02-14 is an adjusted working day; 16-20 Feb and Mon 23 Feb are off.
    assert CN.spans(date(2026, 2, 14)) and CN.spans(date(2026, 2, 28))
    assert (
        not CN.spans(date(2026, 2, 15))
        and not CN.spans(date(2026, 2, 17))
        and not CN.spans(date(2026, 2, 23))
    )
    assert CN.add(sh(2026, 2, 13, 17), 4 * 3600) == sh(2026, 2, 14, 12)
    assert CN.add(sh(2026, 2, 14, 17), 8 * 3600) == sh(2026, 2, 24, 17)
    # Labour Day: 1-5 May off, Sat 9 May worked
    assert CN.add(sh(2026, 4, 30, 17), 2 * 3600) == sh(2026, 5, 6, 10)
    assert CN.spans(date(2026, 5, 9))


def test_explicit_days_override_the_package() -> None:
    cal = Calendar(
        "x",
        "Asia/Shanghai",
        SHANGHAI_HOURS,
        "CN",
        extra_working_days=frozenset({date(2026, 11, 28)}),
        days_off=frozenset({date(2026, 11, 30)}),
    )
    assert cal.add(sh(2026, 11, 27, 17), 2 * 3600) == sh(2026, 11, 28, 10)
    assert cal.add(sh(2026, 11, 28, 17), 2 * 3600) == sh(2026, 12, 1, 10)


def test_first_match_wins() -> None:
    policies = [
        policy(name="vip", tag="vip"),
        policy(name="urgent", priority="urgent"),
        policy(name="chat", channel="webchat"),
        policy(name="any"),
    ]
    assert choose_policy(policies, "urgent", "webchat", 1, {"vip"}).name == "vip"  # type: ignore[union-attr]
    assert choose_policy(policies, "urgent", "webchat", 1, set()).name == "urgent"  # type: ignore[union-attr]
    assert choose_policy(policies, "low", "webchat", 1, set()).name == "chat"  # type: ignore[union-attr]
    assert choose_policy(policies, "low", "email", 1, set()).name == "any"  # type: ignore[union-attr]
    assert choose_policy(policies[:1], "low", "email", 1, set()) is None


def test_pending_pauses_the_resolution_clock_and_resume_keeps_what_was_used() -> None:
    p = policy(first=60, resolution=16 * 60)  # two business days
    created = sh(2026, 11, 23, 9)  # Monday
    state = start(p, created)
    assert state["resolution"]["due_at"] == sh(2026, 11, 24, 18).isoformat()
    on_status(p, state, "open", "pending", sh(2026, 11, 23, 14))  # 4 h used (lunch excluded)
    assert state["resolution"]["paused"] and state["resolution"].get("due_at") is None
    assert state["resolution"]["elapsed_s"] == 4 * 3600
    assert next_check(state) == sh(2026, 11, 23, 9, 45)  # first response still running
    on_status(p, state, "pending", "open", sh(2026, 11, 25, 9))  # resumed Wednesday
    assert state["resolution"]["due_at"] == sh(2026, 11, 26, 14).isoformat()  # 12 h left
    view = with_remaining(state, sh(2026, 11, 26, 13))
    assert view["resolution"]["remaining_s"] == 3600 and view["resolution"]["state"] == "running"
    on_status(p, state, "open", "solved", sh(2026, 11, 26, 10))
    assert state["resolution"]["met_at"] is not None


def test_warning_then_breach_fire_once_each() -> None:
    p = policy(first=60, resolution=None)
    state = start(p, sh(2026, 11, 23, 9))
    assert next_check(state) == sh(2026, 11, 23, 9, 45)
    assert fire_due(state, 1, sh(2026, 11, 23, 9, 44)) == []
    events = fire_due(state, 1, sh(2026, 11, 23, 9, 50))
    assert [type(e) for e in events] == [SlaWarning]
    assert fire_due(state, 1, sh(2026, 11, 23, 9, 55)) == []
    assert next_check(state) == sh(2026, 11, 23, 10)
    events = fire_due(state, 1, sh(2026, 11, 23, 11))
    assert len(events) == 1 and isinstance(events[0], SlaBreached)
    assert events[0].clock == "first_response"
    assert fire_due(state, 1, sh(2026, 11, 23, 12)) == [] and next_check(state) is None


def test_a_reply_meets_the_first_response() -> None:
    p = policy(first=60)
    state = start(p, sh(2026, 11, 23, 9))
    on_reply(state, sh(2026, 11, 23, 9, 30))
    assert with_remaining(state, sh(2026, 11, 23, 9, 31))["first_response"]["state"] == "met"
    # only the resolution clock is left: 75% of 16 business hours = Tuesday 14:00
    assert next_check(state) == sh(2026, 11, 24, 14)


async def test_the_demo_ticket_carries_its_sla_and_the_watch_fires_once(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    clock = Clock(sh(2026, 11, 23, 10))
    tokens = await seed_with_tokens(stack.database_url)
    app = create_app(stack.settings(), redis_prefix=redis_prefix, clock=clock, timers=False)
    client = await aiohttp_client(app)
    runtime = app[RUNTIME]
    result = await runtime.desk.ingest(
        inbound("v_sla", "我家空调不制冷了", channel=Channel.WEBCHAT, at=clock.now)
    )
    headers = {"Authorization": f"Bearer {tokens['supervisor@example.com']}"}
    # Without workers no consumer runs in this process: hand the SLA room its events.
    for event in result.events:
        await runtime.sla.on_event(event)

    async def sla() -> Any:
        r = await client.get(f"/api/v1/tickets/{result.number}", headers=headers)
        body = await r.json()
        return body["sla"] if body["sla"].get("policy") else None

    state = await eventually(sla)
    assert state["policy"] == "Standard" and state["calendar"] == "China (Shanghai)"
    assert state["timezone"] == "Asia/Shanghai"
    assert state["first_response"]["due_at"] == sh(2026, 11, 23, 15).isoformat()
    assert state["first_response"]["state"] == "running"
    clock.now = sh(2026, 11, 23, 15, 30)
    assert await runtime.sla.watch_once() == 1
    assert await runtime.sla.watch_once() == 0
    body = await (await client.get(f"/api/v1/tickets/{result.number}", headers=headers)).json()
    assert body["sla"]["first_response"]["state"] == "breached"
    assert body["sla"]["first_response"]["remaining_s"] < 0
    assert body["sla"]["first_response"]["warned"] is True
