"""REST for the ERP (``/api/v1/erp/...``): parts with stock per warehouse, order status,
warranty, a ticket's ERP findings, and parts reserved for a ticket.

Every answer carries ``source`` (the adapter) and ``fetched_at``; a cached answer shown
while the ERP is down says ``stale: true`` and ``unavailable_since``. An unknown reference
is a 404; "the ERP is down and nothing is cached" is a 503 with the code
``erp_unavailable``, ``Retry-After`` and when the ERP last answered. A reservation is
made once per ticket (the ticket number is its idempotency reference, so a retry answers
the same reservation) and noted on the ticket's timeline for the team."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from agent_ui.context import DESK, staff_of
from agent_ui.errors import ApiError
from agent_ui.http import ApiRoute, dumps, only_fields, op, read_json
from erp.port import (
    Answer,
    ErpNotFound,
    ErpRejected,
    Reservation,
    ReservationLine,
    Unavailable,
    Warranty,
)
from erp.service import ErpService
from erp.views import provenance, reservation_json, unavailable_json, warranty_json
from tickets import Event, StaffUser

ERP = web.AppKey("erp", ErpService)
MAX_REF = 80
MAX_LINES = 20


def _service(request: web.Request) -> ErpService:
    return request.app[ERP]


def _ref(request: web.Request, name: str, what: str) -> str:
    value = request.match_info[name].strip()
    if not value or len(value) > MAX_REF:
        raise ApiError(404, "not_found", f"no {what} {value[:MAX_REF]!r}")
    return value


def unavailable_error(gone: Unavailable, policy_reset_s: float) -> web.Response:
    since = gone.since.isoformat()
    last = gone.last_good_at.isoformat() if gone.last_good_at else "never"
    body = {
        "error": {
            "code": "erp_unavailable",
            "message": f"the ERP ({gone.source}) is unavailable since {since}; "
            f"last good answer: {last}",
            **unavailable_json(gone),
        }
    }
    return web.json_response(
        body,
        status=503,
        headers={"Retry-After": str(max(1, math.ceil(policy_reset_s)))},
        dumps=dumps,
    )


async def _lookup(
    request: web.Request, kind: str, name: str, what: str, *, on: date | None = None
) -> web.Response:
    service = _service(request)
    ref = _ref(request, name, what)
    call = {"part": service.part, "order": service.order, "warranty": service.warranty}[kind]
    try:
        answer = await call(ref)
    except ErpNotFound as err:
        raise ApiError(404, "not_found", str(err)) from err
    except ErpRejected as err:
        raise ApiError(404, "not_found", str(err)) from err
    if isinstance(answer, Unavailable):
        return unavailable_error(answer, service.erp.policy.breaker_reset_s)
    value = answer.value
    shown = (
        warranty_json(value, on) if on and isinstance(value, Warranty) else service.as_json(value)
    )
    return web.json_response({**shown, **provenance(answer)}, dumps=dumps)


async def get_part(request: web.Request) -> web.Response:
    return await _lookup(request, "part", "part", "part or model")


async def get_order(request: web.Request) -> web.Response:
    return await _lookup(request, "order", "reference", "order")


async def get_warranty(request: web.Request) -> web.Response:
    """``?on=YYYY-MM-DD`` judges ``under_warranty`` for that day (default: today)."""
    raw = request.query.get("on")
    on = None
    if raw is not None:
        try:
            on = date.fromisoformat(raw)
        except ValueError as err:
            raise ApiError(400, "invalid", "on must be a date (YYYY-MM-DD)") from err
    return await _lookup(request, "warranty", "serial", "serial number", on=on)


async def get_status(request: web.Request) -> web.Response:
    health = await _service(request).health()
    return web.json_response(
        {
            "source": health.source,
            "breaker": health.state,
            "available": health.down_since is None and health.state != "opened",
            "unavailable_since": health.down_since.isoformat() if health.down_since else None,
            "last_good_at": health.last_good_at.isoformat() if health.last_good_at else None,
        }
    )


async def _visible_ticket(request: web.Request, staff: StaffUser) -> dict[str, Any]:
    number = request.match_info["number"]
    return await request.app[DESK].read(lambda s: tickets.ticket_detail(s, staff, number))


async def get_ticket_findings(request: web.Request) -> web.Response:
    staff = staff_of(request)
    ticket = await _visible_ticket(request, staff)
    ticket_id = tickets.parse_number(ticket["number"])
    assert ticket_id is not None
    findings = await _service(request).findings(ticket_id, refresh=True)
    return web.json_response({"ticket": ticket["number"], **findings}, dumps=dumps)


async def erp_section(request: web.Request, number: str) -> dict[str, Any] | None:
    """The ticket's ``erp`` section for its JSON (the findings as stored: no ERP call)."""
    service = request.app.get(ERP)
    ticket_id = tickets.parse_number(number)
    if service is None or ticket_id is None:
        return None
    found = await service.findings(ticket_id)
    return {k: found[k] for k in ("source", "available", "items", "reservation")}


