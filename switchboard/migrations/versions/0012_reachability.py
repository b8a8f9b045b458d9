"""reachability: an identity that opted out or cannot be reached (tickets/reachability.py)

Revision ID: 0012_reachability
Revises: 0011_erp
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_reachability"
down_revision = "0011_erp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer_identities") as batch:
        batch.add_column(sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("unreachable_reason", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_identities") as batch:
        batch.drop_column("unreachable_reason")
        batch.drop_column("opted_out_at")
