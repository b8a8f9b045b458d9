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

from tickets.search import MESSAGES, FtsIndex, token_string

revision = "0007_kb"
down_revision = "0006_data"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ARTICLES = FtsIndex("kb_articles", ("title_tokens", "body_tokens"))


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
    _create_kb_tables()
    for sql in ARTICLES.create_sql(dialect):
        op.execute(sql)


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _user(name: str) -> sa.Column[object]:
    return sa.Column(name, BigId, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


def _filters() -> list[sa.Column[object]]:
    return [
        sa.Column("locale", sa.String(10), nullable=False),
        sa.Column("visibility", sa.String(10), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
    ]


def _text() -> list[sa.Column[object]]:
    # Long text last: SQLite reads a row's columns in order, so the columns searches
    # filter on (locale, visibility) are read without paging through the body.
    return [
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    ]


def _create_kb_tables() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", BigId, nullable=False),
        sa.Column("slug", sa.String(200), nullable=False),
        *_filters(),
        sa.Column("translation_key", sa.String(200), nullable=False),
        _user("author_id"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("search_length", sa.Integer(), nullable=False),
        sa.Column("helpful_yes", sa.Integer(), nullable=False),
        sa.Column("helpful_no", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        *_text(),
        sa.Column("title_tokens", sa.Text(), nullable=False),
        sa.Column("body_tokens", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_articles"),
        sa.UniqueConstraint("slug", name="uq_kb_articles_slug"),
    )
    op.create_index("ix_kb_articles_translation", "kb_articles", ["translation_key", "locale"])
    op.create_index("ix_kb_articles_updated_at", "kb_articles", ["updated_at"])
    op.create_table(
        "kb_article_versions",
        sa.Column("id", BigId, nullable=False),
        sa.Column(
            "article_id",
            BigId,
            sa.ForeignKey("kb_articles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        *_filters(),
        *_text(),
        _user("author_id"),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_article_versions"),
        sa.UniqueConstraint("article_id", "version", name="uq_kb_versions"),
    )
    op.create_table(
        "kb_insertions",
        sa.Column("id", BigId, nullable=False),
        sa.Column(
            "article_id",
            BigId,
            sa.ForeignKey("kb_articles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "ticket_id", BigId, sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
        ),
        _user("user_id"),
        sa.Column("terms", sa.Text(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_insertions"),
    )
    op.create_index("ix_kb_insertions_article_id", "kb_insertions", ["article_id"])
    op.create_table(
        "kb_deflection",
        sa.Column(
            "queue_id", BigId, sa.ForeignKey("queues.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("queue_id", name="pk_kb_deflection"),
    )
    op.create_table(
        "kb_macros",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("queue_id", BigId, sa.ForeignKey("queues.id", ondelete="CASCADE")),
        sa.Column("owner_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE")),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_macros"),
    )
    op.create_index("ix_kb_macros_queue_id", "kb_macros", ["queue_id"])
    op.create_index("ix_kb_macros_owner_id", "kb_macros", ["owner_id"])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for sql in ARTICLES.drop_sql(dialect):
        op.execute(sql)
    op.drop_table("kb_macros")
    op.drop_table("kb_deflection")
    op.drop_table("kb_insertions")
    op.drop_table("kb_article_versions")
    op.drop_table("kb_articles")
    for sql in MESSAGES.drop_sql(dialect):
        op.execute(sql)
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("search_tokens")
