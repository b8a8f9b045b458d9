"""The event bus, in two implementations behind one interface.

- ``subscribe(handler)``: broadcast. Every process sees every event (realtime fan-out to
  sockets). Redis: pub/sub; a process that is down misses events, which is fine for
  screens that reload state on reconnect.
- ``consume(group, handler)``: work. Each event is handled once per group across all
  processes, and survives a crash (Redis: a stream with a consumer group; unacknowledged
  entries are reclaimed from dead consumers with XAUTOCLAIM).

The in-process bus gives each handler its own queue and task, so handlers see events in
order and a slow or failing handler never blocks the publisher or its peers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from typing import Any, Protocol, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from tickets import Event, EventHandler, event_from_dict

log = logging.getLogger(__name__)


class EventBus(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...
    async def broadcast(self, events: Sequence[Event]) -> None: ...
    def subscribe(self, handler: EventHandler) -> None: ...
    def consume(self, group: str, handler: EventHandler) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def ping(self) -> None: ...


async def _call(handler: EventHandler, event: Event) -> bool:
    try:
        await handler(event)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception(
            "event handler %s failed on %s",
            getattr(handler, "__qualname__", handler),
            event.type_name,
        )
        return False
    return True


class _Mailbox:
    """One handler's ordered queue, drained by its own task."""

    def __init__(self, handler: EventHandler, group: str | None = None) -> None:
        self.handler = handler
        self.group = group
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"bus:{self.handler}")

    async def _run(self) -> None:
        while True:
            event = await self.queue.get()
            await _call(self.handler, event)
            self.queue.task_done()

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


class InProcessBus:
    def __init__(self) -> None:
        self._boxes: list[_Mailbox] = []
        self._groups: set[str] = set()
        self._started = False

    def subscribe(self, handler: EventHandler) -> None:
        box = _Mailbox(handler)
        self._boxes.append(box)
        if self._started:
            box.start()

    def consume(self, group: str, handler: EventHandler) -> None:
        if group in self._groups:
            raise ValueError(f"consumer group {group!r} already has a handler in this process")
        self._groups.add(group)
        box = _Mailbox(handler, group)
        self._boxes.append(box)
        if self._started:
            box.start()

    async def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            for box in self._boxes:
                box.queue.put_nowait(event)

    async def broadcast(self, events: Sequence[Event]) -> None:
        for event in events:
            for box in self._boxes:
                if box.group is None:
                    box.queue.put_nowait(event)

    async def start(self) -> None:
        self._started = True
        for box in self._boxes:
            if box.task is None:
                box.start()

    async def stop(self) -> None:
        for box in self._boxes:
            await box.stop()

    async def ping(self) -> None:
        return None

    async def drain(self) -> None:
        """Waits until every published event was handled (tests and shutdown)."""
        for box in self._boxes:
            await box.queue.join()


class RedisBus:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "switchboard",
        stream_maxlen: int = 200_000,
        claim_idle_ms: int = 60_000,
    ) -> None:
        self.redis = client
        self.channel = f"{prefix}:events"
        self.stream = f"{prefix}:stream"
        self.maxlen = stream_maxlen
        self.claim_idle_ms = claim_idle_ms
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._block_ms = max(10, min(1000, claim_idle_ms))
        self._local: list[_Mailbox] = []
        self._groups: dict[str, EventHandler] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False

    def subscribe(self, handler: EventHandler) -> None:
        self._local.append(_Mailbox(handler))

    def consume(self, group: str, handler: EventHandler) -> None:
        if group in self._groups:
            raise ValueError(f"consumer group {group!r} already has a handler in this process")
        self._groups[group] = handler

    async def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                data = json.dumps(event.to_dict(), ensure_ascii=False, default=str)
                pipe.publish(self.channel, data)
                pipe.xadd(self.stream, {"e": data}, maxlen=self.maxlen, approximate=True)
            await pipe.execute()

    async def broadcast(self, events: Sequence[Event]) -> None:
        if not events:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                data = json.dumps(event.to_dict(), ensure_ascii=False, default=str)
                pipe.publish(self.channel, data)
            await pipe.execute()

    async def start(self) -> None:
        self._running = True
        for group in self._groups:
            with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists already
                await self.redis.xgroup_create(self.stream, group, id="$", mkstream=True)
        if self._local:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(self.channel)
            for box in self._local:
                box.start()
            self._tasks.append(asyncio.create_task(self._listen(pubsub), name="bus:pubsub"))
        for group, handler in self._groups.items():
            self._tasks.append(
                asyncio.create_task(self._consume(group, handler), name=f"bus:group:{group}")
            )

    async def _listen(self, pubsub: Any) -> None:
        try:
            while self._running:
                try:
                    message = await pubsub.get_message(timeout=1.0)
                except RedisError:
                    log.warning("redis pub/sub lost; resubscribing")
                    await asyncio.sleep(1.0)
                    with contextlib.suppress(RedisError):
                        await pubsub.subscribe(self.channel)
                    continue
                if message is None or message.get("type") != "message":
                    continue
                event = _decode(message["data"])
                if event is not None:
                    for box in self._local:
                        box.queue.put_nowait(event)
        finally:
            with contextlib.suppress(RedisError):
                await pubsub.aclose()

    async def _consume(self, group: str, handler: EventHandler) -> None:
        while self._running:
            try:
                reclaimed = await self.redis.xautoclaim(
                    self.stream, group, self.consumer, self.claim_idle_ms, "0-0", count=50
                )
                entries: list[Any] = list(reclaimed[1]) if reclaimed else []
                got = await self.redis.xreadgroup(
                    group, self.consumer, {self.stream: ">"}, count=100, block=self._block_ms
                )
                for stream_entries in cast(list[Any], got or []):
                    entries.extend(stream_entries[1])
                for entry_id, fields in entries:
                    if not fields:
                        await self.redis.xack(self.stream, group, entry_id)
                        continue
                    event = _decode(fields.get(b"e") or fields.get("e"))
                    if event is None or await _call(handler, event):
                        await self.redis.xack(self.stream, group, entry_id)
            except asyncio.CancelledError:
                raise
            except ResponseError as err:
                if "NOGROUP" in str(err):
                    await self.redis.xgroup_create(self.stream, group, id="0", mkstream=True)
                    continue
                log.warning("redis stream consumer %s: %s", group, err)
                await asyncio.sleep(1.0)
            except RedisError as err:
                log.warning("redis stream consumer %s: %s", group, err)
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        # redis-py can swallow a cancellation that lands mid-command, so the loops also
        # check ``_running``; a task that still lingers is left behind after 5 s.
        self._running = False
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)
        self._tasks.clear()
        for box in self._local:
            await box.stop()

    async def ping(self) -> None:
        await self.redis.ping()


def _decode(raw: Any) -> Event | None:
    try:
        text = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
        return event_from_dict(json.loads(text))
    except (ValueError, TypeError) as err:
        log.warning("dropping an undecodable bus event: %s", err)
        return None


RedisClient = aioredis.Redis


def redis_client(
    url: str, *, socket_timeout_s: float = 5.0, connect_timeout_s: float = 2.0
) -> aioredis.Redis:
    """A client whose every call is bounded: a Redis that stops answering fails the call
    with a ``TimeoutError`` after ``socket_timeout_s`` instead of hanging it. The bus
    blocks stream reads for at most 1 s, so the socket timeout must exceed that."""
    return aioredis.Redis.from_url(
        url, socket_timeout=socket_timeout_s, socket_connect_timeout=connect_timeout_s
    )
