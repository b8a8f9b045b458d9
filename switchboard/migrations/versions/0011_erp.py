"""erp: the builtin adapter's tables and each ticket's ERP findings

Revision ID: 0011_erp
Revises: 0010_telegram
Create Date: 2026-12-04

The five channel/room migrations were reserved in one linear chain up front so the rooms
built side by side never need re-chaining when they land. This one adds parts, compatible
models, warehouses, stock, orders (lines, shipments), serial numbers, reservations, and
``erp_ticket_findings`` (what the background lookups found for a ticket).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_erp"
down_revision = "0010_telegram"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erp_orders",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reference", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("customer", sa.String(length=200), nullable=True),
        sa.Column("promised_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_orders")),
        sa.UniqueConstraint("reference", name=op.f("uq_erp_orders_reference")),
    )
    op.create_table(
        "erp_parts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("part_number", sa.String(length=80), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=True),
        sa.Column("price_cents", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_parts")),
        sa.UniqueConstraint("part_number", name=op.f("uq_erp_parts_part_number")),
    )
    op.create_table(
        "erp_reservations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ticket", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_reservations")),
        sa.UniqueConstraint("ticket", name=op.f("uq_erp_reservations_ticket")),
    )
    op.create_table(
        "erp_serials",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("serial", sa.String(length=80), nullable=False),
        sa.Column("model", sa.String(length=80), nullable=False),
        sa.Column("customer", sa.String(length=200), nullable=True),
        sa.Column("purchase_date", sa.Date(), nullable=True),
        sa.Column("warranty_end", sa.Date(), nullable=True),
        sa.Column("contract_end", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_serials")),
        sa.UniqueConstraint("serial", name=op.f("uq_erp_serials_serial")),
    )
    op.create_table(
        "erp_warehouses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_warehouses")),
        sa.UniqueConstraint("code", name=op.f("uq_erp_warehouses_code")),
    )
    op.create_table(
        "erp_order_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("part_number", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ordered", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["erp_orders.id"],
            name=op.f("fk_erp_order_lines_order_id_erp_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_order_lines")),
    )
    op.create_index(
        op.f("ix_erp_order_lines_order_id"), "erp_order_lines", ["order_id"], unique=False
    )
    op.create_table(
        "erp_part_models",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("part_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("model", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["part_id"],
            ["erp_parts.id"],
            name=op.f("fk_erp_part_models_part_id_erp_parts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_part_models")),
        sa.UniqueConstraint("part_id", "model", name=op.f("uq_erp_part_models_part_id")),
    )
    op.create_index(op.f("ix_erp_part_models_model"), "erp_part_models", ["model"], unique=False)
    op.create_table(
        "erp_shipments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("carrier", sa.String(length=80), nullable=True),
        sa.Column("tracking_number", sa.String(length=80), nullable=True),
        sa.Column("tracking_url", sa.String(length=500), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["erp_orders.id"],
            name=op.f("fk_erp_shipments_order_id_erp_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_shipments")),
    )
    op.create_index(op.f("ix_erp_shipments_order_id"), "erp_shipments", ["order_id"], unique=False)
    op.create_table(
        "erp_stock",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("part_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "warehouse_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("incoming", sa.Integer(), nullable=False),
        sa.Column("incoming_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["part_id"],
            ["erp_parts.id"],
            name=op.f("fk_erp_stock_part_id_erp_parts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["erp_warehouses.id"],
            name=op.f("fk_erp_stock_warehouse_id_erp_warehouses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_stock")),
        sa.UniqueConstraint("part_id", "warehouse_id", name=op.f("uq_erp_stock_part_id")),
    )
    op.create_table(
        "erp_ticket_findings",
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_erp_ticket_findings_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_erp_ticket_findings")),
    )


def downgrade() -> None:
    op.drop_table("erp_ticket_findings")
    op.drop_table("erp_stock")
    op.drop_index(op.f("ix_erp_shipments_order_id"), table_name="erp_shipments")
    op.drop_table("erp_shipments")
    op.drop_index(op.f("ix_erp_part_models_model"), table_name="erp_part_models")
    op.drop_table("erp_part_models")
    op.drop_index(op.f("ix_erp_order_lines_order_id"), table_name="erp_order_lines")
    op.drop_table("erp_order_lines")
    op.drop_table("erp_warehouses")
    op.drop_table("erp_serials")
    op.drop_table("erp_reservations")
    op.drop_table("erp_parts")
    op.drop_table("erp_orders")
