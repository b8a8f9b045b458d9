"""The ERP port: one typed interface every adapter (builtin, ERPNext, Odoo, a company's own
through the ``switchboard.erp`` entry-point group) implements, and the frozen value types it
answers with. No ERP's names leak past an adapter: a Frappe ``Bin`` or an Odoo
``stock.quant`` becomes a ``StockLevel`` here.

Errors form a closed hierarchy so callers decide by type: ``ErpNotFound`` (an unknown
reference: a 404, never a reason to open the circuit breaker), ``ErpRejected`` (the ERP
refused the input: a validation error, also the caller's problem) and
``ErpTemporaryFailure`` (timeouts, 5xx, 429, auth trouble: counts against the breaker and
is retried for reads). ``Unavailable`` is a value, not an error: what the agent sees when
the ERP cannot answer, with the time of the last good answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class OrderState(StrEnum):
    ORDERED = "ordered"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class LookupKind(StrEnum):
    PART = "part"
    ORDER = "order"
    WARRANTY = "warranty"


@dataclass(frozen=True, slots=True)
class StockLevel:
    """One warehouse's stock of a part. ``available`` is what can be promised now
    (on hand less reserved); ``projected`` adds what is on order and subtracts what is
    promised, as the ERP computes it."""

    warehouse: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    projected: Decimal
    incoming_date: date | None = None


@dataclass(frozen=True, slots=True)
class Part:
    part_number: str
    name_zh: str
    name_en: str
    models: tuple[str, ...] = ()
    stock: tuple[StockLevel, ...] = ()
    lead_time_days: int | None = None
    price: Decimal | None = None
    currency: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)
    """Fields of the ERP's record we have no place for, kept read-only."""

    @property
    def available(self) -> Decimal:
        return sum((s.available for s in self.stock), Decimal(0))


@dataclass(frozen=True, slots=True)
class OrderLine:
    part_number: str
    name: str
    ordered: Decimal
    delivered: Decimal


@dataclass(frozen=True, slots=True)
class Shipment:
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None = None
    shipped_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OrderStatus:
    reference: str
    state: OrderState
    lines: tuple[OrderLine, ...] = ()
    shipments: tuple[Shipment, ...] = ()
    promised_date: date | None = None
    customer: str | None = None


@dataclass(frozen=True, slots=True)
class Warranty:
    serial: str
    model: str
    customer: str | None
    purchase_date: date | None
    warranty_end: date | None
    contract_end: date | None = None

    def under_warranty(self, on: date) -> bool:
        """Covered on ``on`` by the warranty or by a service contract."""
        return any(end is not None and on <= end for end in (self.warranty_end, self.contract_end))


@dataclass(frozen=True, slots=True)
class ReservationLine:
    part_number: str
    quantity: Decimal
    warehouse: str | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    """Parts held for a ticket. ``ticket`` (``SB-1042``) is the idempotency reference the
    ERP stores with it; ``reference`` is the ERP's own name for the document (a material
    request, a repair order)."""

    ticket: str
    reference: str
    state: str
    lines: tuple[ReservationLine, ...] = ()
    replayed: bool = field(default=False, compare=False)
    """True when a retried call found the reservation an earlier call made."""


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Answer(Generic[T]):
    """A value from the ERP with where and when it came from. ``stale`` answers come
    from the cache while the ERP is unreachable; ``unavailable_since`` says since when."""

    value: T
    source: str
    fetched_at: datetime
    stale: bool = False
    unavailable_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Unavailable:
    """The ERP could not answer and nothing usable was cached: shown to the agent as
    "ERP unavailable since …" with the time of the last good answer, if any."""

    source: str
    reason: str
    since: datetime
    last_good_at: datetime | None = None


class ErpError(Exception):
    """Any failure at an adapter's edge, already in our own terms."""


class ErpNotFound(ErpError):
    pass


class ErpRejected(ErpError):
    """The ERP refused the request (a validation error): retrying will not help."""


class ErpTemporaryFailure(ErpError):
    """Timeout, connection error, 5xx, 429, an auth failure: worth retrying later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@runtime_checkable
class ErpAdapter(Protocol):
    """What every ERP adapter offers. Reads may be retried; ``reserve_parts`` must be
    idempotent by ``ticket`` itself (a retried call returns the first reservation)."""

    name: str

    async def part_availability(self, query: str) -> Part:
        """A part by its number, or the first part compatible with a product model."""
        ...

    async def order_status(self, reference: str) -> OrderStatus: ...

    async def warranty(self, serial: str) -> Warranty: ...

    async def reserve_parts(self, ticket: str, lines: Sequence[ReservationLine]) -> Reservation: ...

    async def release_reservation(self, ticket: str) -> Reservation | None:
        """Releases the ticket's reservation; None when nothing was held (never
        reserved, or released already), so a retried release is a no-op."""
        ...

    async def close(self) -> None: ...
