"""Realtime fan-out: S agent sockets on one server process, one inbound message every
I ms for D seconds spread over Q queues (each agent is a member of one queue, so each
message reaches S/Q sockets). Figures: latency from the ingest of the message (the
moment the desk hands its committed events on, right after the commit) to receipt of its
``MessageReceived`` frame on each socket, p50/p99; the server's RSS at the end; frames
delivered against expected (S/Q per message).

    python bench/realtime.py [--sockets 2000] [--queues 20] [--interval-ms 10] [--seconds 60]
                             [--database sqlite|postgres] [--redis]

The server is a child process (``--serve``) running the real app (``create_app``) with
its workers; messages go through ``Desk.ingest`` inside it, so each event takes the real
path (event outbox, bus, live feed, stream). The sockets are opened by this process with
bearer tokens. PostgreSQL and Redis come from SWITCHBOARD_TEST_DATABASE_URL and
SWITCHBOARD_TEST_REDIS_URL. Ends with one JSON line:
``{"sockets", "events", "delivered", "expected", "p50_ms", "p99_ms", "rss_mb"}``.
"""

# ruff: noqa: E402  (the imports follow the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# bench/ holds email.py: run as a script, that folder must not shadow the standard library's
# email package, so it leaves sys.path and the repository root goes first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from sqlalchemy import insert, select

from bench.common import percentile, postgres_base, postgres_database, sqlite_database
from switchboard import db
from tickets.models import ApiToken, Queue, QueueMember, User

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ROOT = str(Path(__file__).resolve().parent.parent)


def _raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


# -- set-up (bulk, not through the services: the staff are not what is measured) -------


async def seed_staff(url: str, sockets: int, queues: int) -> list[str]:
    """Q queues, S agents (agent i in queue i % Q), one admin; a token per agent."""
    import hashlib

    engine = db.create_engine(url)
    tokens: list[str] = []
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            await session.execute(
                insert(Queue), [{"name": f"Q{q:02d}", "description": ""} for q in range(queues)]
            )
            queue_ids = dict((await session.execute(select(Queue.name, Queue.id))).all())
            users: list[dict[str, Any]] = [
                {
                    "email": f"bench{i}@example.com",
                    "name": f"Bench {i}",
                    "role": "agent",
                    "password_hash": None,
                    "languages": [],
                    "is_active": True,
                    "created_at": NOW,
                }
                for i in range(sockets)
            ]
            users.append({**users[0], "email": "benchadmin@example.com", "role": "admin"})
            await session.execute(insert(User), users)
            ids = dict((await session.execute(select(User.email, User.id))).all())
            await session.execute(
                insert(QueueMember),
                [
                    {
                        "queue_id": queue_ids[f"Q{i % queues:02d}"],
                        "user_id": ids[f"bench{i}@example.com"],
                    }
                    for i in range(sockets)
                ],
            )
            rows = []
            for i in range(sockets):
                token = "sb_" + secrets.token_urlsafe(32)
                tokens.append(token)
                rows.append(
                    {
                        "user_id": ids[f"bench{i}@example.com"],
                        "token_hash": hashlib.sha256(token.encode()).hexdigest(),
                        "label": "bench",
                        "created_at": NOW,
                    }
                )
            await session.execute(insert(ApiToken), rows)
    finally:
        await engine.dispose()
    return tokens


# -- the server (child process) -----------------------------------------------------------


def _rss_mb() -> tuple[float, float]:
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return round(values.get("VmRSS", 0.0), 1), round(values.get("VmHWM", 0.0), 1)


