"""The core: customers and their identities, tickets, messages, staff, SLA clocks, the
message outbox and the event outbox, and the audit log.

Imports no other room and knows nothing of HTTP, providers or Redis. This module is the
room's whole public surface: other rooms import from ``tickets`` only (an import-linter
contract in ``.ci/run`` holds them to it), call the verb-named services inside a
transaction the ``Desk`` owns, and receive the returned events through the bus after the
relay has read them from the event outbox.

Inside, the room is split by idea: ``ingest/`` (threading and identity for inbound
messages), ``sla/`` (calendars and clocks), ``services`` (staff verbs), ``views``
(read models), ``directory`` (read-only views for routing), ``outbox`` (outbound
delivery), ``eventlog`` (the transactional event outbox), ``status`` (every status set
and the transition table).
"""

from tickets.audit import record as record_audit
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
from tickets.desk import Desk
from tickets.directory import (
    QueueMemberRef,
    QueueRef,
    TicketFacts,
    all_queues,
    open_ticket_facts,
    previous_assignee,
    queue_members,
    ticket_facts,
)
from tickets.errors import Conflict, Forbidden, Invalid, NotFound, TicketError, Unavailable
from tickets.eventlog import (
    DeadLetter,
    bury_event,
    dead_letters,
    record_events,
    retry_dead_letter,
)
from tickets.eventlog import backlog as event_backlog
from tickets.eventlog import mark_relayed as mark_events_relayed
from tickets.eventlog import pending as pending_events
from tickets.eventlog import prune as prune_events
from tickets.events import (
    CustomersMerged,
    DeliveryStatusChanged,
    Event,
    EventHandler,
    EventPublisher,
    MessageReceived,
    MessageSent,
    OutboxQueued,
    StaffChanged,
    TicketAssigned,
    TicketCreated,
    TicketStatusChanged,
    TicketUpdated,
    event_from_dict,
    register_event,
)
from tickets.identity import (
    PHONE_IDENTITY,
    InvalidAddress,
    identity_channel,
    normalize_address,
    normalize_email,
    normalize_phone,
)
from tickets.ingest import IngestResult, QueueChooser, ingest
from tickets.language import detect_language
from tickets.models import Base, SystemValue, format_number, parse_id, parse_number
from tickets.outbox import RetryPolicy, lease_due, mark_failed, mark_sent, record_delivery
from tickets.services import (
    TicketChanges,
    Written,
    add_note,
    assign,
    merge_customers,
    reply,
    update_ticket,
)
from tickets.sla import SlaBreached, SlaClocks, SlaStarted, SlaWarning
from tickets.staff import (
    DEFAULT_QUEUE,
    StaffUser,
    TokenInfo,
    add_queue_member,
    authenticate_token,
    create_token,
    create_user,
    deactivate_user,
    ensure_queue,
    list_tokens,
    may_change,
    may_see,
    revoke_token,
    set_queue_members,
    staff_for_password,
    staff_for_token,
    user_id_by_email,
)
from tickets.status import (
    ALLOWED_TRANSITIONS,
    DONE_STATUSES,
    OPEN_STATUSES,
    PAUSED_STATUSES,
    ROUTABLE_STATUSES,
)
from tickets.textcheck import storable_text
from tickets.views import (
    channel_address,
    customer_detail,
    inbound_message,
    list_tickets,
    message_detail,
    message_dict,
    open_conversation,
    ticket_detail,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "DEFAULT_QUEUE",
    "DONE_STATUSES",
    "OPEN_STATUSES",
    "PAUSED_STATUSES",
    "PHONE_IDENTITY",
    "ROUTABLE_STATUSES",
    "Actor",
    "AttachmentRef",
    "Base",
    "Channel",
    "Conflict",
    "CustomersMerged",
    "DeadLetter",
    "DeliveryStatus",
    "DeliveryStatusChanged",
    "Desk",
    "Direction",
    "Event",
    "EventHandler",
    "EventPublisher",
    "Forbidden",
    "InboundMessage",
    "IngestResult",
    "Invalid",
    "InvalidAddress",
    "MessageReceived",
    "MessageSent",
    "NotFound",
    "OutboundMessage",
    "OutboxQueued",
    "Priority",
    "QueueChooser",
    "QueueMemberRef",
    "QueueRef",
    "RetryPolicy",
    "Role",
    "SlaBreached",
    "SlaClocks",
    "SlaStarted",
    "SlaWarning",
    "StaffChanged",
    "StaffUser",
    "SystemValue",
    "ThreadHints",
    "TicketAssigned",
    "TicketChanges",
    "TicketCreated",
    "TicketError",
    "TicketFacts",
    "TicketStatus",
    "TicketStatusChanged",
    "TicketUpdated",
    "TokenInfo",
    "Unavailable",
    "Written",
    "add_note",
    "add_queue_member",
    "all_queues",
    "assign",
    "authenticate_token",
    "bury_event",
    "channel_address",
    "create_token",
    "create_user",
    "customer_detail",
    "deactivate_user",
    "dead_letters",
    "detect_language",
    "ensure_queue",
    "event_backlog",
    "event_from_dict",
    "format_number",
    "identity_channel",
    "inbound_message",
    "ingest",
    "lease_due",
    "list_tickets",
    "list_tokens",
    "mark_events_relayed",
    "mark_failed",
    "mark_sent",
    "may_change",
    "may_see",
    "merge_customers",
    "message_detail",
    "message_dict",
    "normalize_address",
    "normalize_email",
    "normalize_phone",
    "open_conversation",
    "open_ticket_facts",
    "parse_id",
    "parse_number",
    "pending_events",
    "previous_assignee",
    "prune_events",
    "queue_members",
    "record_audit",
    "record_delivery",
    "record_events",
    "register_event",
    "reply",
    "retry_dead_letter",
    "revoke_token",
    "set_queue_members",
    "staff_for_password",
    "staff_for_token",
    "storable_text",
    "ticket_detail",
    "ticket_facts",
    "update_ticket",
    "user_id_by_email",
]
