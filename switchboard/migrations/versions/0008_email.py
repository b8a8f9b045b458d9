"""email: threading reason and mail facts on messages, ticket participants (CC), and the
IMAP poller's place in each mailbox

Revision ID: 0008_email
Revises: 0007_kb
Create Date: 2026-12-04

The five channel/room migrations were reserved in one linear chain up front so the rooms
built side by side never need re-chaining when they land.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_email"
down_revision = "0007_kb"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("thread_reason", sa.String(20), nullable=True))
        batch.add_column(sa.Column("email_meta", sa.JSON(), nullable=True))
    op.create_table(
        "ticket_participants",
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name="fk_ticket_participants_ticket_id_tickets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", "address", name="pk_ticket_participants"),
    )
    op.create_table(
        "email_mailboxes",
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_email_mailboxes"),
    )


def downgrade() -> None:
    op.drop_table("email_mailboxes")
    op.drop_table("ticket_participants")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("email_meta")
        batch.drop_column("thread_reason")
