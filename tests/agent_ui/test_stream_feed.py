"""The live feed on its own: what a resume gets back, and when it must reload instead,
in memory and on Redis."""

from __future__ import annotations

import asyncio

import pytest

from agent_ui.stream import Entry, MemoryFeed, RedisFeed
from switchboard.bus import redis_client
from tests.conftest import require_redis


async def test_memory_feed_resumes_within_retention_and_reloads_past_it() -> None:
    now = [1000.0]
    feed = MemoryFeed(retention_s=300, clock=lambda: now[0])
    got: list[Entry] = []
    head = await feed.start(got.append)
    await feed.append([{"type": "A", "n": 1}, {"type": "A", "n": 2}, {"type": "A", "n": 3}])
    first, _second, third = (e.id for e in got)
    assert [e.wire["n"] for e in await feed.since(first) or []] == [2, 3]
    assert [e.wire["n"] for e in await feed.since(head) or []] == [1, 2, 3]
    assert await feed.since(third) == []
    now[0] += 301
    await feed.append([{"type": "A", "n": 4}])
    assert await feed.since(first) is None  # 2 and 3 are gone: reload
    assert [e.wire["n"] for e in await feed.since(got[-2].id) or []] == [4]
    other = MemoryFeed()  # a restarted process issues ids of its own
    assert await other.since(first) is None
    assert await feed.since("garbage") is None and await feed.since(f"{feed.boot}-99") is None
    capped = MemoryFeed(max_entries=2)
    start = await capped.start(got.append)
    await capped.append([{"n": 1}, {"n": 2}, {"n": 3}])
    assert await capped.since(start) is None  # 1 was dropped
    assert [e.wire["n"] for e in await capped.since(got[-3].id) or []] == [2, 3]


async def test_redis_feed_delivers_to_every_reader_and_reloads_after_trimming(
    redis_prefix: str,
) -> None:
    url = require_redis()
    writer_client, reader_client = redis_client(url), redis_client(url)
    writer = RedisFeed(writer_client, prefix=redis_prefix, block_ms=50)
    reader = RedisFeed(reader_client, prefix=redis_prefix, block_ms=50)
    got: list[Entry] = []
    three = asyncio.Event()

    def deliver(entry: Entry) -> None:
        got.append(entry)
        if len(got) == 3:
            three.set()

    try:
        assert await reader.since("0-0") == []  # nothing was ever written
        await reader.start(deliver)
        await writer.append([{"type": "A", "n": 1}, {"type": "A", "n": 2}, {"type": "A", "n": 3}])
        async with asyncio.timeout(5):
            await three.wait()
        first, _second, third = (e.id for e in got)
        assert [e.wire["n"] for e in await writer.since(first) or []] == [2, 3]
        assert await writer.since(third) == []
        assert await writer.since("99999999999999-0") is None  # an id from the future
        await writer_client.xtrim(
            writer.key, minid=third, approximate=False
        )  # what retention does, later
        assert await writer.since(first) is None
        assert await writer.since(third) == []
        await writer.append([{"type": "A", "n": 4}])
        assert [e.wire["n"] for e in await writer.since(third) or []] == [4]
    finally:
        await reader.stop()
        await writer_client.delete(writer.key)
        await writer_client.aclose()
        await reader_client.aclose()


@pytest.mark.parametrize("text", ["", "1-", "-1", "a-b", "1" * 30 + "-0"])
async def test_unreadable_ids_never_resume(text: str) -> None:
    assert await MemoryFeed().since(text) is None
