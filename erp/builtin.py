"""The builtin adapter, the embedded default: a small ERP in our own tables (filled by
``switchboard erp import`` or the demo), so a company without ERPNext or Odoo still gets
stock, order status and warranty on its tickets.

A part is found by its number or by a product model it fits: ``KFR-35GW/BpTYC1`` and the
series ``KFR-35GW`` both find the compressor listed for ``KFR-35GW/BpTYC1``. Reservations
take stock from the warehouse with the most available when none is named, and are unique
by ticket, so a retried call returns the first reservation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from erp.models import (
    ErpOrder,
    ErpOrderLine,
    ErpPart,
    ErpPartModel,
    ErpReservation,
    ErpSerial,
    ErpShipment,
    ErpStock,
    ErpWarehouse,
)
from erp.port import (
    ErpNotFound,
    ErpRejected,
    OrderLine,
    OrderState,
    OrderStatus,
    Part,
    Reservation,
    ReservationLine,
    Shipment,
    StockLevel,
    Warranty,
)
from erp.registry import AdapterContext
from tickets import Desk, Event

NO_EVENTS: tuple[Event, ...] = ()


def cents_to_price(cents: int | None) -> Decimal | None:
    return None if cents is None else Decimal(cents) / 100


def series_of(model: str) -> str:
    """``KFR-35GW/BpTYC1`` -> ``KFR-35GW``: the model family a part list names."""
    return model.split("/", 1)[0].strip()


class BuiltinErp:
    name = "builtin"

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def part_availability(self, query: str) -> Part:
        return await self.desk.read(lambda s: load_part(s, query.strip()))

    async def order_status(self, reference: str) -> OrderStatus:
        return await self.desk.read(lambda s: load_order(s, reference.strip()))

    async def warranty(self, serial: str) -> Warranty:
        return await self.desk.read(lambda s: load_warranty(s, serial.strip()))

    async def reserve_parts(self, ticket: str, lines: Sequence[ReservationLine]) -> Reservation:
        if not lines:
            raise ErpRejected("a reservation needs at least one line")

        async def work(session: AsyncSession, now: datetime) -> tuple[Reservation, Any]:
            return await reserve(session, ticket, lines, now), NO_EVENTS

        try:
            return await self.desk.write(work)
        except IntegrityError:
            # A twin call for the same ticket committed first: answer its reservation.
            found = await self.desk.read(lambda s: load_reservation(s, ticket))
            if found is None:
                raise
            return replace(found, replayed=True)

    async def release_reservation(self, ticket: str) -> Reservation | None:
        async def work(session: AsyncSession, now: datetime) -> tuple[Reservation | None, Any]:
            return await release(session, ticket, now), NO_EVENTS

        return await self.desk.write(work)

    async def close(self) -> None:
        return None


async def load_part(session: AsyncSession, query: str) -> Part:
    part = (
        await session.execute(
            select(ErpPart).where(func.upper(ErpPart.part_number) == query.upper())
        )
    ).scalar_one_or_none()
    if part is None:
        series = series_of(query).upper()
        candidates = (
            await session.execute(
                select(ErpPart, ErpPartModel.model)
                .join(ErpPartModel, ErpPartModel.part_id == ErpPart.id)
                .where(
                    or_(
                        func.upper(ErpPartModel.model) == query.upper(),
                        func.upper(ErpPartModel.model).like(series.replace("%", "") + "%"),
                    )
                )
                .order_by(ErpPart.part_number)
            )
        ).all()
        exact = [p for p, m in candidates if m.upper() == query.upper()]
        fits = [p for p, m in candidates if series_of(m).upper() == series]
        chosen = exact or fits
        if not chosen:
            raise ErpNotFound(f"no part or model {query!r}")
        part = chosen[0]
    models = (
        await session.execute(
            select(ErpPartModel.model)
            .where(ErpPartModel.part_id == part.id)
            .order_by(ErpPartModel.model)
        )
    ).scalars()
    rows = (
        await session.execute(
            select(ErpStock, ErpWarehouse.code)
            .join(ErpWarehouse, ErpWarehouse.id == ErpStock.warehouse_id)
            .where(ErpStock.part_id == part.id)
            .order_by(ErpWarehouse.code)
        )
    ).all()
    stock = tuple(
        StockLevel(
            warehouse=code,
            on_hand=Decimal(s.on_hand),
            reserved=Decimal(s.reserved),
            available=Decimal(max(0, s.on_hand - s.reserved)),
            projected=Decimal(s.on_hand - s.reserved + s.incoming),
            incoming_date=s.incoming_date if s.incoming else None,
        )
        for s, code in rows
    )
    return Part(
        part_number=part.part_number,
        name_zh=part.name_zh,
        name_en=part.name_en,
        models=tuple(models),
        stock=stock,
        lead_time_days=part.lead_time_days,
        price=cents_to_price(part.price_cents),
        currency=part.currency,
    )


async def load_order(session: AsyncSession, reference: str) -> OrderStatus:
    order = (
        await session.execute(
            select(ErpOrder).where(func.upper(ErpOrder.reference) == reference.upper())
        )
    ).scalar_one_or_none()
    if order is None:
        raise ErpNotFound(f"no order {reference!r}")
    lines = (
        await session.execute(
            select(ErpOrderLine).where(ErpOrderLine.order_id == order.id).order_by(ErpOrderLine.id)
        )
    ).scalars()
    shipments = (
        await session.execute(
            select(ErpShipment).where(ErpShipment.order_id == order.id).order_by(ErpShipment.id)
        )
    ).scalars()
    return OrderStatus(
        reference=order.reference,
        state=OrderState(order.state),
        lines=tuple(
            OrderLine(line.part_number, line.name, Decimal(line.ordered), Decimal(line.delivered))
            for line in lines
        ),
        shipments=tuple(
            Shipment(s.carrier, s.tracking_number, s.tracking_url, s.shipped_at) for s in shipments
        ),
        promised_date=order.promised_date,
        customer=order.customer,
    )


async def load_warranty(session: AsyncSession, serial: str) -> Warranty:
    row = (
        await session.execute(
            select(ErpSerial).where(func.upper(ErpSerial.serial) == serial.upper())
        )
    ).scalar_one_or_none()
    if row is None:
        raise ErpNotFound(f"no serial number {serial!r}")
    return Warranty(
        serial=row.serial,
        model=row.model,
        customer=row.customer,
        purchase_date=row.purchase_date,
        warranty_end=row.warranty_end,
        contract_end=row.contract_end,
    )


def _reservation(row: ErpReservation) -> Reservation:
    return Reservation(
        ticket=row.ticket,
        reference=f"RSV-{row.id}",
        state=row.state,
        lines=tuple(
            ReservationLine(str(x["part_number"]), Decimal(str(x["quantity"])), x.get("warehouse"))
            for x in row.lines
        ),
    )


async def load_reservation(session: AsyncSession, ticket: str) -> Reservation | None:
    row = (
        await session.execute(select(ErpReservation).where(ErpReservation.ticket == ticket))
    ).scalar_one_or_none()
    return None if row is None else _reservation(row)


async def _stock_rows(session: AsyncSession, part_number: str) -> list[tuple[ErpStock, str]]:
    rows = (
        await session.execute(
            select(ErpStock, ErpWarehouse.code)
            .join(ErpWarehouse, ErpWarehouse.id == ErpStock.warehouse_id)
            .join(ErpPart, ErpPart.id == ErpStock.part_id)
            .where(func.upper(ErpPart.part_number) == part_number.upper())
            .with_for_update()
        )
    ).all()
    return [(s, code) for s, code in rows]


async def reserve(
    session: AsyncSession, ticket: str, lines: Sequence[ReservationLine], now: datetime
) -> Reservation:
    row = (
        await session.execute(
            select(ErpReservation).where(ErpReservation.ticket == ticket).with_for_update()
        )
    ).scalar_one_or_none()
    if row is not None and row.state == "reserved":
        return replace(_reservation(row), replayed=True)
    taken: list[dict[str, Any]] = []
    for line in lines:
        quantity = int(line.quantity)
        if quantity < 1 or quantity != line.quantity:
            raise ErpRejected(f"{line.part_number}: the quantity must be a whole number above 0")
        rows = await _stock_rows(session, line.part_number)
        if not rows:
            raise ErpNotFound(f"no part {line.part_number!r}")
        if line.warehouse:
            rows = [(s, c) for s, c in rows if c.upper() == line.warehouse.upper()]
            if not rows:
                raise ErpRejected(f"{line.part_number}: no stock kept in {line.warehouse!r}")
        stock, code = max(rows, key=lambda r: r[0].on_hand - r[0].reserved)
        if stock.on_hand - stock.reserved < quantity:
            raise ErpRejected(
                f"{line.part_number}: only {max(0, stock.on_hand - stock.reserved)} available"
                f" in {code}"
            )
        stock.reserved += quantity
        taken.append({"part_number": line.part_number, "quantity": quantity, "warehouse": code})
    if row is None:
        row = ErpReservation(ticket=ticket, state="reserved", lines=taken, created_at=now)
        session.add(row)
    else:
        row.state, row.lines, row.created_at, row.released_at = "reserved", taken, now, None
    await session.flush()
    return _reservation(row)


async def release(session: AsyncSession, ticket: str, now: datetime) -> Reservation | None:
    row = (
        await session.execute(
            select(ErpReservation).where(ErpReservation.ticket == ticket).with_for_update()
        )
    ).scalar_one_or_none()
    if row is None or row.state != "reserved":
        return None
    for line in row.lines:
        for stock, code in await _stock_rows(session, str(line["part_number"])):
            if code == line.get("warehouse"):
                stock.reserved = max(0, stock.reserved - int(line["quantity"]))
    row.state, row.released_at = "released", now
    await session.flush()
    return _reservation(row)


def make(context: AdapterContext) -> BuiltinErp:
    """The entry point (``switchboard.erp: builtin``)."""
    return BuiltinErp(context.desk)
