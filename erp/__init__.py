"""The ERP port and its adapters (builtin, ERPNext, Odoo; more through the
``switchboard.erp`` entry points): part availability, order status, warranty and parts
reserved for a ticket, behind timeouts, a cache and a circuit breaker, looked up in the
background for every customer message that names an order, serial, part or model.

Inside: ``port`` (the interface and value types), ``resilience``, ``registry``,
``builtin`` / ``erpnext`` / ``odoo`` (the adapters), ``detect``, ``service`` (lookups, the
background consumer, the ticket's ``erp`` section), ``selfservice``, ``panel``,
``importer`` and ``demo`` (the builtin adapter's data), ``views`` (JSON)."""

from erp.port import (
    Answer,
    ErpAdapter,
    ErpError,
    ErpNotFound,
    ErpRejected,
    ErpTemporaryFailure,
    OrderState,
    OrderStatus,
    Part,
    Reservation,
    ReservationLine,
    Shipment,
    StockLevel,
    Unavailable,
    Warranty,
)

__all__ = [
    "Answer",
    "ErpAdapter",
    "ErpError",
    "ErpNotFound",
    "ErpRejected",
    "ErpTemporaryFailure",
    "OrderState",
    "OrderStatus",
    "Part",
    "Reservation",
    "ReservationLine",
    "Shipment",
    "StockLevel",
    "Unavailable",
    "Warranty",
]
