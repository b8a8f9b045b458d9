"""event outbox, dead letters, outbox lease owner, unverified identities, follow-ups

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("consumer_group", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("relayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_outbox")),
    )
    op.create_index("ix_event_outbox_pending", "event_outbox", ["relayed_at", "id"])
    op.create_table(
        "event_dead_letters",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("consumer_group", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retried_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_dead_letters")),
    )
    op.create_index(
        op.f("ix_event_dead_letters_consumer_group"), "event_dead_letters", ["consumer_group"]
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
    with op.batch_alter_table("customer_identities") as batch:
        batch.add_column(
            sa.Column("verified", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("follow_up_of_id", BIG_ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_tickets_follow_up_of_id_tickets"), "tickets", ["follow_up_of_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint(op.f("fk_tickets_follow_up_of_id_tickets"), type_="foreignkey")
        batch.drop_column("follow_up_of_id")
    with op.batch_alter_table("customer_identities") as batch:
        batch.drop_column("verified")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("lease_owner")
    op.drop_index(op.f("ix_event_dead_letters_consumer_group"), table_name="event_dead_letters")
    op.drop_table("event_dead_letters")
    op.drop_index("ix_event_outbox_pending", table_name="event_outbox")
    op.drop_table("event_outbox")
