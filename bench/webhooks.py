"""Signed Twilio SMS webhooks against one server process on PostgreSQL: N requests from
K phone numbers at concurrency C, each a distinct MessageSid, every one signed as Twilio
signs it. Figures: accepted messages per second (answered 200 with TwiML), p50/p99
latency, and the messages stored afterwards (must equal the requests accepted). In the
same run, a bare aiohttp handler doing one INSERT per request (asyncpg, no signature,
no ingest) on the same database is the reference.

    python bench/webhooks.py [--requests 20000] [--identities 2000] [--concurrency 32]
                             [--redis] [--no-workers]

The server is a child process (``--serve``) running the real app (``create_app``, its
workers included, as ``switchboard serve`` does) with Twilio configured; the load comes
from this process. PostgreSQL (and Redis with ``--redis``) come from
SWITCHBOARD_TEST_DATABASE_URL (and SWITCHBOARD_TEST_REDIS_URL). The servers' own CPU time
per request is reported too: on a shared machine it says more than the wall clock. Ends
with one JSON line:
``{"backend": "postgresql", "accepted", "stored", "messages_per_s", "p50_ms", "p99_ms",
"reference_per_s"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

ROOT = str(Path(__file__).resolve().parent.parent)
sys.path.insert(0, ROOT)

from bench.common import percentile, postgres_base, postgres_database  # noqa: E402

SID = "AC" + "b" * 32
TOKEN = "bench-auth-token-0123456789abcdef"
NUMBER = "+15005550006"
TEXTS = ("我家空调不制冷了", "洗衣机漏水，型号XQB80", "我的订单 SO-2291 到哪了", "Fridge is noisy")


def sign(url: str, params: dict[str, str]) -> str:
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    return base64.b64encode(
        hmac.new(TOKEN.encode(), payload.encode(), hashlib.sha1).digest()
    ).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the servers (child processes) ------------------------------------------------------


def _say(**data: Any) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def _until_quit() -> None:
    """Answers ``cpu`` with this process's CPU seconds so far, until ``quit``."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while (line := (await reader.readline()).strip()) not in (b"quit", b""):
        if line == b"cpu":
            _say(cpu_s=time.process_time())


async def serve(args: argparse.Namespace) -> None:
    from aiohttp import web

    from switchboard.app import create_app
    from switchboard.settings import Settings

    settings = Settings.from_mapping(
        {
            "database_url": args.database_url,
            "redis_url": args.redis_url or None,
            "secret_key": "bench-secret-key-0123456789abcdef",
            "db_pool_size": 20,
            "public_url": f"http://127.0.0.1:{args.port}",
            "twilio_account_sid": SID,
            "twilio_auth_token": TOKEN,
            "twilio_number": NUMBER,
            "twilio_api_base": "http://127.0.0.1:9",
            "blob_dir": args.blob_dir,
            "log_level": "WARNING",
            "run_workers": not args.no_workers,
        }
    )
    app = create_app(settings, redis_prefix=args.prefix)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port, backlog=4096).start()
    _say(ready=args.port)
    await _until_quit()
    await runner.cleanup()


async def reference(args: argparse.Namespace) -> None:
    """The bare handler: parse the form, one INSERT, answer TwiML."""
    import asyncpg
    from aiohttp import web
    from sqlalchemy.engine import make_url

    url = make_url(args.database_url).set(drivername="postgresql").render_as_string(False)
    pool = await asyncpg.create_pool(url, min_size=20, max_size=20)
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_reference (id bigserial PRIMARY KEY, "
        "sid text UNIQUE NOT NULL, sender text NOT NULL, body text NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT now())"
    )

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        await pool.execute(
            "INSERT INTO bench_reference (sid, sender, body) VALUES ($1, $2, $3)",
            form["MessageSid"],
            form["From"],
            form["Body"],
        )
        return web.Response(text="<Response></Response>", content_type="text/xml")

    app = web.Application()
    app.router.add_post("/webhooks/twilio/sms", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port, backlog=4096).start()
    _say(ready=args.port)
    await _until_quit()
    await runner.cleanup()
    await pool.close()


# -- the load (this process) ------------------------------------------------------------


Work = list[tuple[dict[str, str], str]]


