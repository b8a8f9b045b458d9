"""The chat's rate limiter shared through Redis, so every ``switchboard serve`` process
draws from the same buckets (a client address spreads its sockets over processes).

One Lua script does the read-refill-take step atomically on Redis's own clock (``TIME``),
so process clocks never disagree. A bucket key expires once it would be full again, so
idle keys cost nothing. If Redis cannot answer, the limiter lets the frame through and
logs: losing rate limiting for a moment is better than refusing every customer."""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from channels.webchat.ratelimit import Rate
from switchboard.bus import RedisClient

log = logging.getLogger(__name__)

TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
local ttl = 60000
if rate > 0 then ttl = math.ceil(burst / rate * 1000) + 1000 end
redis.call('PEXPIRE', KEYS[1], ttl)
return allowed
"""


class RedisRateLimiter:
    def __init__(self, redis: RedisClient, prefix: str = "switchboard") -> None:
        self.prefix = f"{prefix}:ratelimit"
        self._take = redis.register_script(TAKE)
        self._last_warning = 0.0

    async def allow(self, key: str, rate: Rate) -> bool:
        try:
            allowed = await self._take(
                keys=[f"{self.prefix}:{key}"], args=[repr(rate.per_second), rate.burst]
            )
        except RedisError as err:
            now = time.monotonic()
            if now - self._last_warning > 60.0:
                self._last_warning = now
                log.warning("rate limiter cannot reach Redis (%s); not limiting", err)
            return True
        return bool(int(allowed))
