"""A bounded schemathesis run against a real ``switchboard serve``, on SQLite and on
PostgreSQL + Redis: no answer may be a 5xx, and every answer must match the OpenAPI
document at ``/api/v1/openapi.json`` (status code, content type, body schema), and what
the document forbids must be refused.

Each backend gets a throwaway database, migrated by ``switchboard db upgrade``, a
supervisor and an agent made by ``switchboard user add`` (password on ``--password`` when
the command still has it, else on stdin), a token from ``switchboard token add``, and a few
web chat tickets made through ``/chat/ws``; their numbers, customer ids and the staff
emails are handed to schemathesis as dictionaries so generated requests reach real rows.

    python -m tests.fuzz.run_schemathesis [--backend sqlite|postgres] [--max-examples 30]

Run by ``.ci/run`` after pytest. PostgreSQL uses SWITCHBOARD_TEST_DATABASE_URL (a database
``sb_fuzz_<pid>`` is created and dropped) and Redis SWITCHBOARD_TEST_REDIS_URL with its
database index replaced by 13 (flushed first: it is this script's own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[2]
SUPERVISOR, AGENT, PASSWORD = "fuzz.supervisor@example.com", "fuzz.agent@example.com", "fuzz-pw-1"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)
REDIS_DB = 13


def env_without_switchboard(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update({f"SWITCHBOARD_{k.upper()}": v for k, v in settings.items()})
    return env


def switchboard(*args: str, stdin: str = "", url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "switchboard.cli", *args, "--database-url", url],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env_without_switchboard(log_level="WARNING"),
        timeout=120,
    )
    if done.returncode != 0:
        raise SystemExit(f"switchboard {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def add_user(email: str, role: str, url: str) -> None:
    """``user add`` with the password on ``--password`` if the command has it, else piped
    on stdin (twice, for a prompt that asks to confirm)."""
    usage = subprocess.run(
        [sys.executable, "-m", "switchboard.cli", "user", "add", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env_without_switchboard(),
        timeout=60,
    ).stdout
    # General too: the chat tickets seeded below land in the default queue, and supervisors
    # see only their queues' tickets.
    queues = ["--queue", "Repairs", "--queue", "Orders", "--queue", "General"]
    args = ["user", "add", email, "--role", role, *queues]
    if re.search(r"--password-stdin\b", usage):
        args.append("--password-stdin")
    elif re.search(r"--password\b(?!-)", usage):
        args += ["--password", PASSWORD]
    switchboard(*args, stdin=f"{PASSWORD}\n{PASSWORD}\n", url=url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(url: str, redis_url: str | None, log: Path) -> Iterator[str]:
    port = free_port()
    settings = {"host": "127.0.0.1", "port": str(port), "database_url": url}
    settings["secret_key"] = "schemathesis-run-secret-0123456789"
    if redis_url:
        settings["redis_url"] = redis_url
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "switchboard.cli", "serve"],
            cwd=ROOT,
            env=env_without_switchboard(**settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, log)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async def probe() -> bool:
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{base}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as r,
            ):
                return r.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"switchboard serve exited:\n{log.read_text()}")
        if asyncio.run(probe()):
            return
        time.sleep(0.3)
    raise SystemExit(f"switchboard serve did not become healthy:\n{log.read_text()}")


async def seed_tickets(base: str, token: str) -> tuple[list[str], list[int]]:
    """Web chat tickets made the way a customer makes them, plus their customers' ids."""
    numbers: list[str] = []
    customers: list[int] = []
    headers = {"Authorization": f"Bearer {token}"}
    for i in range(3):
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"{base}/chat/ws") as ws:
                await ws.send_json({"type": "hello", "name": f"访客{i}"})
                await ws.send_json({"type": "message", "text": f"空调不制冷 {i}", "client_id": "c"})
                while True:
                    frame = json.loads((await ws.receive(timeout=10)).data)
                    if frame.get("type") == "ack":
                        numbers.append(frame["ticket"])
                        break
            async with http.get(f"{base}/api/v1/tickets/{numbers[-1]}", headers=headers) as r:
                customers.append((await r.json())["customer"]["id"])
    return numbers, customers