def requests(count: int, identities: int, url: str, tag: str) -> Work:
    out = []
    for i in range(count):
        params = {
            "MessageSid": f"SM{tag}{i:024d}",
            "AccountSid": SID,
            "From": f"+86138{i % identities:08d}",
            "To": NUMBER,
            "Body": TEXTS[i % len(TEXTS)],
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        out.append((params, sign(url, params)))
    return out


async def load(
    port: int, work: list[tuple[dict[str, str], str]], concurrency: int
) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/webhooks/twilio/sms"
    latencies: list[float] = []
    accepted = refused = 0
    queue = list(reversed(work))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal accepted, refused
            while queue:
                params, signature = queue.pop()
                t0 = time.perf_counter()
                async with session.post(
                    url, data=params, headers={"X-Twilio-Signature": signature}
                ) as response:
                    await response.read()
                    ok = response.status == 200
                latencies.append(time.perf_counter() - t0)
                accepted += ok
                refused += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "accepted": accepted,
        "refused": refused,
        "seconds": round(elapsed, 2),
        "per_s": round(accepted / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
    }


async def child(
    mode: str, database_url: str, args: argparse.Namespace, log: Any, blobs: str
) -> tuple[asyncio.subprocess.Process, int]:
    """Starts a server child (``--serve`` or ``--reference``); returns it and its port."""
    profile = ["-m", "cProfile", "-o", args.profile] if args.profile and mode == "--serve" else []
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *profile,
        __file__,
        mode,
        "--database-url",
        database_url,
        "--redis-url",
        os.environ.get("SWITCHBOARD_TEST_REDIS_URL", "") if args.redis else "",
        "--port",
        str(free_port()),
        "--blob-dir",
        blobs,
        "--prefix",
        f"sbbench:{uuid.uuid4().hex[:8]}",
        *(["--no-workers"] if args.no_workers else []),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert process.stdout is not None
    ready = json.loads(await process.stdout.readline() or b"{}")
    if "ready" not in ready:
        process.kill()
        log.seek(0)
        raise SystemExit(f"the {mode} server did not start:\n" + log.read()[-4000:])
    return process, int(ready["ready"])


async def cpu(process: asyncio.subprocess.Process) -> float:
    """The server's CPU seconds so far (user + system), whatever else the machine runs."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"cpu\n")
    await process.stdin.drain()
    return float(json.loads(await process.stdout.readline())["cpu_s"])


async def stop(process: asyncio.subprocess.Process) -> None:
    assert process.stdin is not None
    with contextlib.suppress(ConnectionError):
        process.stdin.write(b"quit\n")
        await process.stdin.drain()
    try:
        await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        process.kill()


async def count(database_url: str, sql: str) -> int:
    from sqlalchemy import text

    from switchboard import db

    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text(sql))).scalar() or 0)
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    base = postgres_base()
    if not base:
        raise SystemExit("set SWITCHBOARD_TEST_DATABASE_URL (PostgreSQL) to run this benchmark")
    async with postgres_database(base) as url:
        with tempfile.TemporaryFile("w+") as log, tempfile.TemporaryDirectory() as blobs:
            process, port = await child("--serve", url, args, log, blobs)
            try:
                public = f"http://127.0.0.1:{port}/webhooks/twilio/sms"
                await load(port, requests(200, 50, public, "w"), args.concurrency)  # warm-up
                before = await cpu(process)
                ours = await load(
                    port, requests(args.requests, args.identities, public, "b"), args.concurrency
                )
                ours["cpu_ms"] = round((await cpu(process) - before) * 1000 / args.requests, 3)
            finally:
                await stop(process)
            stored = await count(
                url,
                "SELECT count(*) FROM messages WHERE channel = 'sms' AND external_id LIKE 'SMb%'",
            )
            print(
                f"switchboard: {ours['accepted']} accepted ({ours['refused']} refused) in "
                f"{ours['seconds']}s: {ours['per_s']} msg/s, p50 {ours['p50_ms']} ms, "
                f"p99 {ours['p99_ms']} ms, {ours['cpu_ms']} ms server CPU each; {stored} stored",
                file=sys.stderr,
                flush=True,
            )
            process, port = await child("--reference", url, args, log, blobs)
            try:
                public = f"http://127.0.0.1:{port}/webhooks/twilio/sms"
                await load(port, requests(200, 50, public, "v"), args.concurrency)
                before = await cpu(process)
                ref = await load(
                    port, requests(args.requests, args.identities, public, "r"), args.concurrency
                )
                ref["cpu_ms"] = round((await cpu(process) - before) * 1000 / args.requests, 3)
            finally:
                await stop(process)
            print(
                f"reference (one INSERT per request): {ref['per_s']} req/s, "
                f"p50 {ref['p50_ms']} ms, p99 {ref['p99_ms']} ms, {ref['cpu_ms']} ms CPU each",
                file=sys.stderr,
                flush=True,
            )
    return {
        "backend": "postgresql",
        "bus": "redis" if args.redis else "in-process",
        "workers_in_server": not args.no_workers,
        "requests": args.requests,
        "identities": args.identities,
        "concurrency": args.concurrency,
        "accepted": ours["accepted"],
        "stored": stored,
        "messages_per_s": ours["per_s"],
        "p50_ms": ours["p50_ms"],
        "p99_ms": ours["p99_ms"],
        "reference_per_s": ref["per_s"],
        "reference_p50_ms": ref["p50_ms"],
        "reference_p99_ms": ref["p99_ms"],
        "server_cpu_ms_per_message": ours["cpu_ms"],
        "reference_cpu_ms_per_request": ref["cpu_ms"],
        "load_average": round(os.getloadavg()[0], 2),
        "share_of_reference": round(ours["per_s"] / ref["per_s"], 3) if ref["per_s"] else None,
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--identities", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--redis", action="store_true", help="Redis bus (else in-process)")
    parser.add_argument(
        "--no-workers",
        action="store_true",
        help="the server only answers HTTP (serve --no-workers); routing, SLA and the relay "
        "would run in a separate `switchboard worker`",
    )
    parser.add_argument("--profile", help="write a cProfile of the Switchboard server here")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--blob-dir", default="", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="sbbench", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    if arguments.serve:
        asyncio.run(serve(arguments))
    elif arguments.reference:
        asyncio.run(reference(arguments))
    else:
        print(json.dumps(asyncio.run(main(arguments)), ensure_ascii=False))
