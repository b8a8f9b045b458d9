"""Alembic environment: one history for SQLite and PostgreSQL (batch mode for SQLite's
limited ALTER). Runs on the connection handed in by ``switchboard.db``."""

from __future__ import annotations

from alembic import context

import channels.telegram.models  # noqa: F401  (registers the telegram tables)
import routing.models  # noqa: F401  (registers the routing tables)
from tickets import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `switchboard db upgrade`")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
