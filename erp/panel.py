"""The ERP panel on the ticket page (registered through agent_ui's panel seam by the
composition root): detected orders with state and tracking link, serials with warranty
state, parts and models with stock per warehouse and a "reserve parts" form, a lookup
box, and "ERP unavailable since 10:42" while the ERP cannot answer.

The template autoescapes everything; tracking links are shown only for http(s) addresses
(an ERP record is outside data). Strings go through the page's gettext (``erp.po``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2

from erp.service import ErpService
from tickets import StaffUser, parse_number

TEMPLATE = Path(__file__).with_name("panel.html")
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE.parent),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def _(message: str) -> str:
    """Marks a message for extraction; the page's gettext translates it."""
    return message


PANEL_TITLE = _("Parts, orders and warranty")
KIND_NAMES = {"order": _("Order"), "serial": _("Serial"), "part": _("Part"), "model": _("Model")}
STATE_NAMES = {
    "ordered": _("Ordered"),
    "partially_shipped": _("Partially shipped"),
    "shipped": _("Shipped"),
    "delivered": _("Delivered"),
    "cancelled": _("Cancelled"),
}


class PanelContextLike(Protocol):
    """agent_ui's ``PanelContext`` as this room sees it (it may not import agent_ui)."""

    @property
    def ticket(self) -> Mapping[str, Any]: ...
    @property
    def staff(self) -> StaffUser: ...
    @property
    def language(self) -> str: ...
    @property
    def gettext(self) -> Callable[[str], str]: ...


def safe_url(url: str) -> bool:
    return url.startswith(("https://", "http://"))


class ErpPanel:
    def __init__(self, service: ErpService, time_zone: str = "UTC") -> None:
        self.service = service
        self.time_zone = time_zone

    def _zone(self, staff: StaffUser) -> ZoneInfo:
        for name in (staff.time_zone, self.time_zone, "UTC"):
            if name:
                try:
                    return ZoneInfo(name)
                except (ZoneInfoNotFoundError, ValueError):
                    continue
        return ZoneInfo("UTC")

    def _render(
        self,
        context: PanelContextLike,
        findings: Mapping[str, Any],
        *,
        lookup_only: bool = False,
    ) -> str:
        tr = context.gettext
        zone = self._zone(context.staff)
        today = datetime.now(zone).date()

        def when(iso: str | None) -> str:
            if not iso:
                return "?"
            at = datetime.fromisoformat(iso).astimezone(zone)
            return at.strftime("%H:%M") if at.date() == today else at.strftime("%Y-%m-%d %H:%M")

        def part_name(part: Mapping[str, Any]) -> str:
            names = part.get("names") or {}
            first, second = ("zh", "en") if context.language.startswith("zh") else ("en", "zh")
            return str(names.get(first) or names.get(second) or "")

        def reservation_text(reservation: Mapping[str, Any]) -> str:
            return "; ".join(
                f"{x['quantity']} × {x['part_number']}"
                + (f" ({x['warehouse']})" if x.get("warehouse") else "")
                for x in reservation.get("lines", [])
            )

        number = str(context.ticket.get("number", ""))
        closed = context.ticket.get("status") == "closed"
        return _ENV.get_template(TEMPLATE.name).render(
            findings=findings,
            _=tr,
            when=when,
            kind_name=lambda k: tr(KIND_NAMES.get(str(k)) or str(k)),
            state_name=lambda s: tr(STATE_NAMES.get(str(s)) or str(s)),
            part_name=part_name,
            reservation_text=reservation_text,
            safe_url=safe_url,
            base=f"/agent/tickets/{number}",
            may_reserve=not closed and not lookup_only and not findings.get("reservation"),
            reservation=findings.get("reservation"),
            lookup_only=lookup_only,
        )

    async def render(self, context: PanelContextLike) -> str | None:
        ticket_id = parse_number(str(context.ticket.get("number", "")))
        if ticket_id is None:
            return None
        findings = await self.service.findings(ticket_id, refresh=True)
        return self._render(context, findings)

    async def lookup(self, context: PanelContextLike, kind: str, ref: str) -> str:
        """The lookup box's answer, in the panel's markup."""
        item = await self.service.item(kind, ref)
        health = await self.service.health()
        findings = {
            "source": self.service.source,
            "available": item["status"] != "unavailable",
            "unavailable_since": item.get("since"),
            "last_good_at": item.get("last_good_at")
            or (health.last_good_at.isoformat() if health.last_good_at else None),
            "items": [item],
        }
        return self._render(context, findings, lookup_only=True)
