"""The ERP panel's own requests from the ticket page (htmx): the lookup box, "reserve
parts" and "release". Each loads the ticket through the services first, so a ticket the
user may not see is the 404 page; a refusal answers its 4xx with the reason as text,
which ``ticket.js`` shows inline, and a change triggers ``ticket-changed`` so the side
panel and the timeline (with the reservation's note) reload."""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from agent_ui.context import DESK
from agent_ui.erp_api import ERP, MAX_REF, release_on_ticket, reserve_on_ticket
from agent_ui.web.config import WEB_CONFIG, page_user
from agent_ui.web.i18n import gettext_ as _
from agent_ui.web.ticket import data
from agent_ui.web.ticket.view import panel_context
from erp.panel import ErpPanel
from erp.port import ErpNotFound, ErpRejected, ReservationLine, Unavailable
from tickets import StaffUser, TicketStatus

KINDS = {"part", "order", "serial"}


async def _ticket(request: web.Request, staff: StaffUser) -> dict[str, object]:
    number = request.match_info["number"]
    return await request.app[DESK].read(lambda s: data.ticket(s, staff, number))


def _panel(request: web.Request) -> ErpPanel:
    return ErpPanel(request.app[ERP], request.app[WEB_CONFIG].time_zone)


def _text(status: int, message: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=message, headers=headers or None)


def _unavailable(gone: Unavailable) -> web.Response:
    return _text(503, _("ERP unavailable; try again in a minute."))


async def lookup(request: web.Request) -> web.Response:
    staff = page_user(request)
    ticket = await _ticket(request, staff)
    kind = request.query.get("kind", "part")
    ref = request.query.get("q", "").strip()
    if kind not in KINDS or not ref or len(ref) > MAX_REF:
        return _text(400, _("Type a part number, model, order or serial number."))
    html = await _panel(request).lookup(
        panel_context(request, staff, ticket), "serial" if kind == "serial" else kind, ref
    )
    return web.Response(text=html, content_type="text/html")


def _open(ticket: dict[str, object]) -> web.Response | None:
    if ticket["status"] == TicketStatus.CLOSED.value:
        return _text(409, _("This ticket is closed."))
    return None


async def reserve(request: web.Request) -> web.Response:
    staff = page_user(request)
    ticket = await _ticket(request, staff)
    if (refused := _open(ticket)) is not None:
        return refused
    form = await request.post()
    part = str(form.get("part_number", "")).strip()
    warehouse = str(form.get("warehouse", "")).strip() or None
    try:
        quantity = int(str(form.get("quantity", "1")))
    except ValueError:
        quantity = 0
    if not part or len(part) > MAX_REF or not 1 <= quantity <= 10_000:
        return _text(400, _("Choose a part and a quantity from 1 to 10000."))
    line = ReservationLine(part, Decimal(quantity), warehouse)
    try:
        answer = await reserve_on_ticket(request, staff, str(ticket["number"]), [line])
    except (ErpNotFound, ErpRejected) as err:
        return _text(409, str(err))
    if isinstance(answer, Unavailable):
        return _unavailable(answer)
    if answer.value.replayed and {x.part_number for x in answer.value.lines} != {part}:
        return _text(
            409,
            _("This ticket already holds reservation %(reference)s; release it first.")
            % {"reference": answer.value.reference},
        )
    return _text(
        200,
        _("Reserved as %(reference)s.") % {"reference": answer.value.reference},
        **{"HX-Trigger": "ticket-changed"},
    )


async def release(request: web.Request) -> web.Response:
    staff = page_user(request)
    ticket = await _ticket(request, staff)
    if (refused := _open(ticket)) is not None:
        return refused
    try:
        answer = await release_on_ticket(request, staff, str(ticket["number"]))
    except (ErpNotFound, ErpRejected) as err:
        return _text(409, str(err))
    if isinstance(answer, Unavailable):
        return _unavailable(answer)
    if answer.value is None:
        return _text(404, _("Nothing is reserved for this ticket."))
    return _text(200, _("Reservation released."), **{"HX-Trigger": "ticket-changed"})


ROUTES = [
    web.get("/agent/tickets/{number}/erp/lookup", lookup),
    web.post("/agent/tickets/{number}/erp/reserve", reserve),
    web.post("/agent/tickets/{number}/erp/release", release),
]
