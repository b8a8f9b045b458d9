"""Presence grace: a closed browser tab does not keep an agent online forever.

When an agent's last stream socket closes, a timer of ``SWITCHBOARD_PRESENCE_GRACE_S``
(60 s) starts; when it runs out and no socket of the agent is open on any server process,
the agent is set ``away`` through the routing engine, as ``POST /api/v1/presence`` does
(audited, reason ``disconnected``). A socket that comes back in time cancels it. Only an
``online`` agent is set away: an agent who chose ``away`` or ``offline`` keeps that.

Which agents have a socket open anywhere: ``LocalSockets`` in one process; with Redis,
``RedisSockets`` keeps a sorted set per agent of the processes holding a socket, each
member scored with an expiry its process renews every ``ttl_s / 3``, so a process that
dies stops counting after ``ttl_s`` instead of keeping its agents online for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from redis.exceptions import RedisError

if TYPE_CHECKING:
    import redis.asyncio as aioredis

log = logging.getLogger(__name__)

SetAway = Callable[[int], Awaitable[None]]


class SocketRegistry(Protocol):
    async def opened(self, user_id: int) -> None: ...
    async def closed(self, user_id: int) -> None: ...
    def local(self, user_id: int) -> int: ...
    async def anywhere(self, user_id: int) -> bool: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class LocalSockets:
    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()

    async def opened(self, user_id: int) -> None:
        self.counts[user_id] += 1

    async def closed(self, user_id: int) -> None:
        self.counts[user_id] -= 1
        if self.counts[user_id] <= 0:
            del self.counts[user_id]

    def local(self, user_id: int) -> int:
        return self.counts.get(user_id, 0)

    async def anywhere(self, user_id: int) -> bool:
        return self.local(user_id) > 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisSockets(LocalSockets):
    def __init__(self, client: aioredis.Redis, *, prefix: str, ttl_s: float = 30.0) -> None:
        super().__init__()
        self.redis = client
        self.prefix = f"{prefix}:stream:sockets:"
        self.ttl_s = ttl_s
        self.me = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._task: asyncio.Task[None] | None = None

    def _key(self, user_id: int) -> str:
        return f"{self.prefix}{user_id}"

    async def _mark(self, user_ids: list[int]) -> None:
        expiry = time.time() + self.ttl_s
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.zadd(self._key(user_id), {self.me: expiry})
                pipe.expire(self._key(user_id), int(self.ttl_s * 2) + 1)
            await pipe.execute()

    async def opened(self, user_id: int) -> None:
        await super().opened(user_id)
        with contextlib.suppress(RedisError):
            await self._mark([user_id])

    async def closed(self, user_id: int) -> None:
        await super().closed(user_id)
        if self.local(user_id) == 0:
            with contextlib.suppress(RedisError):
                await self.redis.zrem(self._key(user_id), self.me)

    async def anywhere(self, user_id: int) -> bool:
        if self.local(user_id) > 0:
            return True
        key = self._key(user_id)
        now = time.time()
        await self.redis.zremrangebyscore(key, "-inf", now)
        return int(await self.redis.zcard(key)) > 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._renew(), name="stream:sockets")

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                if self.counts:
                    await self._mark(list(self.counts))
            except RedisError as err:
                log.warning("renewing stream socket marks failed: %s", err)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(RedisError):
            async with self.redis.pipeline(transaction=False) as pipe:
                for user_id in self.counts:
                    pipe.zrem(self._key(user_id), self.me)
                await pipe.execute()


class PresenceGrace:
    def __init__(self, registry: SocketRegistry, set_away: SetAway, grace_s: float) -> None:
        self.registry = registry
        self.set_away = set_away
        self.grace_s = grace_s
        self._timers: dict[int, asyncio.Task[None]] = {}

    async def opened(self, user_id: int) -> None:
        timer = self._timers.pop(user_id, None)
        if timer is not None:
            timer.cancel()
        await self.registry.opened(user_id)

    async def closed(self, user_id: int) -> None:
        await self.registry.closed(user_id)
        if self.registry.local(user_id) == 0 and user_id not in self._timers:
            self._timers[user_id] = asyncio.create_task(
                self._expire(user_id), name=f"stream:grace:{user_id}"
            )

    async def _expire(self, user_id: int) -> None:
        try:
            await asyncio.sleep(self.grace_s)
            if not await self.registry.anywhere(user_id):
                await self.set_away(user_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("setting agent %d away after the grace period failed", user_id)
        finally:
            if self._timers.get(user_id) is asyncio.current_task():
                del self._timers[user_id]

    async def stop(self) -> None:
        """Pending timers are dropped: a server going down does not set agents away (they
        reconnect to another process, or the next process's grace applies)."""
        for timer in self._timers.values():
            timer.cancel()
        for timer in list(self._timers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        self._timers.clear()
