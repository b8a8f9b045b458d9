"""Lock-out after repeated failed sign-ins, per account and per client address.

Each failed attempt counts against both keys inside a fixed window; once a key reaches its
limit, sign-in for it is refused (without even checking the password) until the window
ends, and the page says for how long. A successful sign-in clears the account's count, not
the address's (an attacker who owns one account must not reset the counter for others).
With Redis configured the counters are shared by every process (``INCR`` plus an expiry
set on the first failure); otherwise they live in this process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limits:
    per_account: int
    per_address: int
    window_s: float


class Counter(Protocol):
    async def count(self, key: str) -> tuple[int, float]:
        """Failures recorded under ``key`` and seconds until the window ends."""

    async def add(self, key: str, window_s: float) -> None: ...

    async def clear(self, key: str) -> None: ...


class MemoryCounter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._counts: dict[str, tuple[int, float]] = {}

    async def count(self, key: str) -> tuple[int, float]:
        found, ends = self._counts.get(key, (0, 0.0))
        left = ends - self.clock()
        if left <= 0:
            self._counts.pop(key, None)
            return 0, 0.0
        return found, left

    async def add(self, key: str, window_s: float) -> None:
        found, left = await self.count(key)
        ends = self.clock() + (left if found else window_s)
        if len(self._counts) > 100_000:
            now = self.clock()
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        self._counts[key] = (found + 1, ends)

    async def clear(self, key: str) -> None:
        self._counts.pop(key, None)


class RedisCounter:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = f"{prefix}:login"

    async def count(self, key: str) -> tuple[int, float]:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(f"{self.prefix}:{key}")
                pipe.pttl(f"{self.prefix}:{key}")
                raw, ttl = await pipe.execute()
        except RedisError as err:
            log.warning("login lock-out cannot reach Redis (%s); not limiting", err)
            return 0, 0.0
        return int(raw or 0), max(0.0, int(ttl) / 1000.0)

    async def add(self, key: str, window_s: float) -> None:
        name = f"{self.prefix}:{key}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.pexpire(name, int(window_s * 1000), nx=True)
                await pipe.execute()
        except RedisError as err:
            log.warning("login lock-out cannot reach Redis (%s); not counting", err)

    async def clear(self, key: str) -> None:
        try:
            await self.redis.delete(f"{self.prefix}:{key}")
        except RedisError as err:
            log.warning("login lock-out cannot reach Redis (%s)", err)


class LoginGuard:
    def __init__(self, counter: Counter, limits: Limits) -> None:
        self.counter = counter
        self.limits = limits

    async def locked_for(self, email: str, address: str) -> float:
        """Seconds the sign-in stays refused for this account or address (0: allowed)."""
        account, account_left = await self.counter.count(f"account:{email.strip().lower()}")
        client, client_left = await self.counter.count(f"address:{address}")
        left = 0.0
        if account >= self.limits.per_account:
            left = max(left, account_left)
        if client >= self.limits.per_address:
            left = max(left, client_left)
        return left

    async def failed(self, email: str, address: str) -> None:
        await self.counter.add(f"account:{email.strip().lower()}", self.limits.window_s)
        await self.counter.add(f"address:{address}", self.limits.window_s)

    async def succeeded(self, email: str) -> None:
        await self.counter.clear(f"account:{email.strip().lower()}")
