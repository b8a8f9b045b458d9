"""The ERP room's service: lookups for the API and the panel, the background consumer
that reads customers' messages for order numbers, serials, parts and models, and the
ticket's ``erp`` section where what it found is kept.

The consumer is a durable consumer group (``erp``) on the bus: it runs after ingest has
committed, so ingest never waits on the ERP, and a slow or dead ERP only makes the
findings say "unavailable since …" (the resilience layer answers at once while the
breaker is open). Findings are looked up again (mostly from the cache) when the panel or
the API shows them, within a short budget, so stock and states are current."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from erp.detect import Detector, Found
from erp.events import ErpFindingsUpdated
from erp.models import ErpTicketFindings
from erp.port import (
    Answer,
    ErpNotFound,
    ErpRejected,
    OrderStatus,
    Part,
    Reservation,
    ReservationLine,
    Unavailable,
    Warranty,
)
from erp.resilience import Health, ResilientErp
from erp.selfservice import SelfService
from erp.views import (
    order_json,
    part_json,
    provenance,
    reservation_json,
    unavailable_json,
    warranty_json,
)
from tickets import Desk, Event, MessageReceived, message_detail, parse_number

log = logging.getLogger(__name__)

KIND_ORDER = ("order", "serial", "part", "model")
REFRESH_BUDGET_S = 1.0


class ErpService:
    def __init__(
        self,
        erp: ResilientErp,
        desk: Desk,
        detector: Detector | None = None,
        *,
        detection: bool = True,
        self_service: SelfService | None = None,
    ) -> None:
        self.erp = erp
        self.desk = desk
        self.detector = detector or Detector.with_overrides()
        self.detection = detection
        self.self_service = self_service
        self._running = False

    @property
    def source(self) -> str:
        return self.erp.source

    def today(self) -> date:
        return self.erp.clock().date()

    # -- lookups ---------------------------------------------------------------------

    async def part(self, query: str) -> Answer[Part] | Unavailable:
        return await self.erp.part(query)

    async def order(self, reference: str) -> Answer[OrderStatus] | Unavailable:
        return await self.erp.order(reference)

    async def warranty(self, serial: str) -> Answer[Warranty] | Unavailable:
        return await self.erp.warranty(serial)

    async def health(self) -> Health:
        return await self.erp.health()

    async def reserve(
        self, ticket: str, lines: Sequence[ReservationLine]
    ) -> Answer[Reservation] | Unavailable:
        """Reserves once per ticket, also when two processes are asked at once: the
        adapter's "is there one already?" and "make one" run under a lock on the ticket
        held across processes (``Desk.exclusive``), so the second finds the first's."""
        async with self.desk.exclusive(f"erp-reservation:{ticket}"):
            answer = await self.erp.reserve(ticket, lines)
        if isinstance(answer, Answer):
            await self._keep_reservation(ticket, reservation_json(answer.value))
        return answer

    async def release(self, ticket: str) -> Answer[Reservation | None] | Unavailable:
        async with self.desk.exclusive(f"erp-reservation:{ticket}"):
            answer = await self.erp.release(ticket)
        if isinstance(answer, Answer) and answer.value is not None:
            await self._keep_reservation(ticket, None)
        return answer

    async def _keep_reservation(self, number: str, data: dict[str, Any] | None) -> None:
        """The ticket's current reservation, shown on its panel."""
        ticket_id = parse_number(number)
        if ticket_id is None:
            return

        async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            row = await _findings_row(session, ticket_id, now)
            row.data = {**row.data, "reservation": data}
            row.updated_at = now
            return None, [ErpFindingsUpdated(ticket_id, number, found=0, unavailable=0)]

        await self.desk.write(work)

    async def item(self, kind: str, ref: str) -> dict[str, Any]:
        """One finding: what the ERP says about ``ref`` now, as the ``erp`` section keeps it."""
        call: Callable[[str], Awaitable[Answer[Any] | Unavailable]]
        call = {
            "order": self.erp.order,
            "serial": self.erp.warranty,
            "part": self.erp.part,
            "model": self.erp.model_parts,
        }[kind]
        entry: dict[str, Any] = {"kind": kind, "ref": ref}
        try:
            answer = await call(ref)
        except ErpNotFound:
            return {**entry, "status": "not_found", "data": None}
        except ErpRejected as err:
            return {**entry, "status": "rejected", "data": None, "reason": str(err)}
        if isinstance(answer, Unavailable):
            return {**entry, "status": "unavailable", "data": None, **unavailable_json(answer)}
        return {
            **entry,
            "status": "stale" if answer.stale else "ok",
            "data": self.as_json(answer.value),
            **provenance(answer),
        }

    def as_json(self, value: Any) -> dict[str, Any]:
        if isinstance(value, Part):
            return part_json(value)
        if isinstance(value, OrderStatus):
            return order_json(value)
        if isinstance(value, Warranty):
            return warranty_json(value, self.today())
        if isinstance(value, Reservation):
            return reservation_json(value)
        if isinstance(value, tuple) and all(isinstance(p, Part) for p in value):
            return {"parts": [part_json(p) for p in value]}
        raise TypeError(type(value).__name__)

    # -- the quiet sweep (self-service) ----------------------------------------------

    async def run(self, quiet: timedelta | None, every_s: float = 60.0) -> None:
        """Solves self-served tickets whose customer went quiet; runs in the workers."""
        self._running = True
        if self.self_service is None or not quiet:
            return
        while self._running:
            try:
                await self.self_service.solve_quiet(quiet, self.erp.clock())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the self-service quiet sweep failed; trying again later")
            await asyncio.sleep(every_s)

    def stop(self) -> None:
        self._running = False

    # -- the background consumer -----------------------------------------------------

    async def on_event(self, event: Event) -> None:
        if self.detection and isinstance(event, MessageReceived):
            await self.examine(event.ticket_id, event.number, event.message_id)

    async def examine(self, ticket_id: int, number: str, message_id: int) -> list[dict[str, Any]]:
        message = await self.desk.read(lambda s: message_detail(s, message_id))
        if message["direction"] != "in" or not message["text"]:
            return []
        text = str(message["text"])
        if self.self_service is not None:
            await self.self_service.after_answer(ticket_id, number, text)
        found = self.detector.scan(text)
        if not found:
            return []
        items = list(await asyncio.gather(*(self.item(k, r) for k, r in refs_of(found))))
        await self.attach(ticket_id, number, items)
        orders = [i["data"] for i in items if i["kind"] == "order" and i["status"] == "ok"]
        if self.self_service is not None and orders:
            mode = await self.self_service.mode_for(ticket_id)
            if mode != "off":
                await self.self_service.answer(ticket_id, number, message_id, text, orders, mode)
        return items

    async def attach(self, ticket_id: int, number: str, items: list[dict[str, Any]]) -> None:
        """Keeps what was found on the ticket; nothing is written (and no event sent) when
        the ticket already shows exactly that (a customer repeating an order number)."""
        stored = await self.desk.read(lambda s: s.get(ErpTicketFindings, ticket_id))
        if stored is not None:
            old = stored.data.get("items", [])
            if merge(old, items) == old:
                return

        async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            row = await _findings_row(session, ticket_id, now)
            row.data = {**row.data, "items": merge(row.data.get("items", []), items)}
            row.updated_at = now
            event = ErpFindingsUpdated(
                ticket_id,
                number,
                found=sum(1 for i in items if i["status"] in ("ok", "stale")),
                unavailable=sum(1 for i in items if i["status"] == "unavailable"),
            )
            return None, [event]

        await self.desk.write(work)

    async def findings(self, ticket_id: int, *, refresh: bool = False) -> dict[str, Any]:
        """The ticket's ``erp`` section; with ``refresh``, each finding is asked again (the
        cache answers most; bounded by ``REFRESH_BUDGET_S``, else the stored ones show)."""
        row = await self.desk.read(lambda s: s.get(ErpTicketFindings, ticket_id))
        items: list[dict[str, Any]] = list(row.data.get("items", [])) if row else []
        health = await self.erp.health()
        if refresh and items:
            try:
                async with asyncio.timeout(REFRESH_BUDGET_S):
                    items = list(
                        await asyncio.gather(*(self.item(i["kind"], i["ref"]) for i in items))
                    )
            except TimeoutError:
                log.info(
                    "ERP refresh of ticket %s ran out of time; showing stored findings", ticket_id
                )
            health = await self.erp.health()
        return {
            "source": self.source,
            "available": health.down_since is None and health.state != "opened",
            "unavailable_since": None
            if health.down_since is None
            else health.down_since.isoformat(),
            "last_good_at": None
            if health.last_good_at is None
            else health.last_good_at.isoformat(),
            "items": sorted(items, key=lambda i: KIND_ORDER.index(i["kind"])),
            "reservation": row.data.get("reservation") if row else None,
            "updated_at": None if row is None else row.updated_at.isoformat(),
        }


def refs_of(found: Found) -> list[tuple[str, str]]:
    return [
        *(("order", r) for r in found.orders),
        *(("serial", r) for r in found.serials),
        *(("part", r) for r in found.parts),
        *(("model", r) for r in found.models),
    ]


def merge(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newer findings replace older ones of the same reference; the rest stay."""
    keyed = {(i["kind"], i["ref"]): i for i in old}
    for item in new:
        keyed[(item["kind"], item["ref"])] = item
    return list(keyed.values())


async def _findings_row(session: AsyncSession, ticket_id: int, now: datetime) -> ErpTicketFindings:
    """The ticket's findings row, created if missing, locked for this transaction. The
    insert comes first (``ON CONFLICT DO NOTHING``): ``SELECT ... FOR UPDATE`` locks no
    row that does not exist yet, so two workers examining one ticket at once both
    inserted, and the second failed on the primary key."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(ErpTicketFindings)
        .values(ticket_id=ticket_id, data={"items": []}, updated_at=now)
        .on_conflict_do_nothing(index_elements=["ticket_id"])
    )
    row = await session.get(
        ErpTicketFindings, ticket_id, with_for_update=True, populate_existing=True
    )
    assert row is not None
    return row
