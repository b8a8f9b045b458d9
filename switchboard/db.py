"""Async engine and sessions for SQLite (embedded default) and PostgreSQL, plus the
Alembic migration runner used by ``switchboard db upgrade`` and ``demo``.

SQLite: WAL, a busy timeout and foreign keys on every connection, and every transaction
starts with ``BEGIN IMMEDIATE``: SQLite has one writer, and taking the write lock up front
makes concurrent writers wait (busy timeout) instead of failing when a read transaction
later tries to write.

One pool per process, bounded: ``pool_size`` connections and no overflow, so that
processes x pool size is a number the operator can keep under PostgreSQL's
``max_connections``; a caller waits at most ``pool_timeout_s`` for a free connection and
then gets SQLAlchemy's pool ``TimeoutError`` (``tickets.Unavailable`` from the Desk).
The ingest fast path borrows its asyncpg connections from this same pool.
PostgreSQL connections also have a connect timeout and, in the app's engine
(``engine_for``), a per-statement command timeout, so a database that stops answering
fails a call instead of hanging it; other engines (migrations, admin commands) have none,
so a long migration is not cut off. Instead of a pre-ping (a BEGIN, a query and a
ROLLBACK on every checkout with asyncpg), a checkout drops a connection the driver has
already seen closed (a server restart closes every socket), and connections are
recycled after half an hour."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only

from switchboard.settings import Settings, SettingsError

SessionFactory = async_sessionmaker[AsyncSession]


def engine_for(settings: Settings) -> AsyncEngine:
    """The process's engine, with the pool size and timeouts from the settings."""
    return create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_timeout_s=settings.db_pool_timeout_s,
        connect_timeout_s=settings.db_connect_timeout_s,
        command_timeout_s=settings.db_command_timeout_s,
    )


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    pool_timeout_s: float = 5.0,
    connect_timeout_s: float = 5.0,
    command_timeout_s: float | None = None,
    **kwargs: Any,
) -> AsyncEngine:
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise SettingsError(f"bad database URL {url!r}: {err}") from err
    if parsed.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise SettingsError(
            f"unsupported database URL scheme {parsed.drivername!r}: "
            "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB"
        )
    if pool_size < 1:
        raise SettingsError(f"the database pool size must be at least 1, not {pool_size}")
    if parsed.database not in (None, "", ":memory:"):
        kwargs.setdefault("pool_size", pool_size)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", pool_timeout_s)
    if parsed.drivername.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault(
        "connect_args",
        {"timeout": connect_timeout_s, "command_timeout": command_timeout_s or None},
    )
    kwargs.setdefault("pool_recycle", 1800)
    engine = create_async_engine(url, **kwargs)
    _configure_postgres(engine)
    return engine


def _configure_postgres(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        driver = record.driver_connection
        if driver is not None and driver.is_closed():
            raise DisconnectionError("the server closed this connection")


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight on the aiosqlite connection: one trip to its thread, where a statement
        # through SQLAlchemy's adapter makes three (a cursor, the execute, the close).
        driver = conn.connection.driver_connection
        assert driver is not None
        await_only(driver.execute("BEGIN IMMEDIATE"))


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends, rolls back on error."""
    async with sessions() as session, session.begin():
        yield session


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "switchboard:migrations")
    return cfg


def _upgrade(connection: Connection) -> None:
    cfg = _alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def _current_heads(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def upgrade(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.run_sync(_upgrade)
        await conn.commit()


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(_alembic_config()).get_heads())


async def pending_migrations(engine: AsyncEngine) -> bool:
    """True when the database is not at the newest migration."""
    async with engine.connect() as conn:
        current = await conn.run_sync(_current_heads)
    return current != head_revisions()
