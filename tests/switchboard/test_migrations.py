"""Migrations bring an empty database to head on SQLite and PostgreSQL, and the models
match the migrated schema (a forgotten migration fails here)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

import switchboard.tables  # noqa: F401
from switchboard import db
from tests.conftest import require_postgres
from tickets import is_internal
from tickets.models import Base

EXPECTED = {
    "tickets",
    "messages",
    "customers",
    "customer_identities",
    "users",
    "api_tokens",
    "queues",
    "queue_members",
    "outbox",
    "audit_log",
    "attachments",
    "ticket_tags",
}


def _modelled(name: str | None, type_: str, parent_names: Any) -> bool:
    """Full-text indexes (FTS5 tables, GIN expression indexes) are made by migrations
    only, not by models."""
    return name is None or not is_internal(name)


async def check_fresh_database(url: str) -> None:
    engine = db.create_engine(url)
    try:
        assert await db.pending_migrations(engine)
        await db.upgrade(engine)
        assert not await db.pending_migrations(engine)
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            diff: list[Any] = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"include_name": _modelled}),
                    Base.metadata,
                )
            )
        assert tables >= EXPECTED
        assert diff == [], f"models and migrations differ: {diff}"
        await db.upgrade(engine)  # a second upgrade is a no-op
    finally:
        await engine.dispose()


async def test_upgrade_empty_sqlite(tmp_path: Path) -> None:
    await check_fresh_database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")


async def test_upgrade_empty_postgresql() -> None:
    base = require_postgres()
    name = f"sb_mig_{uuid.uuid4().hex[:8]}"
    admin = db.create_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        await check_fresh_database(
            make_url(base).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
