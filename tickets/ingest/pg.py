"""The ingest store on a raw asyncpg connection: PostgreSQL's hot path.

Inbound traffic is the busiest write path, and SQLAlchemy's per-statement overhead caps a
six-statement transaction at about 800/s on a 2-core machine while asyncpg's prepared
statements reach several thousand. The SQL mirrors ``ingest_sql`` one to one; the shared
test suite runs the same ingest tests against both."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from tickets import eventlog
from tickets.contracts import AttachmentRef
from tickets.events import Event
from tickets.identity import identity_channel
from tickets.ingest.store import EventsFor, IngestRace, MessageRef, TicketRef
from tickets.pool import fair_turn, unavailable_when_pool_is_exhausted
from tickets.search.tokens import token_string

FIND_CUSTOMER = (
    "SELECT c.id, c.tier FROM customer_identities i JOIN customers c ON c.id = i.customer_id "
    "WHERE i.channel = $1 AND i.address = $2 AND i.verified FOR UPDATE OF c"
)
# A new customer and its identity in one statement. No savepoint: a twin that made the
# identity first (committed, or committing while we wait) is a conflict that inserts
# nothing, and the customer row this statement made is then deleted again.
CREATE_CUSTOMER = (
    "WITH c AS (INSERT INTO customers (name, tier, created_at) VALUES ($1, 'standard', $2) "
    "RETURNING id), i AS (INSERT INTO customer_identities (customer_id, channel, address, "
    "created_at) SELECT id, $3, $4, $2 FROM c "
    "ON CONFLICT (channel, address) WHERE verified DO NOTHING RETURNING customer_id) "
    "SELECT c.id, i.customer_id FROM c LEFT JOIN i ON true"
)
DROP_CUSTOMER = "DELETE FROM customers WHERE id = $1"
FIND_MESSAGE = "SELECT id, ticket_id FROM messages WHERE channel = $1 AND external_id = $2"
LOOKUP = (
    "SELECT m.id, m.ticket_id, t.id, t.status FROM (SELECT 1) AS one "
    "LEFT JOIN messages m ON m.channel = $1 AND m.external_id = $2 "
    "LEFT JOIN LATERAL (SELECT id, status FROM tickets WHERE customer_id = $3 AND channel = $1 "
    "AND status <> 'closed' ORDER BY id DESC LIMIT 1) t ON true"
)
BY_EMAIL_REFS = (
    "SELECT t.id, t.status FROM tickets t JOIN messages m ON m.ticket_id = t.id "
    "WHERE m.email_message_id = ANY($1::text[]) "
    "OR (m.channel = 'email' AND m.external_id = ANY($1::text[])) ORDER BY m.id DESC LIMIT 1"
)
BY_ID = "SELECT id, status FROM tickets WHERE id = $1"
MAY_WRITE = (
    "SELECT EXISTS (SELECT 1 FROM tickets WHERE id = $1 AND customer_id = $2) OR EXISTS "
    "(SELECT 1 FROM ticket_participants WHERE ticket_id = $1 AND address = $3)"
)
OPEN_EMAIL_TICKETS = (
    "SELECT id, status, subject FROM tickets WHERE customer_id = $1 AND channel = 'email' "
    "AND status IN ('new', 'open', 'pending', 'waiting_parts') AND updated_at >= $2 "
    "ORDER BY id DESC LIMIT 20"
)
ADD_PARTICIPANTS = (
    "INSERT INTO ticket_participants (ticket_id, address, role, created_at) "
    "SELECT $1, a, 'cc', $3 FROM unnest($2::text[]) AS a ON CONFLICT DO NOTHING"
)
OF_CUSTOMER = "SELECT id, status FROM tickets WHERE id = $1 AND customer_id = $2"
OPEN_TICKET = (
    "SELECT id, status FROM tickets WHERE customer_id = $1 AND channel = $2 AND status <> 'closed' "
    "ORDER BY id DESC LIMIT 1"
)
QUEUE_ID = "SELECT id FROM queues WHERE name = $1"
CUSTOMER_TIER = "SELECT tier FROM customers WHERE id = $1"
# The ticket and its ``ticket.created`` audit entry in one statement.
INSERT_TICKET = (
    "WITH t AS (INSERT INTO tickets (subject, status, priority, channel, language, queue_id, "
    "customer_id, created_at, updated_at, last_inbound_at, follow_up_of_id, sla) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '{}'::json) RETURNING id), "
    "a AS (INSERT INTO audit_log (at, actor_kind, actor_id, actor_label, action, ticket_id, data) "
    "SELECT $8, 'customer', $7, '', 'ticket.created', id, $12::text::json FROM t) "
    "SELECT id FROM t"
)
# The message and its events are one statement: the events are rows of the event outbox
# (``tickets.eventlog``), written in the same round trip. An event that carries the stored
# message's id is sent as its JSON text without the closing brace and completed here with
# ``"message_id": <id>}``: text concatenation, where merging a JSONB object would parse,
# rebuild and print every payload on the server. Touching the ticket happens in the same
# statement too, and all of it only while the ticket is not closed: the UPDATE waits for a
# concurrent close and re-checks the status, so a message racing a close never lands on
# (or reopens) a closed ticket.
_EVENTS_AFTER_MESSAGE = (
    ", ev AS (INSERT INTO event_outbox (type, payload, created_at) "
    "SELECT u.t, CASE WHEN u.m THEN (u.p || msg.id || '}')::json "
    "ELSE u.p::json END, $11 FROM msg, unnest($12::text[], $13::text[], $14::bool[]) "
    "WITH ORDINALITY AS u(t, p, m, n) ORDER BY u.n RETURNING id) "
    "SELECT (SELECT id FROM msg), ARRAY(SELECT id FROM ev)"
)
_MESSAGE_COLUMNS = (
    "INSERT INTO messages (ticket_id, direction, channel, external_id, author_name, text, html, "
    "email_message_id, delivery_status, created_at, search_tokens, thread_reason, email_meta) "
)
INSERT_MESSAGE = (
    "WITH msg AS ("
    + _MESSAGE_COLUMNS
    + "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $15, $16, $17::text::json) "
    "RETURNING id)" + _EVENTS_AFTER_MESSAGE
)
_INSERT_IF_TOUCHED = (
    ", msg AS ("
    + _MESSAGE_COLUMNS
    + "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $15, $16, $17::text::json FROM touched "
    "RETURNING id)" + _EVENTS_AFTER_MESSAGE
)
TOUCH_AND_INSERT = (
    "WITH touched AS (UPDATE tickets SET updated_at = $11, last_inbound_at = $11 "
    "WHERE id = $1 AND status <> 'closed' RETURNING id)" + _INSERT_IF_TOUCHED
)
REOPEN_AND_INSERT = (
    "WITH touched AS (UPDATE tickets SET updated_at = $11, last_inbound_at = $11, status = 'open', "
    "solved_at = NULL WHERE id = $1 AND status <> 'closed' RETURNING id)" + _INSERT_IF_TOUCHED
)
INSERT_ATTACHMENT = (
    "INSERT INTO attachments (message_id, name, content_type, size, blob_ref) "
    "VALUES ($1, $2, $3, $4, $5)"
)
CLAIM_EMAIL = (
    "INSERT INTO customer_identities (customer_id, channel, address, verified, created_at) "
    "SELECT $1::bigint, 'email', $2::varchar, false, $3::timestamptz WHERE NOT EXISTS "
    "(SELECT 1 FROM customer_identities WHERE customer_id = $1::bigint AND channel = 'email' "
    "AND address = $2::varchar)"
)
MARK_RELAYED = "UPDATE event_outbox SET relayed_at = $1 WHERE id = ANY($2::bigint[])"


class PgIngestStore:
    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.tiers: dict[int, str] = {}  # of the customers found or made here

    async def find_customer(self, channel: str, address: str) -> int | None:
        row = await self.conn.fetchrow(FIND_CUSTOMER, identity_channel(channel), address)
        if row is None:
            return None
        self.tiers[int(row[0])] = row[1]
        return int(row[0])

    async def create_customer(
        self, channel: str, address: str, name: str, now: datetime
    ) -> int | None:
        made, owner = await self.conn.fetchrow(
            CREATE_CUSTOMER, name, now, identity_channel(channel), address
        )
        if owner is None:  # a twin owns the identity: this customer row goes again
            await self.conn.execute(DROP_CUSTOMER, made)
            return None
        self.tiers[int(made)] = "standard"
        return int(made)

    async def lookup(
        self, channel: str, external_id: str, customer_id: int, *, open_ticket: bool
    ) -> tuple[MessageRef | None, TicketRef | None]:
        if not open_ticket:
            row = await self.conn.fetchrow(FIND_MESSAGE, channel, external_id)
            return (None if row is None else MessageRef(row[0], row[1])), None
        row = await self.conn.fetchrow(LOOKUP, channel, external_id, customer_id)
        if row[0] is not None:
            return MessageRef(row[0], row[1]), None
        return None, None if row[2] is None else TicketRef(row[2], row[3])

    async def ticket_by_email_refs(self, refs: Sequence[str]) -> TicketRef | None:
        row = await self.conn.fetchrow(BY_EMAIL_REFS, list(refs))
        return None if row is None else TicketRef(row[0], row[1])

    async def ticket_of_customer(self, ticket_id: int, customer_id: int) -> TicketRef | None:
        row = await self.conn.fetchrow(OF_CUSTOMER, ticket_id, customer_id)
        return None if row is None else TicketRef(row[0], row[1])

    async def ticket_by_id(self, ticket_id: int) -> TicketRef | None:
        row = await self.conn.fetchrow(BY_ID, ticket_id)
        return None if row is None else TicketRef(row[0], row[1])

    async def may_write(self, ticket_id: int, customer_id: int, address: str) -> bool:
        return bool(await self.conn.fetchval(MAY_WRITE, ticket_id, customer_id, address))

    async def open_email_tickets(
        self, customer_id: int, since: datetime
    ) -> list[tuple[int, str, str]]:
        rows = await self.conn.fetch(OPEN_EMAIL_TICKETS, customer_id, since)
        return [(r[0], r[1], r[2]) for r in rows]

    async def add_participants(
        self, ticket_id: int, addresses: Sequence[str], now: datetime
    ) -> None:
        await self.conn.execute(ADD_PARTICIPANTS, ticket_id, list(addresses), now)

    async def queue_id(self, name: str) -> int | None:
        value = await self.conn.fetchval(QUEUE_ID, name)
        return None if value is None else int(value)

    async def customer_tier(self, customer_id: int) -> str:
        tier = self.tiers.get(customer_id)
        if tier is None:
            tier = await self.conn.fetchval(CUSTOMER_TIER, customer_id)
        return str(tier or "standard")

    async def insert_ticket(self, v: dict[str, Any], *, audit: dict[str, Any]) -> int:
        return int(
            await self.conn.fetchval(
                INSERT_TICKET,
                v["subject"],
                v["status"],
                v["priority"],
                v["channel"],
                v["language"],
                v["queue_id"],
                v["customer_id"],
                v["created_at"],
                v["updated_at"],
                v["last_inbound_at"],
                v.get("follow_up_of_id"),
                json.dumps(audit, ensure_ascii=False),
            )
        )

    async def insert_message(
        self, v: dict[str, Any], *, touch: bool, reopen: bool, events: EventsFor
    ) -> tuple[int, list[Event]] | None:
        draft = events(0)
        texts = [_payload_text(e) for e in draft]
        args = [
            v["ticket_id"],
            v["direction"],
            v["channel"],
            v["external_id"],
            v["author_name"],
            v["text"],
            v["html"],
            v["email_message_id"],
            v["delivery_status"],
            v["created_at"],
            v["now"],
            [e.type_name for e in draft],
            [text for text, _ in texts],
            [completed for _, completed in texts],
            token_string(v["text"] or ""),
            v.get("thread_reason"),
            _json_or_none(v.get("email_meta")),
        ]
        sql = INSERT_MESSAGE
        if touch:
            sql = REOPEN_AND_INSERT if reopen else TOUCH_AND_INSERT
        row = await self.conn.fetchrow(sql, *args)
        if row is None or row[0] is None:
            return None
        message_id = int(row[0])
        # ids come from one sequence in row order, so sorted ids line up with the events
        return message_id, eventlog.stamp(events(message_id), sorted(int(i) for i in row[1]))

    async def insert_attachments(
        self, message_id: int, attachments: Sequence[AttachmentRef]
    ) -> None:
        await self.conn.executemany(
            INSERT_ATTACHMENT,
            [(message_id, a.name, a.content_type, a.size, a.blob_ref) for a in attachments],
        )

    async def claim_email(self, customer_id: int, email: str, now: datetime) -> None:
        await self.conn.execute(CLAIM_EMAIL, customer_id, email, now)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _payload_text(event: Event) -> tuple[str, bool]:
    """The event's payload as JSON text, and whether the statement completes it with the
    stored message's id (an event drafted with ``message_id`` 0): then the text is the
    other fields without the closing brace, ready for ``"message_id": <id>}``."""
    payload = eventlog.payload_of(event)
    if payload.get("message_id") != 0:
        return json.dumps(payload, ensure_ascii=False), False
    del payload["message_id"]
    return json.dumps(payload, ensure_ascii=False)[:-1] + ', "message_id": ', True


class PgFastPath:
    """Ingest on the raw asyncpg connection of a connection checked out of the engine's
    pool. Ingest always runs in one explicit transaction on the driver connection, which
    SQLAlchemy's own transaction state never sees, so the pool's reset on return has
    nothing to roll back and costs no round trip. A pool that stays exhausted for the
    engine's pool timeout becomes ``Unavailable``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgIngestStore]:
        """One transaction on a pooled connection; a unique violation that escapes (a twin
        committed first) becomes ``IngestRace`` for the caller's retry."""
        # The pool's own connection, not an ``AsyncConnection`` around it: a third of the
        # checkout cost, which ingest pays once per message.
        async with unavailable_when_pool_is_exhausted():
            pooled = await self.engine.raw_connection()
        conn: Any = pooled.driver_connection
        try:
            async with conn.transaction():
                yield PgIngestStore(conn)
        except asyncpg.UniqueViolationError as err:
            raise IngestRace(str(err)) from err
        finally:
            await greenlet_spawn(pooled.invalidate if conn.is_closed() else pooled.close)
            await fair_turn()

    async def mark_relayed(self, row_ids: Sequence[int], now: datetime) -> None:
        """Marks published events relayed: one prepared statement for the whole batch
        (its own implicit transaction), where the ORM's expanding ``IN`` would build
        and prepare a new statement for every batch size."""
        async with unavailable_when_pool_is_exhausted():
            pooled = await self.engine.raw_connection()
        conn: Any = pooled.driver_connection
        try:
            await conn.execute(MARK_RELAYED, now, list(row_ids))
        finally:
            await greenlet_spawn(pooled.invalidate if conn.is_closed() else pooled.close)
            await fair_turn()

    async def close(self) -> None:
        """Nothing of its own to close: the engine owns the pool."""
