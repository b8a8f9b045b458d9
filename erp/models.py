"""Tables of the ERP room: the builtin adapter's own small ERP (parts, compatible models,
warehouses, stock, orders with lines and shipments, serial numbers, reservations) and
what the background lookups found for each ticket (``erp_ticket_findings``, the JSON
``erp`` section the panel and the API show).

Quantities are integers (spare parts are counted, not weighed) and prices integer cents,
so both databases store them exactly (SQLite has no decimal type)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tickets import Base

Id = BigInteger().with_variant(Integer(), "sqlite")


class ErpWarehouse(Base):
    __tablename__ = "erp_warehouses"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    name_en: Mapped[str] = mapped_column(String(200), default="")


class ErpPart(Base):
    __tablename__ = "erp_parts"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    part_number: Mapped[str] = mapped_column(String(80), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    name_en: Mapped[str] = mapped_column(String(200), default="")
    lead_time_days: Mapped[int | None] = mapped_column(Integer)
    price_cents: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))


class ErpPartModel(Base):
    """A product model a part fits (``CP-KFR35-01`` fits ``KFR-35GW/BpTYC1``)."""

    __tablename__ = "erp_part_models"
    __table_args__ = (UniqueConstraint("part_id", "model"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("erp_parts.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(80), index=True)


class ErpStock(Base):
    __tablename__ = "erp_stock"
    __table_args__ = (UniqueConstraint("part_id", "warehouse_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("erp_parts.id", ondelete="CASCADE"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("erp_warehouses.id", ondelete="CASCADE"))
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    incoming: Mapped[int] = mapped_column(default=0)
    incoming_date: Mapped[date | None] = mapped_column(Date)


class ErpOrder(Base):
    __tablename__ = "erp_orders"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    reference: Mapped[str] = mapped_column(String(80), unique=True)
    state: Mapped[str] = mapped_column(String(20))
    customer: Mapped[str | None] = mapped_column(String(200))
    promised_date: Mapped[date | None] = mapped_column(Date)


class ErpOrderLine(Base):
    __tablename__ = "erp_order_lines"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("erp_orders.id", ondelete="CASCADE"), index=True
    )
    part_number: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200), default="")
    ordered: Mapped[int] = mapped_column(default=0)
    delivered: Mapped[int] = mapped_column(default=0)


class ErpShipment(Base):
    __tablename__ = "erp_shipments"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("erp_orders.id", ondelete="CASCADE"), index=True
    )
    carrier: Mapped[str | None] = mapped_column(String(80))
    tracking_number: Mapped[str | None] = mapped_column(String(80))
    tracking_url: Mapped[str | None] = mapped_column(String(500))
    shipped_at: Mapped[datetime | None]


class ErpSerial(Base):
    __tablename__ = "erp_serials"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    serial: Mapped[str] = mapped_column(String(80), unique=True)
    model: Mapped[str] = mapped_column(String(80))
    customer: Mapped[str | None] = mapped_column(String(200))
    purchase_date: Mapped[date | None] = mapped_column(Date)
    warranty_end: Mapped[date | None] = mapped_column(Date)
    contract_end: Mapped[date | None] = mapped_column(Date)


class ErpReservation(Base):
    """Parts held for one ticket: ``ticket`` is unique, so a retried reservation finds
    the first one instead of holding the parts twice."""

    __tablename__ = "erp_reservations"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket: Mapped[str] = mapped_column(String(40), unique=True)
    state: Mapped[str] = mapped_column(String(20))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    released_at: Mapped[datetime | None]


class ErpTicketFindings(Base):
    """What the background lookups found in a ticket's messages: the ``erp`` section."""

    __tablename__ = "erp_ticket_findings"
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]
