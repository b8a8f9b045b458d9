"""Alembic environment: one history for SQLite and PostgreSQL (batch mode for SQLite's
limited ALTER). Runs on the connection handed in by ``switchboard.db``."""

from __future__ import annotations

from alembic import context

import switchboard.tables  # noqa: F401  (registers every room's tables)
from tickets import Base, is_internal

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `switchboard db upgrade`")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
    # full-text indexes are made by migrations only (tickets.search)
    include_name=lambda name, type_, parents: name is None or not is_internal(name),
)
with context.begin_transaction():
    context.run_migrations()
