"""What stands between ticket handling and a slow or broken ERP: a timeout on every call
(3 s by default), retries for reads only (a write is made safe by its idempotency
reference instead), a short per-kind cache (stock 30 s, orders 2 min, warranty 1 h) and a
circuit breaker.

The breaker is purgatory's ``AsyncCircuitBreakerFactory``: a maintained asyncio-native
library (closed → opened after ``threshold`` consecutive failures → half-opened after
``ttl`` seconds → closed on the first success, opened again on a failure), with an
exclusion list so an unknown part number or a validation error never counts as the ERP
being down. We keep beside it only what the library does not know: since when the ERP
has been failing and when it last answered well, so the agent reads "ERP unavailable since
10:42" instead of an error, and a cached answer can be shown as stale. Breaker and cache
live in each process (``serve`` and ``worker`` learn that the ERP is down on their own,
within ``threshold`` calls), which keeps Redis out of the ERP path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from erp.port import (
    Answer,
    ErpAdapter,
    ErpNotFound,
    ErpRejected,
    ErpTemporaryFailure,
    LookupKind,
    OrderStatus,
    Part,
    Reservation,
    ReservationLine,
    Unavailable,
    Warranty,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Policy:
    timeout_s: float = 3.0
    read_attempts: int = 2
    retry_base_s: float = 0.2
    retry_cap_s: float = 2.0
    ttl_s: dict[LookupKind, float] = field(
        default_factory=lambda: {
            LookupKind.PART: 30.0,
            LookupKind.ORDER: 120.0,
            LookupKind.WARRANTY: 3600.0,
        }
    )
    stale_keep_s: float = 24 * 3600.0
    """How long an expired answer is kept to be shown (marked stale) while the ERP is down."""
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0
    cache_size: int = 10_000


@dataclass(frozen=True, slots=True)
class Health:
    source: str
    state: str
    """``closed`` (healthy), ``opened`` or ``half-opened``, as the breaker says."""
    down_since: datetime | None
    last_good_at: datetime | None


class _Cache:
    """Answers by (kind, key), with the monotonic time they were stored; bounded LRU."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[LookupKind, str], tuple[float, Answer[Any]]] = OrderedDict()

    def get(self, kind: LookupKind, key: str) -> tuple[float, Answer[Any]] | None:
        found = self._items.get((kind, key))
        if found is not None:
            self._items.move_to_end((kind, key))
        return found

    def put(self, kind: LookupKind, key: str, stored: float, answer: Answer[Any]) -> None:
        self._items[(kind, key)] = (stored, answer)
        self._items.move_to_end((kind, key))
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def drop(self, kind: LookupKind, key: str) -> None:
        self._items.pop((kind, key), None)

    def clear(self) -> None:
        self._items.clear()


