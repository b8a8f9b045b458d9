"""SQLAlchemy tables owned by the tickets room (customers, tickets, messages, staff,
queues, outbox, audit). Relationships are ``lazy="raise"``: async code loads what it
needs explicitly, so a forgotten load fails loudly instead of doing hidden I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from tickets.search.tokens import token_string

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC timestamps on both databases (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    languages: Mapped[list[str]] = mapped_column(default=list)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    # The UI's language (``zh_CN``/``en``; None: the browser's Accept-Language) and time
    # zone (an IANA name; None: the business calendar's).
    ui_locale: Mapped[str | None] = mapped_column(String(10))
    time_zone: Mapped[str | None] = mapped_column(String(64))


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class Queue(Base):
    __tablename__ = "queues"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")


class QueueMember(Base):
    __tablename__ = "queue_members"
    queue_id: Mapped[int] = mapped_column(
        ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    tier: Mapped[str] = mapped_column(String(20), default="standard")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    created_at: Mapped[datetime]
    identities: Mapped[list[CustomerIdentity]] = relationship(
        lazy="raise", back_populates="customer", order_by="CustomerIdentity.id"
    )


class CustomerIdentity(Base):
    __tablename__ = "customer_identities"
    # One verified owner per address; unverified claims (several chat visitors may type
    # the same address) sit beside it until an agent merges them. The predicates are
    # spelled the way SQLAlchemy renders a boolean test, so each planner uses the index.
    __table_args__ = (
        Index(
            "uq_identity_verified_address",
            "channel",
            "address",
            unique=True,
            postgresql_where=text("verified"),
            sqlite_where=text("verified = 1"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(320))
    # False for a claim nobody checked (an email typed into the chat): shown to agents,
    # never used to attach a conversation to whoever owns the address.
    verified: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Set when the customer cannot be reached here (opted out, blocked the bot): see
    # tickets/reachability.py.
    opted_out_at: Mapped[datetime | None]
    unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    customer: Mapped[Customer] = relationship(lazy="raise", back_populates="identities")


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_customer_channel_status", "customer_id", "channel", "status"),
        # The workspace's views: the tickets of the user's queues (or their own) by
        # status in SLA order, with what the other filters and sorts read included, so
        # PostgreSQL pages from the index alone.
        Index(
            "ix_tickets_queue_status_due",
            "queue_id",
            "status",
            "sla_due_at",
            "id",
            postgresql_include=["priority", "assignee_id", "solved_at", "updated_at"],
        ),
        Index(
            "ix_tickets_assignee_status_due",
            "assignee_id",
            "status",
            "sla_due_at",
            "id",
            postgresql_include=["priority", "updated_at"],
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), index=True)
    priority: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(10))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)
    last_inbound_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    solved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    sla: Mapped[dict[str, Any]] = mapped_column(default=dict)
    next_sla_check_at: Mapped[datetime | None] = mapped_column(index=True)
    # The nearest due time of a running SLA clock (None when none runs), kept with
    # ``sla`` by the clocks, so the workspace sorts by it in SQL.
    sla_due_at: Mapped[datetime | None]
    # A message to a closed ticket opens a follow-up ticket linked to the old one.
    follow_up_of_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    # The customer's satisfaction rating (1-5) and comment, given once the ticket is solved.
    rating: Mapped[int | None]
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(index=True)
    tags: Mapped[list[TicketTag]] = relationship(lazy="raise", order_by="TicketTag.tag")

    @property
    def number(self) -> str:
        return format_number(self.id)


class TicketTag(Base):
    __tablename__ = "ticket_tags"
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


def _search_tokens(context: Any) -> str:
    return token_string(context.get_current_parameters().get("text") or "")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_messages_channel_external"),
        # A ticket's timeline in order, and its latest message for a list's preview.
        Index("ix_messages_ticket_id_id", "ticket_id", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    direction: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(255))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(200), default="")
    recipient: Mapped[str | None] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text, default="")
    # The text as search tokens (tickets.search), indexed by the full-text index; filled
    # from ``text`` on every insert, ORM or Core, unless given.
    search_tokens: Mapped[str] = mapped_column(Text, default=_search_tokens, server_default="")
    html: Mapped[str | None] = mapped_column(Text)
    email_message_id: Mapped[str | None] = mapped_column(String(500), index=True)
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    # When the customer's chat window first showed this agent message.
    seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # Email: which threading rule put the message on its ticket (``in_reply_to``,
    # ``references``, ``subject_token``, ``subject``, ``new``, ``follow_up``), and the
    # mail's own facts (from, to, cc, subject, date, raw_ref, noise) for the timeline.
    thread_reason: Mapped[str | None] = mapped_column(String(20))
    email_meta: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    attachments: Mapped[list[Attachment]] = relationship(lazy="raise", order_by="Attachment.id")


class TicketParticipant(Base):
    """Someone besides the customer on an email ticket (CC): may write into it by replying
    and stays on CC of the agents' replies."""

    __tablename__ = "ticket_participants"
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    role: Mapped[str] = mapped_column(String(10), default="cc")
    created_at: Mapped[datetime]


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    blob_ref: Mapped[str] = mapped_column(String(500))


