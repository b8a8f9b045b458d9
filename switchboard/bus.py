"""The event bus, in two implementations behind one interface, with two promises.

- Broadcast (``subscribe(handler)``; ``broadcast(events)``): every process sees every
  event and a process that is down misses it. For typing, frames for sockets and live
  screens, which reload their state on reconnect. Redis: pub/sub.
- Durable work (``consume(group, handler)``; ``publish(events)``, which broadcasts too):
  each event is handled once per consumer group across all processes. Redis: one stream
  per group (``<prefix>:work:<group>``), so no group's backlog is ever trimmed by
  another's; an entry is deleted only after its group acknowledged it, and entries of a
  consumer that died are reclaimed with XAUTOCLAIM.

For durable work, both buses:
- skip an event whose ``event_id`` this group already handled (the relay may publish an
  event twice: once right after commit, once more if marking it relayed was lost);
- retry a failing handler a bounded number of times, then bury the event as a dead
  letter (``switchboard events dead``) with the error, and go on with the next one;
- leave an event of a type this process does not know (a newer process wrote it during a
  rolling upgrade) unacknowledged, for a process that knows it: never dropped.

Groups are declared by every process that builds the runtime, even one that runs no
consumers, and remembered in Redis, so a publisher always knows every group's stream.

The Redis dedupe remembers an event id for ``done_ttl_s`` (10 minutes): duplicates come
from the relay re-publishing events whose "relayed" mark was lost, which happens within
seconds of the first publish, or when a killed process's successor starts. Ten minutes
keeps the keys to a few MB at a hundred events a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from tickets import Event, EventHandler, event_from_dict

log = logging.getLogger(__name__)

Bury = Callable[[str, str, dict[str, Any], str, int], Awaitable[None]]
"""``bury(group, event_id, wire, error, attempts)``: keep an event a group gave up on."""


@dataclass(frozen=True, slots=True)
class Retry:
    """How often a durable handler is tried on one event before it is buried."""

    attempts: int = 5
    base_s: float = 0.1
    cap_s: float = 2.0

    def delay(self, attempt: int) -> float:
        return float(min(self.cap_s, self.base_s * (2 ** (attempt - 1))))


class EventBus(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...
    async def broadcast(self, events: Sequence[Event]) -> None: ...
    async def relay(self, wires: Sequence[dict[str, Any]], group: str | None = None) -> None: ...
    def subscribe(self, handler: EventHandler) -> None: ...
    def consume(self, group: str, handler: EventHandler) -> None: ...
    def set_bury(self, bury: Bury) -> None: ...
    async def start(self, *, consumers: bool = True) -> None: ...
    async def stop(self) -> None: ...
    async def ping(self) -> None: ...


def wire_of(event: Event) -> dict[str, Any]:
    return event.to_dict()


def _dumps(wire: dict[str, Any]) -> str:
    return json.dumps(wire, ensure_ascii=False, default=str)


def _name(handler: EventHandler) -> str:
    return str(getattr(handler, "__qualname__", handler))


async def _call(handler: EventHandler, event: Event) -> bool:
    """A broadcast listener: one try, a failure is logged and forgotten."""
    try:
        await handler(event)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("event handler %s failed on %s", _name(handler), event.type_name)
        return False
    return True


class _Seen:
    """Event ids a group handled recently (bounded): the in-process dedupe."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)


class _Durable:
    """One group's handler with the durable-work rules: dedupe, bounded retries, bury."""

    def __init__(self, group: str, handler: EventHandler, retry: Retry) -> None:
        self.group = group
        self.handler = handler
        self.retry = retry
        self.bury: Bury | None = None

    async def handle(self, event: Event, wire: dict[str, Any]) -> bool:
        """True when the event is done with (handled, or buried); False to keep it."""
        last = ""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                await self.handler(event)
                return True
            except asyncio.CancelledError:
                raise
            except Exception as err:
                last = f"{type(err).__name__}: {err}"
                log.warning(
                    "consumer %s failed on %s %s (attempt %d of %d): %s",
                    self.group,
                    event.type_name,
                    event.event_id or "",
                    attempt,
                    self.retry.attempts,
                    last,
                )
                if attempt < self.retry.attempts:
                    await asyncio.sleep(self.retry.delay(attempt))
        if self.bury is None:
            log.error("consumer %s failed on %s and has no dead-letter store", self.group, wire)
            return False
        try:
            await self.bury(self.group, event.event_id or "", wire, last, self.retry.attempts)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.warning("burying an event of %s failed, keeping it: %s", self.group, err)
            return False
        log.error(
            "consumer %s buried %s %s after %d attempts: %s",
            self.group,
            event.type_name,
            event.event_id or "",
            self.retry.attempts,
            last,
        )
        return True