def _say(**data: Any) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def serve(args: argparse.Namespace) -> None:
    from aiohttp import web

    from switchboard.app import RUNTIME, create_app
    from switchboard.settings import Settings
    from tickets import Channel, InboundMessage, Role, StaffUser, TicketChanges, update_ticket

    _raise_file_limit()
    settings = Settings.from_mapping(
        {
            "database_url": args.database_url,
            "redis_url": args.redis_url or None,
            "secret_key": "bench-secret-key-0123456789abcdef",
            "db_pool_size": 20,
        }
    )
    app = create_app(settings, redis_prefix=args.prefix)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    port = runner.addresses[0][1]
    runtime = app[RUNTIME]
    desk = runtime.desk
    admin_id = await desk.read(
        lambda s: _scalar(s, select(User.id).where(User.email == "benchadmin@example.com"))
    )
    admin = StaffUser(admin_id, "benchadmin@example.com", "admin", Role.ADMIN, frozenset())
    phones = [f"+86139{q:08d}" for q in range(args.queues)]
    sequence = iter(range(10**9))

    def message(q: int) -> InboundMessage:
        return InboundMessage(
            channel=Channel.SMS,
            external_id=f"bench-{uuid.uuid4().hex}-{next(sequence)}",
            sender=phones[q],
            text=f"空调不制冷 {q}",
            received_at=datetime.now(UTC),
        )

    for q in range(args.queues):  # one open ticket per queue; later messages thread into it
        opened = await desk.ingest(message(q))

        async def move(session: Any, now: datetime, number: str = opened.number, q: int = q) -> Any:
            written = await update_ticket(
                session, admin, number, TicketChanges(queue=f"Q{q:02d}"), now
            )
            return None, written.events

        await desk.write(move)
    await asyncio.sleep(3.0)  # the relay and the SLA clocks settle
    _say(ready=port)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.readline()  # "go"

    sent: dict[int, float] = {}
    took: list[float] = []
    failed = 0
    desk.publisher = CommitClock(desk.publisher, sent)
    # Bounded, like a channel's webhook workers: a server that cannot keep up falls
    # behind (``late_s``) rather than failing ingests on an exhausted connection pool.
    slots = asyncio.Semaphore(8)

    async def one(q: int) -> None:
        nonlocal failed
        async with slots:
            t0 = time.time()
            try:
                await desk.ingest(message(q))
            except Exception as err:
                failed += 1
                print(f"ingest failed: {err}", file=sys.stderr)
                return
        took.append(time.time() - t0)

    tasks = []
    start = loop.time()
    for i in range(args.events):
        delay = start + i * args.interval_ms / 1000 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i % args.queues)))
    await asyncio.gather(*tasks)
    rss, peak = _rss_mb()
    _say(
        sent={str(k): v for k, v in sent.items()},
        failed=failed,
        ingest_p50_ms=round(percentile(took, 0.5) * 1000, 1),
        ingest_p99_ms=round(percentile(took, 0.99) * 1000, 1),
        rss_mb=rss,
        peak_rss_mb=peak,
        sockets=app[_stream_key()].total(),
        late_s=round(loop.time() - start - args.events * args.interval_ms / 1000, 3),
    )
    await reader.readline()  # "quit"
    await runner.cleanup()


class CommitClock:
    """The desk's publisher, noting when each message's events are handed on: the desk
    publishes right after the commit, so this is the commit time the latency starts at."""

    def __init__(self, inner: Any, sent: dict[int, float]) -> None:
        self.inner = inner
        self.sent = sent

    async def publish(self, events: Any) -> None:
        now = time.time()
        for event in events:
            if event.type_name == "MessageReceived":
                self.sent[event.message_id] = now
        await self.inner.publish(events)

    async def broadcast(self, events: Any) -> None:
        await self.inner.broadcast(events)


def _stream_key() -> Any:
    from agent_ui.stream import STREAM

    return STREAM


async def _scalar(session: Any, statement: Any) -> Any:
    return (await session.execute(statement)).scalar_one()


# -- the agents (this process) ------------------------------------------------------------


