"""telegram: handled update ids (re-delivery and the polling offset), sent message parts,
and customers' edits (channels/telegram/models.py)

Revision ID: 0010_telegram
Revises: 0009_twilio
Create Date: 2026-12-04

The five channel/room migrations were reserved in one linear chain up front so the rooms
built side by side never need re-chaining when they land.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_telegram"
down_revision = "0009_twilio"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "telegram_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name="pk_telegram_updates"),
    )
    op.create_index(
        "ix_telegram_updates_chat", "telegram_updates", ["chat_id", "ticket_id", "update_id"]
    )
    op.create_table(
        "telegram_sent",
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("part", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=False),
        sa.Column("reply_to", sa.BigInteger(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key", "part", name="pk_telegram_sent"),
    )
    op.create_index("ix_telegram_sent_reply", "telegram_sent", ["chat_id", "reply_to"])
    op.create_table(
        "telegram_edits",
        sa.Column("id", BigId, nullable=False),
        sa.Column(
            "message_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "messages.id",
                ondelete="CASCADE",
                name="fk_telegram_edits_message_id_messages",
            ),
            nullable=False,
        ),
        sa.Column("edit_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("previous_text", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_telegram_edits"),
        sa.UniqueConstraint("message_id", "edit_date", name="uq_telegram_edits_message_id"),
    )


def downgrade() -> None:
    op.drop_table("telegram_edits")
    op.drop_index("ix_telegram_sent_reply", table_name="telegram_sent")
    op.drop_table("telegram_sent")
    op.drop_index("ix_telegram_updates_chat", table_name="telegram_updates")
    op.drop_table("telegram_updates")