class _Mailbox:
    """One handler's ordered queue, drained by its own task."""

    def __init__(self, handler: EventHandler, durable: _Durable | None = None) -> None:
        self.handler = handler
        self.durable = durable
        self.seen = _Seen()
        self.queue: asyncio.Queue[tuple[Event, dict[str, Any]]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"bus:{_name(self.handler)}")

    async def _run(self) -> None:
        while True:
            event, wire = await self.queue.get()
            try:
                if self.durable is None:
                    await _call(self.handler, event)
                elif not (event.event_id and event.event_id in self.seen):
                    await self.durable.handle(event, wire)
                    if event.event_id:
                        self.seen.add(event.event_id)
            finally:
                self.queue.task_done()

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None


def _decode(wire: dict[str, Any]) -> Event | None:
    try:
        return event_from_dict(wire)
    except (ValueError, TypeError):
        return None


class InProcessBus:
    def __init__(self, *, retry: Retry | None = None) -> None:
        self.retry = retry or Retry()
        self._boxes: list[_Mailbox] = []
        self._groups: dict[str, _Mailbox] = {}
        self._started = False

    def subscribe(self, handler: EventHandler) -> None:
        box = _Mailbox(handler)
        self._boxes.append(box)
        if self._started:
            box.start()

    def consume(self, group: str, handler: EventHandler) -> None:
        if group in self._groups:
            raise ValueError(f"consumer group {group!r} already has a handler in this process")
        box = _Mailbox(handler, _Durable(group, handler, self.retry))
        self._groups[group] = box
        self._boxes.append(box)
        if self._started:
            box.start()

    def set_bury(self, bury: Bury) -> None:
        for box in self._groups.values():
            assert box.durable is not None
            box.durable.bury = bury

    async def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            wire = wire_of(event)
            for box in self._boxes:
                box.queue.put_nowait((event, wire))

    async def broadcast(self, events: Sequence[Event]) -> None:
        for event in events:
            wire = wire_of(event)
            for box in self._boxes:
                if box.durable is None:
                    box.queue.put_nowait((event, wire))

    async def relay(self, wires: Sequence[dict[str, Any]], group: str | None = None) -> None:
        for wire in wires:
            event = _decode(wire)
            if event is None:
                log.warning("relay: this process does not know event type %r", wire.get("type"))
                continue
            if group is None:
                boxes = self._boxes
            else:
                boxes = [self._groups[group]] if group in self._groups else []
            for box in boxes:
                box.queue.put_nowait((event, wire))

    async def start(self, *, consumers: bool = True) -> None:
        self._started = True
        for box in self._boxes:
            if box.task is None and (consumers or box.durable is None):
                box.start()

    async def stop(self) -> None:
        for box in self._boxes:
            await box.stop()
        self._started = False

    async def ping(self) -> None:
        return None

    async def drain(self) -> None:
        """Waits until every published event was handled (tests and shutdown)."""
        for box in self._boxes:
            if box.task is not None:
                await box.queue.join()


# Appends one entry per registered group (or to one group) in one round trip, so a
# publisher never needs to know which groups exist. Single-node Redis only (the stream
# keys are built from ARGV), as for the routing scripts.
_FAN_OUT = """
local prefix = ARGV[1]
local target = ARGV[2]
local groups
if target ~= '' then groups = {target} else groups = redis.call('SMEMBERS', KEYS[1]) end
for i = 3, #ARGV do
  for _, g in ipairs(groups) do
    redis.call('XADD', prefix .. g, '*', 'e', ARGV[i])
  end
end
return #groups
"""


