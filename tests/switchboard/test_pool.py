"""One bounded connection pool per process: the ingest fast path borrows from the
engine's pool, waiters are served fairly, and a pool that stays exhausted answers 503
with ``Retry-After`` (never a dropped request)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

import tickets
from routing.rules import QueueRules
from switchboard import db
from tests.apphelpers import start_api
from tests.conftest import Stack
from tests.helpers import Clock, RecordingPublisher, inbound, seed_with_tokens
from tickets.desk import Desk


async def test_an_exhausted_pool_answers_503_with_retry_after(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(
        aiohttp_client,
        stack,
        redis_prefix,
        db_pool_size=1,
        db_pool_timeout_s=0.2,
        run_workers=False,
    )
    async with api.runtime.engine.connect():  # holds the pool's only connection
        response = await api.client.get(
            "/api/v1/tickets", headers=api.as_("supervisor@example.com")
        )
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
        body = await response.json()
        assert body["error"]["code"] == "unavailable"
    await api.get("/api/v1/tickets")  # free again: served as usual


def desk_on(engine: Any) -> Desk:
    return Desk(
        db.session_factory(engine), RecordingPublisher(), Clock(), choose_queue=QueueRules()
    )


async def test_ingest_on_an_exhausted_pool_raises_unavailable(database_url: str) -> None:
    await seed_with_tokens(database_url)
    engine = db.create_engine(database_url, pool_size=1, pool_timeout_s=0.2)
    desk = desk_on(engine)
    try:
        async with engine.connect():
            with pytest.raises(tickets.Unavailable) as caught:
                await desk.ingest(inbound("+8613800138000"))
        assert caught.value.retry_after > 0
        assert (await desk.ingest(inbound("+8613800138000"))).new_ticket
    finally:
        await desk.close()
        await engine.dispose()


async def test_ingest_and_sessions_share_one_pool(pg_url: str) -> None:
    await seed_with_tokens(pg_url)
    engine = db.create_engine(pg_url, pool_size=2)
    desk = desk_on(engine)
    try:
        await asyncio.gather(
            *(desk.ingest(inbound(f"+86138001380{i:02d}")) for i in range(20)),
            *(desk.read(lambda s: s.execute(text("SELECT 1"))) for _ in range(5)),
        )
        async with engine.connect() as conn:
            backends = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            ).scalar()
        assert backends is not None and backends <= 1  # the pool's other connection
    finally:
        await desk.close()
        await engine.dispose()


async def test_waiters_for_a_busy_pool_are_served_in_turn(pg_url: str) -> None:
    """Workers in tight loops on a pool smaller than their number all get through: a
    worker that gives its connection back must not take it again ahead of the waiters."""
    await seed_with_tokens(pg_url)
    engine = db.create_engine(pg_url, pool_size=1, pool_timeout_s=0.5)
    desk = desk_on(engine)

    async def worker(n: int) -> None:
        for i in range(100):
            await desk.ingest(inbound(f"+86138{n:02d}{i:04d}"))

    try:
        await asyncio.gather(*(worker(n) for n in range(4)))
    finally:
        await desk.close()
        await engine.dispose()
