"""The value types as JSON (the REST API, the ticket's ``erp`` section, the panel): one
place, so every surface shows the same fields. Quantities and prices are numbers
(integers when whole), dates ISO 8601."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from erp.port import Answer, OrderStatus, Part, Reservation, Unavailable, Warranty


def number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def part_json(part: Part) -> dict[str, Any]:
    return {
        "part_number": part.part_number,
        "names": {"zh": part.name_zh, "en": part.name_en},
        "models": list(part.models),
        "stock": [
            {
                "warehouse": s.warehouse,
                "on_hand": number(s.on_hand),
                "reserved": number(s.reserved),
                "available": number(s.available),
                "projected": number(s.projected),
                "incoming_date": _iso(s.incoming_date),
            }
            for s in part.stock
        ],
        "available": number(part.available),
        "lead_time_days": part.lead_time_days,
        "price": number(part.price),
        "currency": part.currency,
    }


def order_json(order: OrderStatus) -> dict[str, Any]:
    return {
        "reference": order.reference,
        "state": order.state.value,
        "customer": order.customer,
        "lines": [
            {
                "part_number": line.part_number,
                "name": line.name,
                "ordered": number(line.ordered),
                "delivered": number(line.delivered),
            }
            for line in order.lines
        ],
        "shipments": [
            {
                "carrier": s.carrier,
                "tracking_number": s.tracking_number,
                "tracking_url": s.tracking_url,
                "shipped_at": _iso(s.shipped_at),
            }
            for s in order.shipments
        ],
        "promised_date": _iso(order.promised_date),
    }


def warranty_json(warranty: Warranty, today: date) -> dict[str, Any]:
    return {
        "serial": warranty.serial,
        "model": warranty.model,
        "customer": warranty.customer,
        "purchase_date": _iso(warranty.purchase_date),
        "warranty_end": _iso(warranty.warranty_end),
        "contract_end": _iso(warranty.contract_end),
        "under_warranty": warranty.under_warranty(today),
        "on": today.isoformat(),
    }


def reservation_json(reservation: Reservation) -> dict[str, Any]:
    return {
        "ticket": reservation.ticket,
        "reference": reservation.reference,
        "state": reservation.state,
        "lines": [
            {"part_number": x.part_number, "quantity": number(x.quantity), "warehouse": x.warehouse}
            for x in reservation.lines
        ],
    }


def provenance(answer: Answer[Any]) -> dict[str, Any]:
    return {
        "source": answer.source,
        "fetched_at": answer.fetched_at.isoformat(),
        "stale": answer.stale,
        "unavailable_since": _iso(answer.unavailable_since),
    }


def unavailable_json(gone: Unavailable) -> dict[str, Any]:
    return {
        "source": gone.source,
        "since": gone.since.isoformat(),
        "last_good_at": _iso(gone.last_good_at),
    }