class Agents:
    def __init__(self) -> None:
        self.receipts: list[tuple[int, float]] = []
        self.hellos = 0
        self.expected_hellos = 0
        self.all_hello = asyncio.Event()
        self.closed = 0
        self.others = 0
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def run(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        receipts = self.receipts
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            now = time.time()
            data = msg.data
            if '"MessageReceived"' in data[:60]:
                frame = json.loads(data)
                receipts.append((frame["data"]["message_id"], now))
            else:
                self.others += 1
            if data.startswith('{"type":"hello"'):
                self.hellos += 1
                if self.hellos >= self.expected_hellos:
                    self.all_hello.set()
        self.closed += 1


async def connect_all(
    session: aiohttp.ClientSession, url: str, tokens: list[str], agents: Agents
) -> list[asyncio.Task[None]]:
    tasks: list[asyncio.Task[None]] = []
    agents.expected_hellos = len(tokens)

    async def one(token: str) -> None:
        ws = await session.ws_connect(
            url, headers={"Authorization": f"Bearer {token}"}, heartbeat=None, autoping=True
        )
        agents.sockets.append(ws)
        tasks.append(asyncio.create_task(agents.run(ws)))

    for i in range(0, len(tokens), 100):
        await asyncio.gather(*(one(t) for t in tokens[i : i + 100]))
    return tasks


@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        async with sqlite_database() as url:
            yield url
        return
    base = postgres_base()
    if not base:
        raise SystemExit("set SWITCHBOARD_TEST_DATABASE_URL for --database postgres")
    async with postgres_database(base) as url:
        yield url


async def _line(child: asyncio.subprocess.Process) -> dict[str, Any]:
    assert child.stdout is not None
    raw = await child.stdout.readline()
    data = json.loads(raw or b"{}")
    return data if isinstance(data, dict) else {}


async def drive(
    child: asyncio.subprocess.Process, args: argparse.Namespace, log: Any
) -> tuple[dict[str, Any], int, Agents]:
    """Connects the agents, starts the messages, waits for the frames to arrive."""
    assert child.stdin is not None
    ready = await _line(child)
    if "ready" not in ready:
        log.seek(0)
        raise SystemExit("the server did not start:\n" + log.read()[-4000:])
    url_ws = f"http://127.0.0.1:{ready['ready']}/api/v1/stream"
    agents = Agents()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = await connect_all(session, url_ws, tokens_of(args), agents)
        await agents.all_hello.wait()
        print(f"{args.sockets} sockets connected; sending", file=sys.stderr)
        child.stdin.write(b"go\n")
        await child.stdin.drain()
        done = await _line(child)
        expected = len(done["sent"]) * (args.sockets // args.queues)
        last, quiet = -1, 0.0
        while len(agents.receipts) < expected and quiet < 5.0:
            await asyncio.sleep(0.2)
            quiet = 0.0 if len(agents.receipts) != last else quiet + 0.2
            last = len(agents.receipts)
        for ws in agents.sockets:
            await ws.close()
        await asyncio.gather(*tasks, return_exceptions=True)
    child.stdin.write(b"quit\n")
    await child.stdin.drain()
    return done, expected, agents


def tokens_of(args: argparse.Namespace) -> list[str]:
    tokens: list[str] = args.tokens
    return tokens


async def main(args: argparse.Namespace) -> dict[str, Any]:
    _raise_file_limit()
    async with database(args.database) as url:
        args.tokens = await seed_staff(url, args.sockets, args.queues)
        redis_url = ""
        if args.redis:
            redis_url = os.environ.get("SWITCHBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
        with tempfile.TemporaryFile("w+") as log:
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                *(["-m", "cProfile", "-o", args.profile] if args.profile else []),
                __file__,
                "--serve",
                "--database-url",
                url,
                "--redis-url",
                redis_url,
                "--prefix",
                f"sbbench:{uuid.uuid4().hex[:8]}",
                "--queues",
                str(args.queues),
                "--events",
                str(args.events),
                "--interval-ms",
                str(args.interval_ms),
                limit=256 * 1024 * 1024,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env={**os.environ, "PYTHONPATH": ROOT},
            )
            try:
                done, expected, agents = await drive(child, args, log)
            finally:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(child.wait(), 30)
                if child.returncode is None:
                    child.kill()
    sent = {int(k): v for k, v in done["sent"].items()}
    latencies = [at - sent[m] for m, at in agents.receipts if m in sent]
    return {
        "sockets": args.sockets,
        "events": len(sent),
        "delivered": len(latencies),
        "expected": expected,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "rss_mb": done["rss_mb"],
        "peak_rss_mb": done["peak_rss_mb"],
        "ingest_failed": done["failed"],
        "ingest_p50_ms": done["ingest_p50_ms"],
        "ingest_p99_ms": done["ingest_p99_ms"],
        "server_sockets": done["sockets"],
        "database": args.database,
        "bus": "redis" if args.redis else "in-process",
        "late_s": done["late_s"],
        "other_frames": agents.others,
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--interval-ms", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--redis", action="store_true", help="Redis bus and live feed")
    parser.add_argument("--profile", help="write a cProfile of the server to this file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="sbbench", help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.events:
        args.events = int(args.seconds * 1000 / args.interval_ms)
    return args


if __name__ == "__main__":
    arguments = parse()
    if arguments.serve:
        asyncio.run(serve(arguments))
    else:
        print(json.dumps(asyncio.run(main(arguments)), ensure_ascii=False))
