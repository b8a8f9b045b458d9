"""The resilience wrapper: timeout, read retries, per-kind cache, the circuit breaker
opening and recovering, and stale answers with the time of the last good answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from erp.port import (
    Answer,
    ErpNotFound,
    ErpTemporaryFailure,
    LookupKind,
    OrderState,
    OrderStatus,
    Part,
    Reservation,
    ReservationLine,
    Unavailable,
    Warranty,
)
from erp.resilience import Policy, ResilientErp


class FlakyErp:
    """An adapter whose behaviour the test sets: answer, fail, hang or not know."""

    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0
        self.mode = "ok"

    async def _act(self) -> None:
        self.calls += 1
        if self.mode == "down":
            raise ErpTemporaryFailure("connection refused")
        if self.mode == "slow":
            await asyncio.sleep(10)
        if self.mode == "unknown":
            raise ErpNotFound("no such thing")

    async def part_availability(self, query: str) -> Part:
        await self._act()
        return Part(query, "压缩机", "Compressor")

    async def order_status(self, reference: str) -> OrderStatus:
        await self._act()
        return OrderStatus(reference, OrderState.SHIPPED)

    async def warranty(self, serial: str) -> Warranty:
        await self._act()
        return Warranty(serial, "KFR-35GW", None, date(2026, 1, 1), date(2027, 1, 1))

    async def reserve_parts(self, ticket: str, lines: Sequence[ReservationLine]) -> Reservation:
        await self._act()
        return Reservation(ticket, "MR-1", "reserved", tuple(lines))

    async def release_reservation(self, ticket: str) -> Reservation | None:
        await self._act()
        return None

    async def close(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 4, 10, 42, tzinfo=UTC)
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        self.mono += seconds


def make(policy: Policy | None = None) -> tuple[FlakyErp, ResilientErp, Clock]:
    adapter, clock = FlakyErp(), Clock()
    erp = ResilientErp(
        adapter,
        policy or Policy(retry_base_s=0.0, breaker_failures=3, breaker_reset_s=0.2),
        clock=clock.now,
        monotonic=clock.monotonic,
    )
    return adapter, erp, clock


async def test_default_policy_matches_the_issue() -> None:
    policy = Policy()
    assert policy.timeout_s == 3.0
    assert policy.ttl_s == {
        LookupKind.PART: 30.0,
        LookupKind.ORDER: 120.0,
        LookupKind.WARRANTY: 3600.0,
    }


async def test_cache_per_kind_expires_after_its_ttl() -> None:
    adapter, erp, clock = make()
    first = await erp.part("CP-1")
    assert isinstance(first, Answer) and not first.stale
    assert first.fetched_at == clock.at
    await erp.part("CP-1")
    assert adapter.calls == 1
    clock.advance(31)  # stock is cached 30 s
    await erp.part("CP-1")
    assert adapter.calls == 2
    await erp.order("SO-1")
    clock.advance(60)  # orders 2 min
    await erp.order("SO-1")
    assert adapter.calls == 3
    clock.advance(61)
    await erp.order("SO-1")
    assert adapter.calls == 4


async def test_reads_are_retried_writes_are_not() -> None:
    adapter, erp, _ = make()
    adapter.mode = "down"
    assert isinstance(await erp.order("SO-9"), Unavailable)
    assert adapter.calls == 2
    adapter.calls = 0
    assert isinstance(await erp.reserve("SB-1", [ReservationLine("CP", Decimal(1))]), Unavailable)
    assert adapter.calls == 1


async def test_timeout_is_a_temporary_failure() -> None:
    adapter, erp, _ = make(Policy(timeout_s=0.05, read_attempts=1, retry_base_s=0.0))
    adapter.mode = "slow"
    answer = await erp.warranty("SN-1")
    assert isinstance(answer, Unavailable)
    assert "0.05 s" in answer.reason


async def test_unknown_reference_raises_and_does_not_trip_the_breaker() -> None:
    adapter, erp, _ = make()
    adapter.mode = "unknown"
    for _ in range(5):
        with pytest.raises(ErpNotFound):
            await erp.part("NOPE")
    assert (await erp.health()).state == "closed"


async def test_breaker_opens_then_half_opens_and_recovers() -> None:
    adapter, erp, clock = make()
    good = await erp.order("SO-1")
    assert isinstance(good, Answer)
    adapter.mode = "down"
    clock.advance(200)  # the cached order expired
    stale = await erp.order("SO-1")
    assert isinstance(stale, Answer) and stale.stale
    assert stale.fetched_at == good.fetched_at
    assert stale.unavailable_since == clock.at
    down_at = clock.at
    await erp.order("SO-2")  # the third and fourth failures: the breaker opens
    assert (await erp.health()).state == "opened"
    calls = adapter.calls
    clock.advance(5)
    refused = await erp.order("SO-3")
    assert isinstance(refused, Unavailable)
    assert adapter.calls == calls, "an open breaker does not call the ERP"
    assert refused.since == down_at
    assert refused.last_good_at == good.fetched_at
    adapter.mode = "ok"
    await asyncio.sleep(0.25)  # past breaker_reset_s: half-open, one trial call
    back = await erp.order("SO-3")
    assert isinstance(back, Answer) and not back.stale
    health = await erp.health()
    assert health.state == "closed"
    assert health.down_since is None
    assert health.last_good_at == clock.at


async def test_a_failed_trial_opens_the_breaker_again() -> None:
    adapter, erp, _ = make()
    adapter.mode = "down"
    for ref in ("A", "B"):
        await erp.order(ref)
    assert (await erp.health()).state == "opened"
    await asyncio.sleep(0.25)
    calls = adapter.calls
    assert isinstance(await erp.order("C"), Unavailable)
    assert adapter.calls == calls + 1, "half-open lets one trial through"
    assert (await erp.health()).state == "opened"


async def test_a_model_without_a_catalogue_finds_its_first_part() -> None:
    adapter, erp, _ = make()
    answer = await erp.model_parts("KFR-35GW")
    assert isinstance(answer, Answer)
    assert [p.part_number for p in answer.value] == ["KFR-35GW"]
    await erp.model_parts("KFR-35GW")
    assert adapter.calls == 1, "cached like stock"
