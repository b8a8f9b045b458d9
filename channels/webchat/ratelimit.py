"""Rate limits for the chat: token buckets keyed by what is limited (a visitor, a client
address). A burst is allowed, a flood is refused with a clear error frame.

The chat sees only the small ``RateLimiter`` protocol. ``MemoryRateLimiter`` serves one
process (the embedded default); with Redis configured the composition root hands in a
limiter shared by every process (``switchboard.ratelimit``), because a client address
opens sockets on whichever process the load balancer picks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_minute`` tokens refill steadily up to ``burst``; each allowed event costs one."""

    per_minute: float
    burst: int

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


class RateLimiter(Protocol):
    async def allow(self, key: str, rate: Rate) -> bool:
        """Takes one token from ``key``'s bucket; False when it is empty."""


class MemoryRateLimiter:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float, float]] = {}

    async def allow(self, key: str, rate: Rate) -> bool:
        now = self.clock()
        tokens, last, _full_after = self._buckets.get(key, (float(rate.burst), now, 0.0))
        tokens = min(float(rate.burst), tokens + (now - last) * rate.per_second)
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._prune(now)
        full_after = now + rate.burst / rate.per_second if rate.per_second else float("inf")
        if tokens < 1.0:
            self._buckets[key] = (tokens, now, full_after)
            return False
        self._buckets[key] = (tokens - 1.0, now, full_after)
        return True

    def _prune(self, now: float) -> None:
        """Drops buckets that have refilled (they equal a fresh bucket)."""
        self._buckets = {k: v for k, v in self._buckets.items() if v[2] > now}
