"""the agent workspace's data: view indexes, SLA due column, undoable merges, idempotent
creates, UI preferences

Revision ID: 0006_data
Revises: 0006_chat
Create Date: 2026-12-02

``tickets.sla_due_at`` is back-filled from each ticket's SLA state (the nearest due time
of a running clock), so existing tickets sort right in the views at once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006_data"
down_revision = "0006_chat"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CLOCKS = ("first_response", "next_response", "resolution")


def _nearest_due(state: Any) -> datetime | None:
    if isinstance(state, str):
        state = json.loads(state)
    if not isinstance(state, dict):
        return None
    found = []
    for name in CLOCKS:
        clock = state.get(name)
        if isinstance(clock, dict) and not clock.get("met_at") and not clock.get("paused"):
            due = clock.get("due_at")
            if isinstance(due, str):
                found.append(datetime.fromisoformat(due).astimezone(UTC))
    return min(found) if found else None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("ui_locale", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_tickets_queue_status_due",
        "tickets",
        ["queue_id", "status", "sla_due_at", "id"],
        postgresql_include=["priority", "assignee_id", "solved_at", "updated_at"],
    )
    op.create_index(
        "ix_tickets_assignee_status_due",
        "tickets",
        ["assignee_id", "status", "sla_due_at", "id"],
        postgresql_include=["priority", "updated_at"],
    )
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_ticket_id")
        batch.create_index("ix_messages_ticket_id_id", ["ticket_id", "id"])

    conn = op.get_bind()
    tickets = sa.table(
        "tickets",
        sa.column("id", BIG_ID),
        sa.column("sla", sa.JSON()),
        sa.column("sla_due_at", sa.DateTime(timezone=True)),
    )
    for ticket_id, state in conn.execute(sa.select(tickets.c.id, tickets.c.sla)).all():
        due = _nearest_due(state)
        if due is not None:
            conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(sla_due_at=due))

    op.create_table(
        "customer_merges",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("kept_id", BIG_ID, nullable=False),
        sa.Column("merged_id", BIG_ID, nullable=False),
        sa.Column("identity_ids", sa.JSON(), nullable=False),
        sa.Column("ticket_ids", sa.JSON(), nullable=False),
        sa.Column("merged_by", BIG_ID, nullable=True),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_by", BIG_ID, nullable=True),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["kept_id"], ["customers.id"], name=op.f("fk_customer_merges_kept_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["merged_id"], ["customers.id"], name=op.f("fk_customer_merges_merged_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["merged_by"], ["users.id"], name=op.f("fk_customer_merges_merged_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["undone_by"], ["users.id"], name=op.f("fk_customer_merges_undone_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_merges")),
    )
    op.create_index(op.f("ix_customer_merges_kept_id"), "customer_merges", ["kept_id"])
    op.create_index(op.f("ix_customer_merges_merged_id"), "customer_merges", ["merged_id"])

    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", BIG_ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_idempotency_keys_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_customer_merges_merged_id"), table_name="customer_merges")
    op.drop_index(op.f("ix_customer_merges_kept_id"), table_name="customer_merges")
    op.drop_table("customer_merges")
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_ticket_id_id")
        batch.create_index("ix_messages_ticket_id", ["ticket_id"])
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_assignee_status_due")
        batch.drop_index("ix_tickets_queue_status_due")
        batch.drop_column("sla_due_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("time_zone")
        batch.drop_column("ui_locale")
