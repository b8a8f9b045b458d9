"""kb: full-text search over messages; the knowledge base's tables

Messages get ``search_tokens`` (``tickets.search``'s token string, backfilled here) and
a full-text index: FTS5 with triggers on SQLite, a GIN expression index on PostgreSQL.

Revision ID: 0007_kb
Revises: 0006_data
Create Date: 2026-12-04

The five channel/room migrations were reserved in one linear chain up front so the rooms
built side by side never need re-chaining when they land.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tickets.search import MESSAGES, token_string

revision = "0007_kb"
down_revision = "0006_data"
branch_labels = None
depends_on = None


def _backfill_messages() -> None:
    conn = op.get_bind()
    messages = sa.table(
        "messages",
        sa.column("id", sa.BigInteger),
        sa.column("text", sa.Text),
        sa.column("search_tokens", sa.Text),
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(messages.c.id, messages.c.text)
            .where(messages.c.id > last)
            .order_by(messages.c.id)
            .limit(1000)
        ).all()
        if not rows:
            return
        conn.execute(
            messages.update()
            .where(messages.c.id == sa.bindparam("mid"))
            .values(search_tokens=sa.bindparam("tokens")),
            [{"mid": r.id, "tokens": token_string(r.text or "")} for r in rows],
        )
        last = rows[-1].id


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("search_tokens", sa.Text(), server_default="", nullable=False))
    _backfill_messages()
    for sql in MESSAGES.create_sql(dialect):
        op.execute(sql)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for sql in MESSAGES.drop_sql(dialect):
        op.execute(sql)
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("search_tokens")
