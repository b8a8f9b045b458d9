"""Shared fixtures: a clean, migrated database on each storage backend, Redis, and a
running app with staff users.

``stack`` runs a test twice: ``embedded`` (SQLite file + in-process bus) always, and
``postgres`` (PostgreSQL + Redis) when SWITCHBOARD_TEST_DATABASE_URL and
SWITCHBOARD_TEST_REDIS_URL are reachable; otherwise that run is skipped with how to start
them. PostgreSQL gets one throwaway database per test session, truncated between tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

import switchboard.tables  # noqa: F401  (every room's tables are truncated between tests)
from switchboard import db
from switchboard.settings import Settings
from tickets.models import Base

PG_URL = os.environ.get("SWITCHBOARD_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("SWITCHBOARD_TEST_REDIS_URL")
PG_HINT = (
    "PostgreSQL not configured: set SWITCHBOARD_TEST_DATABASE_URL="
    "postgresql+asyncpg://postgres@127.0.0.1:5432/test and start it with "
    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
)
REDIS_HINT = (
    "Redis not configured: set SWITCHBOARD_TEST_REDIS_URL=redis://127.0.0.1:6379/0 and start it "
    'with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`'
)


def _reachable(url: str | None, default_port: int) -> bool:
    if not url:
        return False
    parsed = urlparse(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1.0
        ):
            return True
    except OSError:
        return False


def require_postgres() -> str:
    if not _reachable(PG_URL, 5432):
        pytest.skip(
            PG_HINT if not PG_URL else f"PostgreSQL at {PG_URL} is not reachable; {PG_HINT}"
        )
    assert PG_URL
    return PG_URL


def require_redis() -> str:
    if not _reachable(REDIS_URL, 6379):
        pytest.skip(
            REDIS_HINT if not REDIS_URL else f"Redis at {REDIS_URL} is not reachable; {REDIS_HINT}"
        )
    assert REDIS_URL
    return REDIS_URL


def run_sync(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Runs a coroutine to completion on its own loop in a thread, so session-scoped
    set-up works even when first requested from inside a running test loop."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(make())
        except BaseException as err:
            errors.append(err)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


async def _migrate(url: str) -> None:
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_sync(lambda: _migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session, migrated once."""
    base = require_postgres()
    name = f"sb_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def admin(sql: str) -> None:
        engine = db.create_engine(base, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    run_sync(lambda: admin(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    run_sync(lambda: _migrate(url))
    yield url
    run_sync(lambda: admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def truncate_all(url: str) -> None:
    """Empties every table. A connection an earlier test leaked (its app gone, its
    transaction still open) would make TRUNCATE wait for its locks forever and stall the
    whole run; so TRUNCATE waits 10 s at most, then the leftover connections to this
    throwaway database are named on stderr and terminated, and TRUNCATE runs again."""
    engine = db.create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    try:
        for attempt in (1, 2):
            try:
                async with engine.begin() as conn:
                    await conn.execute(text("SET LOCAL lock_timeout = '10s'"))
                    await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                return
            except DBAPIError as err:
                if attempt == 2 or "lock timeout" not in str(err):
                    raise
                await _terminate_leftovers(engine)
    finally:
        await engine.dispose()


async def _terminate_leftovers(engine: Any) -> None:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT pid, state, left(query, 200) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        for pid, state, query in rows:
            print(
                f"[conftest] terminating leaked connection {pid} ({state}): {query}",
                file=sys.__stderr__,
            )
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await conn.commit()


STALL_REPORT_S = 120.0
"""A test still running after this long has its coroutines' stacks printed (pytest-timeout
fails it later, see pyproject.toml): a hang then says where it waits."""


@pytest.fixture(autouse=True)
async def _stall_report(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    handle = asyncio.get_running_loop().call_later(
        STALL_REPORT_S, _print_tasks, request.node.nodeid
    )
    yield
    handle.cancel()


def _print_tasks(nodeid: str) -> None:
    out = sys.__stderr__
    print(f"\n[conftest] {nodeid} still running after {STALL_REPORT_S:.0f} s; its tasks:", file=out)
    for task in asyncio.all_tasks():
        task.print_stack(limit=12, file=out)


@dataclass(frozen=True)
class Stack:
    name: str
    database_url: str
    redis_url: str | None

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": self.database_url,
            "redis_url": self.redis_url,
            "secret_key": "test-secret-key-0123456789abcdef",
            "outbox_base_delay_s": 0.05,
        }
        values.update(overrides)
        return Settings.from_mapping(values)


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "switchboard.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def pg_url(pg_database: str) -> str:
    await truncate_all(pg_database)
    return pg_database


@pytest.fixture(params=["embedded", "postgres"])
async def stack(request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    if request.param == "embedded":
        yield Stack("embedded", request.getfixturevalue("sqlite_url"), None)
        return
    redis_url = require_redis()
    url = request.getfixturevalue("pg_database")
    await truncate_all(url)
    yield Stack("postgres", url, redis_url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest) -> str:
    """A clean migrated database, on each backend (no Redis involved)."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    url = request.getfixturevalue("pg_database")
    await truncate_all(url)
    return str(url)


@pytest.fixture
def redis_prefix() -> str:
    return f"sbtest:{uuid.uuid4().hex[:10]}"
