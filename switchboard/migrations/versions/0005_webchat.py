"""one verified owner per address; unverified claims beside it

An email typed into the chat is stored as an unverified identity of the chat's customer
even when another customer owns that address, so the unique rule covers verified
identities only (a partial unique index on both databases).

Revision ID: 0004_webchat
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_webchat"
down_revision = "0004_ops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer_identities") as batch:
        batch.drop_constraint("uq_identity_channel_address", type_="unique")
        batch.create_index(
            "uq_identity_verified_address",
            ["channel", "address"],
            unique=True,
            postgresql_where=sa.text("verified"),
            sqlite_where=sa.text("verified = 1"),
        )


def downgrade() -> None:
    op.execute("DELETE FROM customer_identities WHERE NOT verified")
    with op.batch_alter_table("customer_identities") as batch:
        batch.drop_index("uq_identity_verified_address")
        batch.create_unique_constraint("uq_identity_channel_address", ["channel", "address"])
