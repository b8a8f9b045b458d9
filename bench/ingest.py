"""Ingest throughput: N messages from K identities at concurrency C, straight into the
ingest service (one transaction per message, as a channel adapter does), on SQLite and on
PostgreSQL (from SWITCHBOARD_TEST_DATABASE_URL; skipped with a note when unset).

    python bench/ingest.py [--messages 20000] [--identities 2000] [--concurrency 32]
"""

# ruff: noqa: E402  (the imports follow the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# bench/ holds email.py: run as a script, that folder must not shadow the standard library's
# email package, so it leaves sys.path and the repository root goes first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile, postgres_base, postgres_database, print_result, sqlite_database
from routing.rules import QueueRules
from switchboard import db
from tickets.contracts import Channel, InboundMessage
from tickets.desk import Desk
from tickets.events import Event

TEXTS = ("我家空调不制冷了", "洗衣机漏水，型号XQB80", "我的订单 SO-2291 到哪了", "Fridge is noisy")


class NullPublisher:
    async def publish(self, events: Sequence[Event]) -> None:
        return None

    async def broadcast(self, events: Sequence[Event]) -> None:
        return None


def messages(count: int, identities: int) -> list[InboundMessage]:
    now = datetime.now(UTC)
    return [
        InboundMessage(
            channel=Channel.SMS,
            external_id=f"SM{i:08d}",
            sender=f"+86138{i % identities:08d}",
            text=TEXTS[i % len(TEXTS)],
            received_at=now,
        )
        for i in range(count)
    ]


async def run(
    url: str, backend: str, count: int, identities: int, concurrency: int
) -> dict[str, Any]:
    # 20 connections, as the fast path's own pool had before there was one pool per
    # process (SWITCHBOARD_DB_POOL_SIZE sets it in the app; its default is 10).
    engine = db.create_engine(url, pool_size=20)
    desk = Desk(
        db.session_factory(engine), NullPublisher(), lambda: datetime.now(UTC), QueueRules()
    )
    work = messages(count, identities)
    latencies: list[float] = []
    queue: asyncio.Queue[InboundMessage] = asyncio.Queue()
    for msg in work:
        queue.put_nowait(msg)

    async def worker() -> None:
        while not queue.empty():
            msg = queue.get_nowait()
            start = time.perf_counter()
            await desk.ingest(msg)
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await desk.close()
    await engine.dispose()
    result = {
        "backend": backend,
        "messages": count,
        "identities": identities,
        "concurrency": concurrency,
        "messages_per_s": round(count / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
    }
    print(
        f"{backend:10s} {count} messages in {elapsed:.1f}s: {result['messages_per_s']} msg/s, "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms",
        flush=True,
    )
    return result


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--identities", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    rows = []
    async with sqlite_database() as url:
        rows.append(await run(url, "sqlite", args.messages, args.identities, args.concurrency))
    base = postgres_base()
    if base:
        async with postgres_database(base) as url:
            rows.append(
                await run(url, "postgresql", args.messages, args.identities, args.concurrency)
            )
    else:
        print("postgresql: skipped (set SWITCHBOARD_TEST_DATABASE_URL)", flush=True)
    print_result(rows)


if __name__ == "__main__":
    asyncio.run(main())