class OutboxEntry(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_due", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    state: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Who holds the current lease: a result is recorded only by its holder (fencing).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class EventRecord(Base):
    """The transactional event outbox: domain events written in the same transaction as
    the change they describe, relayed to the bus afterwards (``tickets.eventlog``)."""

    __tablename__ = "event_outbox"
    __table_args__ = (Index("ix_event_outbox_pending", "relayed_at", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    # Set only when a dead letter is retried: the event goes to that consumer group alone.
    consumer_group: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    relayed_at: Mapped[datetime | None]


class DeadEvent(Base):
    """A durable event one consumer group kept failing on, with the last error; listed by
    ``switchboard events dead`` and handed back by ``switchboard events retry ID``."""

    __tablename__ = "event_dead_letters"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    consumer_group: Mapped[str] = mapped_column(String(100), index=True)
    event_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    retried_at: Mapped[datetime | None]


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_label: Mapped[str] = mapped_column(String(320), default="")
    action: Mapped[str] = mapped_column(String(50))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class BusinessCalendar(Base):
    """Working hours in a time zone, public holidays by country (the ``holidays``
    package), and explicit extra working days / days off (China's adjusted weekends)."""

    __tablename__ = "business_calendars"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    weekly_hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    holiday_country: Mapped[str | None] = mapped_column(String(8))
    extra_working_days: Mapped[list[str]] = mapped_column(default=list)
    days_off: Mapped[list[str]] = mapped_column(default=list)


class SlaPolicy(Base):
    """Matched by priority, channel, queue and customer tag (each optional), in
    ``position`` order; the first match wins. Targets are in business minutes."""

    __tablename__ = "sla_policies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(default=100)
    match_priority: Mapped[str | None] = mapped_column(String(10))
    match_channel: Mapped[str | None] = mapped_column(String(20))
    match_queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id"))
    match_tag: Mapped[str | None] = mapped_column(String(100))
    first_response_min: Mapped[int | None]
    next_response_min: Mapped[int | None]
    resolution_min: Mapped[int | None]
    warning_share: Mapped[float] = mapped_column(default=0.75)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("business_calendars.id"))


class CustomerMerge(Base):
    """One merge of ``merged_id`` into ``kept_id``, with exactly the identities and
    tickets it moved, so ``unmerge_customers`` can put each back where it was."""

    __tablename__ = "customer_merges"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kept_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    identity_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    ticket_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    merged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    merged_at: Mapped[datetime]
    undone_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    undone_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """An ``Idempotency-Key`` a user sent with a create, and what it created: a retry
    (even a concurrent one) answers the first result instead of creating again."""

    __tablename__ = "idempotency_keys"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    created_at: Mapped[datetime] = mapped_column(index=True)


class SystemValue(Base):
    """Small durable key/value settings the system makes itself (e.g. the signing key)."""

    __tablename__ = "system_values"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


NUMBER_PREFIX = "SB-"
NUMBER_OFFSET = 1000
MAX_ID = 2**63 - 1
"""Ids are 64-bit signed on both databases; a larger number names nothing."""


def parse_id(text: str) -> int | None:
    """The one parser for ids, ticket numbers, cursors and limits from the outside: ASCII
    digits only (``str.isdigit`` also accepts ``²``, ``①`` and ``٣``), at most 19 of
    them, and a value that fits a signed 64-bit column. None for anything else."""
    if not (0 < len(text) <= 19 and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def format_number(ticket_id: int) -> str:
    return f"{NUMBER_PREFIX}{ticket_id + NUMBER_OFFSET}"


def parse_number(number: str) -> int | None:
    """``SB-1042`` (or ``1042``) to the ticket id, None when it is not a ticket number."""
    text = number.strip().upper().removeprefix(NUMBER_PREFIX)
    value = parse_id(text)
    if value is None or value <= NUMBER_OFFSET:
        return None
    return value - NUMBER_OFFSET