def write_config(path: Path, numbers: list[str], customers: list[int]) -> None:
    def values(items: list[Any]) -> str:
        return json.dumps([str(v) for v in items], ensure_ascii=False)

    path.write_text(
        f"""
[dictionaries.tickets]
values = {values(numbers)}
[dictionaries.customers]
values = {values(customers)}
[dictionaries.merge]
values = {json.dumps(customers)}
[dictionaries.staff]
values = {values([SUPERVISOR, AGENT])}
[dictionaries.queues]
values = ["Repairs", "Orders"]

[parameters]
"path.number" = {{ dictionary = "tickets", probability = 0.6 }}
"path.id" = {{ dictionary = "customers", probability = 0.6 }}
"path.email" = {{ dictionary = "staff", probability = 0.6 }}
"body.assignee" = {{ dictionary = "staff", probability = 0.5 }}
"body.queue" = {{ dictionary = "queues", probability = 0.6 }}
"body.merge" = {{ dictionary = "merge", probability = 0.6 }}
""",
        encoding="utf-8",
    )


def run_schemathesis(base: str, token: str, config: Path, max_examples: int, seed: int) -> int:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{base}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        # One worker: with two threads hypothesis sometimes describes a filter lambda while
        # another thread parses, and CPython 3.11's ast raises "AST constructor recursion
        # depth mismatch" (a tool error, reported as a problem with our API).
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
    ]
    return subprocess.run(command, cwd=config.parent, timeout=900).returncode


@contextlib.contextmanager
def database(backend: str, workdir: Path) -> Iterator[tuple[str, str | None]]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'fuzz.db'}", None
        return
    base = os.environ.get("SWITCHBOARD_TEST_DATABASE_URL")
    redis_base = os.environ.get("SWITCHBOARD_TEST_REDIS_URL")
    if not base or not redis_base:
        raise SystemExit(
            "set SWITCHBOARD_TEST_DATABASE_URL and SWITCHBOARD_TEST_REDIS_URL for the "
            "postgres run (or pass --backend sqlite)"
        )
    name = f"sb_fuzz_{os.getpid()}"
    asyncio.run(admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(admin(base, f'CREATE DATABASE "{name}"'))
    redis_url = re.sub(r"(/\d+)?$", f"/{REDIS_DB}", redis_base.split("?")[0], count=1)
    asyncio.run(flush_redis(redis_url))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False), redis_url
    finally:
        asyncio.run(admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def admin(url: str, sql: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def flush_redis(url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


def run_backend(backend: str, max_examples: int, seed: int) -> int:
    with tempfile.TemporaryDirectory(prefix=f"sb-fuzz-{backend}-") as tmp:
        workdir = Path(tmp)
        with database(backend, workdir) as (url, redis_url):
            switchboard("db", "upgrade", url=url)
            add_user(SUPERVISOR, "supervisor", url)
            add_user(AGENT, "agent", url)
            token = switchboard("token", "add", SUPERVISOR, url=url).strip().splitlines()[-1]
            log = workdir / "serve.log"
            with serve(url, redis_url, log) as base:
                numbers, customers = asyncio.run(seed_tickets(base, token))
                config = workdir / "schemathesis.toml"
                write_config(config, numbers, customers)
                print(f"== schemathesis on {backend}: {base}, tickets {numbers}", flush=True)
                status = run_schemathesis(base, token, config, max_examples, seed)
            if status != 0:
                print(f"== switchboard serve log ({backend}):\n{log.read_text()[-20000:]}")
            return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend", action="append", choices=["sqlite", "postgres"], help="default: both"
    )
    parser.add_argument("--max-examples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SCHEMATHESIS_SEED", "7")))
    args = parser.parse_args()
    failed = [
        backend
        for backend in args.backend or ["sqlite", "postgres"]
        if run_backend(backend, args.max_examples, args.seed) != 0
    ]
    if failed:
        print(f"schemathesis found problems on: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