class RedisBus:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "switchboard",
        claim_idle_ms: int = 60_000,
        retry: Retry | None = None,
        done_ttl_s: int = 600,
    ) -> None:
        self.redis = client
        self.channel = f"{prefix}:events"
        self.groups_key = f"{prefix}:groups"
        self.stream_prefix = f"{prefix}:work:"
        self.done_prefix = f"{prefix}:done:"
        self.claim_idle_ms = claim_idle_ms
        self.retry = retry or Retry()
        self.done_ttl_s = done_ttl_s
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._block_ms = max(10, min(1000, claim_idle_ms))
        self._fan_out = client.register_script(_FAN_OUT)
        self._local: list[_Mailbox] = []
        self._groups: dict[str, _Durable] = {}
        self._unknown: set[bytes] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False

    def stream(self, group: str) -> str:
        return f"{self.stream_prefix}{group}"

    def subscribe(self, handler: EventHandler) -> None:
        self._local.append(_Mailbox(handler))

    def consume(self, group: str, handler: EventHandler) -> None:
        if group in self._groups:
            raise ValueError(f"consumer group {group!r} already has a handler in this process")
        self._groups[group] = _Durable(group, handler, self.retry)

    def set_bury(self, bury: Bury) -> None:
        for durable in self._groups.values():
            durable.bury = bury

    async def publish(self, events: Sequence[Event]) -> None:
        await self.relay([wire_of(e) for e in events])

    async def broadcast(self, events: Sequence[Event]) -> None:
        if not events:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.publish(self.channel, _dumps(wire_of(event)))
            await pipe.execute()

    async def relay(self, wires: Sequence[dict[str, Any]], group: str | None = None) -> None:
        if not wires:
            return
        data = [_dumps(w) for w in wires]
        async with self.redis.pipeline(transaction=False) as pipe:  # one round trip
            await self._fan_out(
                keys=[self.groups_key], args=[self.stream_prefix, group or "", *data], client=pipe
            )
            if group is None:
                for item in data:
                    pipe.publish(self.channel, item)
            await pipe.execute()

    async def start(self, *, consumers: bool = True) -> None:
        self._running = True
        for group in self._groups:
            await self.redis.sadd(self.groups_key, group)
            with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists already
                await self.redis.xgroup_create(self.stream(group), group, id="0", mkstream=True)
        if self._local:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(self.channel)
            for box in self._local:
                box.start()
            self._tasks.append(asyncio.create_task(self._listen(pubsub), name="bus:pubsub"))
        if consumers:
            for group, durable in self._groups.items():
                self._tasks.append(
                    asyncio.create_task(self._consume(durable), name=f"bus:group:{group}")
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
                wire = _parse(message["data"])
                event = _decode(wire) if wire is not None else None
                if event is not None and wire is not None:
                    for box in self._local:
                        box.queue.put_nowait((event, wire))
        finally:
            with contextlib.suppress(RedisError):
                await pubsub.aclose()

    async def _consume(self, durable: _Durable) -> None:
        stream, group = self.stream(durable.group), durable.group
        while self._running:
            try:
                reclaimed = await self.redis.xautoclaim(
                    stream, group, self.consumer, self.claim_idle_ms, "0-0", count=50
                )
                entries: list[Any] = list(reclaimed[1]) if reclaimed else []
                got = await self.redis.xreadgroup(
                    group, self.consumer, {stream: ">"}, count=100, block=self._block_ms
                )
                for stream_entries in cast(list[Any], got or []):
                    entries.extend(stream_entries[1])
                for entry_id, fields in entries:
                    await self._handle_entry(durable, entry_id, fields)
            except asyncio.CancelledError:
                raise
            except ResponseError as err:
                if "NOGROUP" in str(err):
                    with contextlib.suppress(ResponseError):
                        await self.redis.xgroup_create(stream, group, id="0", mkstream=True)
                    await self.redis.sadd(self.groups_key, group)
                    continue
                log.warning("redis stream consumer %s: %s", group, err)
                await asyncio.sleep(1.0)
            except RedisError as err:
                log.warning("redis stream consumer %s: %s", group, err)
                await asyncio.sleep(1.0)

    async def _handle_entry(self, durable: _Durable, entry_id: Any, fields: Any) -> None:
        stream, group = self.stream(durable.group), durable.group
        wire = _parse((fields or {}).get(b"e") or (fields or {}).get("e"))
        if wire is None:
            log.warning("consumer %s: dropping an unreadable entry %r", group, entry_id)
            await self._done(stream, group, entry_id, None)
            return
        event = _decode(wire)
        if event is None:
            key = bytes(str(entry_id), "utf-8")
            if key not in self._unknown:
                self._unknown.add(key)
                log.warning(
                    "consumer %s: event type %r is unknown here; left for a process that knows it",
                    group,
                    wire.get("type"),
                )
            return
        done_key = f"{self.done_prefix}{group}:{event.event_id}" if event.event_id else None
        if done_key is not None and await self.redis.exists(done_key):
            await self._done(stream, group, entry_id, None)
            return
        if await durable.handle(event, wire):
            await self._done(stream, group, entry_id, done_key)

    async def _done(self, stream: str, group: str, entry_id: Any, done_key: str | None) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            if done_key is not None:
                pipe.set(done_key, 1, ex=self.done_ttl_s)
            pipe.xack(stream, group, entry_id)
            pipe.xdel(stream, entry_id)
            await pipe.execute()

    async def pending(self, group: str) -> int:
        """Entries of ``group`` not yet acknowledged (health, tests)."""
        return int(await self.redis.xlen(self.stream(group)))

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


def _parse(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        text = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
        data = json.loads(text)
    except (ValueError, TypeError) as err:
        log.warning("an unreadable bus entry: %s", err)
        return None
    return data if isinstance(data, dict) else None


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
