"""one phone identity for SMS and voice

Revision ID: 0004_ops
Revises: 0003
Create Date: 2026-12-02

SMS and voice identities become channel ``phone`` (tickets.identity.PHONE_IDENTITY). Where
one number was both an SMS and a voice identity, the oldest identity wins; when the other
belonged to a different customer, that customer is merged into the winner the way
``tickets.merge_customers`` does it (identities and tickets move, the loser stays as a
tombstone pointing at the winner). Downgrade turns every phone identity into ``sms``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_ops"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    twins = conn.execute(
        sa.text(
            "SELECT address FROM customer_identities WHERE channel IN ('sms', 'voice') "
            "GROUP BY address HAVING COUNT(*) > 1"
        )
    ).scalars()
    for address in list(twins):
        rows = conn.execute(
            sa.text(
                "SELECT id, customer_id FROM customer_identities "
                "WHERE channel IN ('sms', 'voice') AND address = :address ORDER BY id"
            ),
            {"address": address},
        ).all()
        _keep_identity, keep_customer = rows[0]
        for identity_id, customer_id in rows[1:]:
            conn.execute(
                sa.text("DELETE FROM customer_identities WHERE id = :id"), {"id": identity_id}
            )
            if customer_id != keep_customer:
                _merge(conn, keep_customer, customer_id)
    conn.execute(
        sa.text(
            "UPDATE customer_identities SET channel = 'phone' WHERE channel IN ('sms', 'voice')"
        )
    )


def _merge(conn: sa.Connection, keep: int, merged: int) -> None:
    params = {"keep": keep, "merged": merged}
    conn.execute(
        sa.text("UPDATE customer_identities SET customer_id = :keep WHERE customer_id = :merged"),
        params,
    )
    conn.execute(
        sa.text("UPDATE tickets SET customer_id = :keep WHERE customer_id = :merged"), params
    )
    conn.execute(sa.text("UPDATE customers SET merged_into_id = :keep WHERE id = :merged"), params)


def downgrade() -> None:
    op.execute("UPDATE customer_identities SET channel = 'sms' WHERE channel = 'phone'")
