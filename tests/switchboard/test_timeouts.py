"""Every call that can hang is bounded: Redis socket and connect timeouts, PostgreSQL's
connect and command timeouts, and settings that keep the outbox's send timeout inside
its lease."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.exceptions import TimeoutError as RedisTimeout
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from switchboard import db
from switchboard.bus import redis_client
from switchboard.settings import Settings, SettingsError
from tests.netfakes import SilentServer

HANG_GUARD_S = 20.0  # only keeps a regression from hanging the suite


@pytest.fixture
async def silent() -> AsyncIterator[SilentServer]:
    server = await SilentServer().start()
    yield server
    await server.close()


async def test_a_redis_that_never_answers_fails_the_call(silent: SilentServer) -> None:
    client = redis_client(f"redis://127.0.0.1:{silent.port}/0", socket_timeout_s=0.3)
    try:
        with pytest.raises(RedisTimeout):
            await asyncio.wait_for(client.ping(), HANG_GUARD_S)
    finally:
        await client.aclose()


async def test_a_postgres_that_never_answers_fails_the_connect(silent: SilentServer) -> None:
    engine = db.create_engine(
        f"postgresql+asyncpg://postgres@127.0.0.1:{silent.port}/test", connect_timeout_s=0.3
    )
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(HANG_GUARD_S), engine.connect():
                pass
    finally:
        await engine.dispose()


async def test_a_statement_that_runs_too_long_is_cancelled(pg_url: str) -> None:
    engine = db.create_engine(pg_url, command_timeout_s=0.3)
    try:
        with pytest.raises((TimeoutError, DBAPIError)):
            async with asyncio.timeout(HANG_GUARD_S), engine.connect() as conn:
                await conn.execute(text("SELECT pg_sleep(30)"))
        async with engine.connect() as conn:  # the pool still works afterwards
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


def test_settings_keep_the_send_timeout_inside_the_lease() -> None:
    settings = Settings.load({"SWITCHBOARD_OUTBOX_LEASE_S": "60"})
    assert settings.outbox_send_timeout_s < settings.outbox_lease_s
    with pytest.raises(SettingsError, match="OUTBOX_SEND_TIMEOUT_S"):
        Settings.load(
            {"SWITCHBOARD_OUTBOX_LEASE_S": "20", "SWITCHBOARD_OUTBOX_SEND_TIMEOUT_S": "20"}
        )
    with pytest.raises(SettingsError, match="REDIS_SOCKET_TIMEOUT_S"):
        Settings.load({"SWITCHBOARD_REDIS_SOCKET_TIMEOUT_S": "1"})
    with pytest.raises(SettingsError, match="DB_POOL_SIZE"):
        Settings.load({"SWITCHBOARD_DB_POOL_SIZE": "0"})
