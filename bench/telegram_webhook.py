# ruff: noqa: E402  (the imports follow the sys.path fix below)
"""Telegram webhook throughput: N text updates from K chats posted at concurrency C to
``POST /webhooks/telegram`` of one ``switchboard serve`` process (a subprocess, with the
secret token checked), on SQLite and on PostgreSQL (from SWITCHBOARD_TEST_DATABASE_URL;
skipped with a note when unset). A local fake Bot API answers the start-up ``getMe``.
Then a fifth of them once more (re-delivery: each must be a no-op). Reports accepted
updates per second, p50/p99 latency, the messages stored (must equal the updates), and as
the reference the same process answering ``/healthz`` (one ``SELECT 1`` per request).

    python bench/telegram_webhook.py [--updates 5000] [--chats 1000] [--concurrency 32]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds email.py, which would shadow the standard library's email package (that
# aiohttp imports) when this file runs as a script; the repository root goes first instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import os
import socket
import time
from typing import Any

import aiohttp
from sqlalchemy import text

from bench.common import percentile, postgres_base, postgres_database, print_result, sqlite_database
from switchboard import db
from tests.fakes.telegram import FakeBotApi

TOKEN = "7000000001:AAH-bench-token"
SECRET = "bench-secret-token"
TEXTS = ("我家空调不制冷了", "洗衣机漏水，型号XQB80", "我的订单 SO-2291 到哪了", "Fridge is noisy")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def update(i: int, chats: int) -> dict[str, Any]:
    chat = 500_000_000 + i % chats
    return {
        "update_id": 10_000_000 + i,
        "message": {
            "message_id": i + 1,
            "from": {"id": chat, "is_bot": False, "first_name": f"Kunde {chat % 1000}"},
            "chat": {"id": chat, "type": "private", "first_name": f"Kunde {chat % 1000}"},
            "date": 1764849600 + i,
            "text": TEXTS[i % len(TEXTS)],
        },
    }


async def post_all(
    port: int, bodies: list[dict[str, Any]], concurrency: int
) -> tuple[int, list[float], float]:
    url = f"http://127.0.0.1:{port}/webhooks/telegram"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    latencies: list[float] = []
    accepted = 0
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            nonlocal accepted
            while not queue.empty():
                body = queue.get_nowait()
                start = time.perf_counter()
                async with http.post(url, json=body, headers=headers) as response:
                    await response.read()
                    if response.status == 200:
                        accepted += 1
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return accepted, latencies, elapsed


async def healthz_rate(port: int, count: int, concurrency: int) -> float:
    """The reference: the same process answering ``/healthz`` (one ``SELECT 1`` each)."""
    remaining = [count]
    async with aiohttp.ClientSession() as http:

        async def worker() -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    await response.read()

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - began)


async def run(url: str, backend: str, count: int, chats: int, concurrency: int) -> dict[str, Any]:
    bot = await FakeBotApi(TOKEN).start()
    port = free_port()
    env = {
        **os.environ,
        "SWITCHBOARD_DATABASE_URL": url,
        "SWITCHBOARD_PORT": str(port),
        "SWITCHBOARD_TELEGRAM_BOT_TOKEN": TOKEN,
        "SWITCHBOARD_TELEGRAM_SECRET_TOKEN": SECRET,
        "SWITCHBOARD_TELEGRAM_API_BASE": bot.base,
        "SWITCHBOARD_LOG_LEVEL": "WARNING",
        "SWITCHBOARD_SECRET_KEY": "bench-secret-key-0123456789abcdef",
    }
    env.pop("SWITCHBOARD_REDIS_URL", None)
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "switchboard.cli", "serve", env=env
    )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        bodies = [update(i, chats) for i in range(count)]
        accepted, latencies, elapsed = await post_all(port, bodies, concurrency)
        again, _, again_elapsed = await post_all(port, bodies[: count // 5], concurrency)
        reference = await healthz_rate(port, count // 2, concurrency)
    finally:
        server.terminate()
        await server.wait()
        await bot.close()
    engine = db.create_engine(url)
    async with engine.connect() as conn:
        stored = (
            await conn.execute(text("SELECT count(*) FROM messages WHERE channel = 'telegram'"))
        ).scalar_one()
    await engine.dispose()
    return {
        "backend": backend,
        "accepted": accepted,
        "stored": int(stored),
        "updates_per_s": round(accepted / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "redeliveries_per_s": round(again / again_elapsed, 1),
        "healthz_per_s": round(reference, 1),
        "concurrency": concurrency,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    rows = []
    async with sqlite_database() as url:
        rows.append(await run(url, "sqlite", args.updates, args.chats, args.concurrency))
        print(rows[-1], flush=True)
    base = postgres_base()
    if base is None:
        print("PostgreSQL skipped: set SWITCHBOARD_TEST_DATABASE_URL", flush=True)
    else:
        async with postgres_database(base) as url:
            rows.append(await run(url, "postgresql", args.updates, args.chats, args.concurrency))
            print(rows[-1], flush=True)
    print_result(rows)


if __name__ == "__main__":
    asyncio.run(main())