class ResilientErp:
    """An adapter behind timeout, retries, cache and breaker. Reads answer an ``Answer``
    or an ``Unavailable`` value and raise only ``ErpNotFound`` / ``ErpRejected``."""

    def __init__(
        self,
        adapter: ErpAdapter,
        policy: Policy | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.adapter = adapter
        self.policy = policy or Policy()
        self.clock = clock
        self.monotonic = monotonic
        self.cache = _Cache(self.policy.cache_size)
        self.breakers = AsyncCircuitBreakerFactory(
            default_threshold=self.policy.breaker_failures,
            default_ttl=self.policy.breaker_reset_s,
            exclude=[ErpNotFound, ErpRejected],
        )
        self.down_since: datetime | None = None
        self.last_good_at: datetime | None = None
        self.last_error: str | None = None

    @property
    def source(self) -> str:
        return self.adapter.name

    # -- reads ---------------------------------------------------------------------

    async def part(self, query: str) -> Answer[Part] | Unavailable:
        return await self._read(LookupKind.PART, query, self.adapter.part_availability)

    async def order(self, reference: str) -> Answer[OrderStatus] | Unavailable:
        return await self._read(LookupKind.ORDER, reference, self.adapter.order_status)

    async def warranty(self, serial: str) -> Answer[Warranty] | Unavailable:
        return await self._read(LookupKind.WARRANTY, serial, self.adapter.warranty)

    async def _read(
        self, kind: LookupKind, key: str, call: Callable[[str], Awaitable[T]]
    ) -> Answer[T] | Unavailable:
        cached = self.cache.get(kind, key)
        now_m = self.monotonic()
        if cached is not None and now_m - cached[0] < self.policy.ttl_s[kind]:
            return cached[1]
        try:
            value = await self._attempts(lambda: call(key), self.policy.read_attempts)
        except (ErpTemporaryFailure, OpenedState) as err:
            down = self._failed(err)
            if cached is not None and now_m - cached[0] < self.policy.stale_keep_s:
                old: Answer[T] = cached[1]
                return Answer(old.value, old.source, old.fetched_at, True, down)
            return Unavailable(self.source, self.last_error or "", down, self.last_good_at)
        answer = Answer(value, self.source, self._succeeded())
        self.cache.put(kind, key, self.monotonic(), answer)
        return answer

    # -- writes (never retried here: the ticket number makes a user's retry safe) ----

    async def reserve(
        self, ticket: str, lines: Sequence[ReservationLine]
    ) -> Answer[Reservation] | Unavailable:
        return await self._write(lambda: self.adapter.reserve_parts(ticket, lines))

    async def release(self, ticket: str) -> Answer[Reservation | None] | Unavailable:
        return await self._write(lambda: self.adapter.release_reservation(ticket))

    async def _write(self, call: Callable[[], Awaitable[T]]) -> Answer[T] | Unavailable:
        try:
            value = await self._attempts(call, 1)
        except (ErpTemporaryFailure, OpenedState) as err:
            down = self._failed(err)
            return Unavailable(self.source, self.last_error or "", down, self.last_good_at)
        self.cache.clear()  # stock levels changed
        return Answer(value, self.source, self._succeeded())

    # -- the machinery ---------------------------------------------------------------

    async def _attempts(self, call: Callable[[], Awaitable[T]], attempts: int) -> T:
        for attempt in range(1, attempts + 1):
            try:
                return await self._once(call)
            except ErpTemporaryFailure as err:
                if attempt == attempts:
                    raise
                wait = min(
                    self.policy.retry_cap_s,
                    err.retry_after or self.policy.retry_base_s * 2 ** (attempt - 1),
                )
                log.info("ERP %s: %s; retrying in %.1f s", self.source, err, wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _once(self, call: Callable[[], Awaitable[T]]) -> T:
        breaker = await self.breakers.get_breaker(self.source)
        async with breaker:
            try:
                async with asyncio.timeout(self.policy.timeout_s):
                    return await call()
            except TimeoutError as err:
                raise ErpTemporaryFailure(f"no answer within {self.policy.timeout_s:g} s") from err

    def _failed(self, err: BaseException) -> datetime:
        reason = "circuit open" if isinstance(err, OpenedState) else str(err)
        if self.down_since is None:
            self.down_since = self.clock()
            log.warning("ERP %s unavailable: %s", self.source, reason)
        if not isinstance(err, OpenedState):
            self.last_error = reason
        return self.down_since

    def _succeeded(self) -> datetime:
        now = self.clock()
        if self.down_since is not None:
            log.info("ERP %s answers again", self.source)
        self.down_since = None
        self.last_error = None
        self.last_good_at = now
        return now

    async def health(self) -> Health:
        breaker = await self.breakers.get_breaker(self.source)
        return Health(self.source, breaker.context.state, self.down_since, self.last_good_at)

    def forget(self, kind: LookupKind, key: str) -> None:
        self.cache.drop(kind, key)

    async def close(self) -> None:
        await self.adapter.close()
