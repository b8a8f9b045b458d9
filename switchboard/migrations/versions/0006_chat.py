"""the customer's side of the chat: seen marks and satisfaction ratings

``messages.seen_at`` is when the customer's chat first showed an agent message;
``tickets.rating`` (1-5), ``rating_comment`` and ``rated_at`` hold the satisfaction
rating given once the ticket is solved (indexed by time for the wallboard's "today").

Revision ID: 0006_chat
Revises: 0006_websessions
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_chat"
down_revision = "0006_websessions"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("seen_at", UTC_TIME, nullable=True))
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("rating", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rating_comment", sa.Text(), nullable=True))
        batch.add_column(sa.Column("rated_at", UTC_TIME, nullable=True))
        batch.create_index("ix_tickets_rated_at", ["rated_at"])


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_rated_at")
        batch.drop_column("rated_at")
        batch.drop_column("rating_comment")
        batch.drop_column("rating")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("seen_at")