def _lines(body: dict[str, Any]) -> list[ReservationLine]:
    raw = body.get("lines")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_LINES:
        raise ApiError(400, "invalid", f"lines must be a list of 1 to {MAX_LINES} parts")
    lines = []
    for item in raw:
        if not isinstance(item, dict):
            raise ApiError(400, "invalid", "each line must be an object")
        only_fields(item, {"part_number", "quantity", "warehouse"})
        part, warehouse, quantity = (
            item.get("part_number"),
            item.get("warehouse"),
            item.get("quantity", 1),
        )
        if not isinstance(part, str) or not 1 <= len(part.strip()) <= MAX_REF:
            raise ApiError(400, "invalid", "part_number must be a part number")
        if warehouse is not None and (not isinstance(warehouse, str) or len(warehouse) > MAX_REF):
            raise ApiError(400, "invalid", "warehouse must be a warehouse code")
        if (
            isinstance(quantity, bool)
            or not isinstance(quantity, int)
            or not 1 <= quantity <= 10_000
        ):
            raise ApiError(400, "invalid", "quantity must be a whole number from 1 to 10000")
        try:
            lines.append(ReservationLine(part.strip(), Decimal(quantity), warehouse or None))
        except InvalidOperation as err:  # pragma: no cover - ints always convert
            raise ApiError(400, "invalid", "quantity must be a number") from err
    return lines


def _note_text(reservation: Reservation, released: bool) -> str:
    parts = "; ".join(
        f"{line.quantity} × {line.part_number}" + (f" ({line.warehouse})" if line.warehouse else "")
        for line in reservation.lines
    )
    verb = "Released reservation" if released else "Reserved"
    return f"{verb} {reservation.reference}: {parts}"


async def _note(request: web.Request, staff: StaffUser, number: str, text: str) -> None:
    async def work(session: AsyncSession, now: datetime) -> tuple[None, tuple[Event, ...]]:
        written = await tickets.add_note(session, staff, number, text, now)
        return None, written.events

    await request.app[DESK].write(work)


async def reserve_on_ticket(
    request: web.Request, staff: StaffUser, number: str, lines: list[ReservationLine]
) -> Answer[Reservation] | Unavailable:
    """Reserves and notes it on the ticket (once: a replayed reservation is not noted
    again). Raises ``ErpNotFound`` / ``ErpRejected``."""
    answer = await _service(request).reserve(number, lines)
    if isinstance(answer, Answer) and not answer.value.replayed:
        await _note(request, staff, number, _note_text(answer.value, released=False))
    return answer


async def release_on_ticket(
    request: web.Request, staff: StaffUser, number: str
) -> Answer[Reservation | None] | Unavailable:
    answer = await _service(request).release(number)
    if isinstance(answer, Answer) and answer.value is not None:
        await _note(request, staff, number, _note_text(answer.value, released=True))
    return answer


def _writable(ticket: dict[str, Any]) -> None:
    if ticket["status"] == "closed":
        raise ApiError(409, "conflict", f"ticket {ticket['number']} is closed")


async def post_reservation(request: web.Request) -> web.Response:
    staff = staff_of(request)
    body = await read_json(request)
    only_fields(body, {"lines"})
    lines = _lines(body)
    ticket = await _visible_ticket(request, staff)
    _writable(ticket)
    service = _service(request)
    try:
        answer = await reserve_on_ticket(request, staff, ticket["number"], lines)
    except ErpNotFound as err:
        raise ApiError(404, "not_found", str(err)) from err
    except ErpRejected as err:
        raise ApiError(409, "erp_rejected", str(err)) from err
    if isinstance(answer, Unavailable):
        return unavailable_error(answer, service.erp.policy.breaker_reset_s)
    return web.json_response(
        {**reservation_json(answer.value), **provenance(answer)}, status=201, dumps=dumps
    )


async def delete_reservation(request: web.Request) -> web.Response:
    staff = staff_of(request)
    ticket = await _visible_ticket(request, staff)
    _writable(ticket)
    service = _service(request)
    try:
        answer = await release_on_ticket(request, staff, ticket["number"])
    except (ErpNotFound, ErpRejected) as err:
        raise ApiError(404, "not_found", str(err)) from err
    if isinstance(answer, Unavailable):
        return unavailable_error(answer, service.erp.policy.breaker_reset_s)
    released: Answer[Reservation | None] = answer
    if released.value is None:
        raise ApiError(404, "not_found", f"ticket {ticket['number']} has no reservation")
    return web.json_response(
        {**reservation_json(released.value), **provenance(released)}, dumps=dumps
    )


ERP_ROUTES: list[ApiRoute] = [
    ApiRoute(
        "GET",
        "/api/v1/erp/status",
        get_status,
        op("Which ERP answers, and whether it is reachable", response="ErpStatus"),
    ),
    ApiRoute(
        "GET",
        "/api/v1/erp/parts/{part}",
        get_part,
        op(
            "A spare part (by part number or product model) with stock per warehouse",
            response="ErpPart",
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v1/erp/orders/{reference}",
        get_order,
        op("An order's state, lines, shipments and tracking", response="ErpOrder"),
    ),
    ApiRoute(
        "GET",
        "/api/v1/erp/warranty/{serial}",
        get_warranty,
        op(
            "Warranty and service contract of a serial number (under_warranty on a day)",
            params=("on",),
            response="ErpWarranty",
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v1/erp/tickets/{number}",
        get_ticket_findings,
        op(
            "What the ERP said about the orders, serials, parts and models in a ticket",
            response="ErpFindings",
        ),
    ),
    ApiRoute(
        "POST",
        "/api/v1/erp/tickets/{number}/reservation",
        post_reservation,
        op(
            "Reserve spare parts for a ticket (once: a retry answers the same reservation)",
            ok="201",
            body="ErpReservationRequest",
            response="ErpReservation",
        ),
    ),
    ApiRoute(
        "DELETE",
        "/api/v1/erp/tickets/{number}/reservation",
        delete_reservation,
        op("Release the parts reserved for a ticket", response="ErpReservation"),
    ),
]
