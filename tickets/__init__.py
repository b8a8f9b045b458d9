"""The core: customers and their identities, tickets, messages, staff, outbox and audit.

Imports no other room and knows nothing of HTTP, providers or Redis. Other rooms call the
verb-named services (``ingest``, ``reply``, ``add_note``, ``update_ticket``,
``merge_customers``) inside a transaction they own, and publish the returned events after
commit."""

from tickets.contracts import (
    Actor,
    AttachmentRef,
    Channel,
    DeliveryStatus,
    Direction,
    InboundMessage,
    OutboundMessage,
    Priority,
    Role,
    ThreadHints,
    TicketStatus,
)
from tickets.errors import Conflict, Forbidden, Invalid, NotFound, TicketError
from tickets.ingest import IngestResult, QueueChooser, ingest
from tickets.services import TicketChanges, Written, add_note, merge_customers, reply, update_ticket
from tickets.staff import StaffUser

__all__ = [
    "Actor",
    "AttachmentRef",
    "Channel",
    "Conflict",
    "DeliveryStatus",
    "Direction",
    "Forbidden",
    "InboundMessage",
    "IngestResult",
    "Invalid",
    "NotFound",
    "OutboundMessage",
    "Priority",
    "QueueChooser",
    "Role",
    "StaffUser",
    "ThreadHints",
    "TicketChanges",
    "TicketError",
    "TicketStatus",
    "Written",
    "add_note",
    "ingest",
    "merge_customers",
    "reply",
    "update_ticket",
]
