"""The live feed: every event a staff screen may show, in one order, with an id a client
can resume from.

One feed serves two purposes at once: it is the fan-out to every server process and the
resume buffer. In one process (``MemoryFeed``) it is a ring buffer with a counter; with
Redis (``RedisFeed``) it is one capped stream, ``<prefix>:live``: the process that
publishes an event appends it (``XADD`` with ``MINID`` trimming), every server process
reads it (``XREAD``, no consumer group) and delivers to its own sockets, and the entry ids
are the stream ids, so a client may reconnect to another process and resume there.

Entries are kept for at least ``retention_s`` (6 minutes, above the promised 5). Asking to
resume from an id older than that, or from an id this feed never issued (a restarted
in-process server, another deployment), answers ``None``: the client must reload its
state. The memory feed also caps its length (``max_entries``) so a flood cannot take the
process's memory; the guarantee holds up to that many entries in the retention window.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RETENTION_S = 360.0


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    wire: dict[str, Any]


Deliver = Callable[[Entry], None]
"""Called for each new entry, in feed order, on the loop; must not block."""


class LiveFeed(Protocol):
    async def append(self, wires: Sequence[dict[str, Any]]) -> None: ...
    async def since(self, last_id: str) -> list[Entry] | None:
        """Entries after ``last_id``; None when some of them are gone (reload)."""

    async def start(self, deliver: Deliver) -> str:
        """Starts calling ``deliver`` for every entry after the id it returns."""

    def order(self, entry_id: str) -> tuple[int, int] | None:
        """A sort key for an id this feed issued; None for any other text."""

    async def stop(self) -> None: ...


def _dumps(wire: dict[str, Any]) -> str:
    return json.dumps(wire, ensure_ascii=False, default=str)


class MemoryFeed:
    """Ids are ``<boot>-<n>``: ``boot`` is random per process, so an id from before a
    restart is recognised as foreign and the client reloads instead of missing events."""

    def __init__(
        self,
        *,
        retention_s: float = RETENTION_S,
        max_entries: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retention_s = retention_s
        self.max_entries = max_entries
        self.clock = clock
        self.boot = secrets.token_hex(4)
        self._counter = 0
        self._entries: deque[tuple[int, float, Entry]] = deque()
        self._dropped_to = 0  # every n <= this is gone
        self._deliver: Deliver | None = None

    async def append(self, wires: Sequence[dict[str, Any]]) -> None:
        now = self.clock()
        for wire in wires:
            self._counter += 1
            entry = Entry(f"{self.boot}-{self._counter}", wire)
            self._entries.append((self._counter, now, entry))
            if self._deliver is not None:
                self._deliver(entry)
        self._trim(now)

    def _trim(self, now: float) -> None:
        entries = self._entries
        while entries and (
            len(entries) > self.max_entries or entries[0][1] < now - self.retention_s
        ):
            self._dropped_to = entries.popleft()[0]

    def _number(self, last_id: str) -> int | None:
        boot, _, number = last_id.partition("-")
        if boot != self.boot or not number.isascii() or not number.isdigit():
            return None
        value = int(number)
        return value if value <= self._counter else None

    async def since(self, last_id: str) -> list[Entry] | None:
        self._trim(self.clock())
        number = self._number(last_id)
        if number is None or number < self._dropped_to:
            return None
        first = self._entries[0][0] if self._entries else self._counter + 1
        skip = max(0, number + 1 - first)
        return [e for _n, _t, e in list(self._entries)[skip:]]

    async def start(self, deliver: Deliver) -> str:
        self._deliver = deliver
        return f"{self.boot}-{self._counter}"

    def order(self, entry_id: str) -> tuple[int, int] | None:
        number = self._number(entry_id)
        return None if number is None else (0, number)

    async def stop(self) -> None:
        self._deliver = None


def _parse_stream_id(text: str) -> tuple[int, int] | None:
    ms, dash, seq = text.partition("-")
    if not (dash and ms.isascii() and ms.isdigit() and seq.isascii() and seq.isdigit()):
        return None
    if len(ms) > 15 or len(seq) > 15:
        return None
    return int(ms), int(seq)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)


class RedisFeed:
    """``XADD`` trims with ``MINID ~`` (cheap, whole macro nodes): entries younger than
    ``retention_s`` always stay. Trimming only ever removes the oldest entries, so a resume
    is complete when ``last_id`` is at or after the stream's first entry (or nothing was
    ever trimmed); before it, something the client has not seen may be gone: reload.
    Sockets learn the current position with every ``pong``, so a client that saw no event
    for longer than the retention still resumes without a reload."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "switchboard",
        retention_s: float = RETENTION_S,
        block_ms: int = 1000,
        batch: int = 500,
    ) -> None:
        self.redis = client
        self.key = f"{prefix}:live"
        self.retention_ms = int(retention_s * 1000)
        self.block_ms = block_ms
        self.batch = batch
        self._task: asyncio.Task[None] | None = None
        self._running = False

    async def append(self, wires: Sequence[dict[str, Any]]) -> None:
        if not wires:
            return
        minid = f"{int(time.time() * 1000) - self.retention_ms}-0"
        async with self.redis.pipeline(transaction=False) as pipe:
            for wire in wires:
                pipe.xadd(self.key, {"e": _dumps(wire)}, minid=minid, approximate=True)
            await pipe.execute()

    async def since(self, last_id: str) -> list[Entry] | None:
        wanted = _parse_stream_id(last_id)
        if wanted is None:
            return None
        try:
            info = await self.redis.xinfo_stream(self.key)
        except RedisError:  # no such key: nothing was ever written, or Redis lost it
            return [] if wanted == (0, 0) else None
        last = _parse_stream_id(_text(info.get("last-generated-id", "0-0"))) or (0, 0)
        if wanted > last:
            return None
        first_entry = info.get("first-entry")
        first = _parse_stream_id(_text(first_entry[0])) if first_entry else None
        trimmed = int(info.get("entries-added", 0)) > int(info.get("length", 0))
        if trimmed and (first is None or wanted < first):
            # Trimming removes the oldest entries: whatever followed ``wanted`` may be gone.
            return None
        out: list[Entry] = []
        start = f"({last_id}"
        while True:
            rows = list(await self.redis.xrange(self.key, min=start, count=self.batch) or [])
            for entry_id, fields in rows:
                entry = _entry(entry_id, fields)
                if entry is not None:
                    out.append(entry)
            if len(rows) < self.batch:
                return out
            start = f"({_text(rows[-1][0])}"

    async def start(self, deliver: Deliver) -> str:
        self._running = True
        head = await self._head()
        self._task = asyncio.create_task(self._follow(deliver, head), name="stream:feed")
        return head

    def order(self, entry_id: str) -> tuple[int, int] | None:
        return _parse_stream_id(entry_id)

    async def _head(self) -> str:
        try:
            info = await self.redis.xinfo_stream(self.key)
        except RedisError:
            return "0-0"
        return _text(info.get("last-generated-id", "0-0"))

    async def _follow(self, deliver: Deliver, cursor: str) -> None:
        while self._running:
            try:
                got = await self.redis.xread(
                    {self.key: cursor}, count=self.batch, block=self.block_ms
                )
                for _key, rows in cast(list[Any], got or []):
                    for entry_id, fields in rows:
                        cursor = _text(entry_id)
                        entry = _entry(entry_id, fields)
                        if entry is not None:
                            deliver(entry)
            except asyncio.CancelledError:
                raise
            except RedisError as err:
                log.warning("live feed read failed (%s); retrying", err)
                await asyncio.sleep(0.5)
            except Exception:
                log.exception("live feed delivery failed")
                await asyncio.sleep(0.5)

    async def stop(self) -> None:
        self._running = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([self._task], timeout=5.0)
            self._task = None


def _entry(entry_id: Any, fields: Any) -> Entry | None:
    raw = (fields or {}).get(b"e") or (fields or {}).get("e")
    try:
        wire = json.loads(_text(raw))
    except (TypeError, ValueError):
        log.warning("an unreadable live feed entry %r", entry_id)
        return None
    return Entry(_text(entry_id), wire) if isinstance(wire, dict) else None


def make_feed(redis: aioredis.Redis | None, prefix: str = "switchboard") -> LiveFeed:
    return MemoryFeed() if redis is None else RedisFeed(redis, prefix=prefix)
