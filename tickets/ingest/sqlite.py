"""The ingest store on a raw aiosqlite connection: SQLite's hot path.

aiosqlite runs every call in a thread of its own, so on SQLite the cost of a statement is
the trips to that thread, and SQLAlchemy's adapter makes three or four per statement (a
cursor, the execute, the fetch, the close). This store makes one: a read is one
``execute_fetchall``, an insert one ``execute_insert`` (the row id comes back in the same
trip), an update one ``execute`` with its row count. The SQL mirrors ``tickets.ingest.sql``
one to one, and values are written through the columns' own SQLAlchemy types (UTC
timestamps, JSON), so the rows are the ones the portable store writes; the shared test
suite runs the same ingest tests against both and compares the rows they write.

The transaction is the one every SQLite write takes in this project: ``BEGIN IMMEDIATE``
(the write lock up front), inside the desk's turn (``serial``), so this process's writers
queue fairly on an asyncio lock and never on SQLite's busy handler."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

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
    "SELECT c.id, c.tier FROM customers c JOIN customer_identities i ON i.customer_id = c.id "
    "WHERE i.channel = ? AND i.address = ? AND i.verified = 1"
)
INSERT_CUSTOMER = "INSERT INTO customers (name, tier, created_at) VALUES (?, 'standard', ?)"
INSERT_IDENTITY = (
    "INSERT INTO customer_identities (customer_id, channel, address, verified, created_at) "
    "VALUES (?, ?, ?, 1, ?)"
)
FIND_MESSAGE = "SELECT id, ticket_id FROM messages WHERE channel = ? AND external_id = ?"
# The duplicate check and the open ticket in one trip (SQLite has no LATERAL, but the
# ticket's subquery is not correlated, so a plain derived table does).
LOOKUP = (
    "SELECT m.id, m.ticket_id, t.id, t.status FROM (SELECT 1) AS one "
    "LEFT JOIN messages m ON m.channel = :channel AND m.external_id = :external_id "
    "LEFT JOIN (SELECT id, status FROM tickets WHERE customer_id = :customer_id "
    "AND channel = :channel AND status <> 'closed' ORDER BY id DESC LIMIT 1) t ON 1"
)
BY_EMAIL_REFS = (
    "SELECT t.id, t.status FROM tickets t JOIN messages m ON m.ticket_id = t.id "
    "WHERE m.email_message_id IN (SELECT value FROM json_each(:refs)) "
    "OR (m.channel = 'email' AND m.external_id IN (SELECT value FROM json_each(:refs))) "
    "ORDER BY m.id DESC LIMIT 1"
)
BY_ID = "SELECT id, status FROM tickets WHERE id = ?"
MAY_WRITE = (
    "SELECT EXISTS (SELECT 1 FROM tickets WHERE id = :ticket_id AND customer_id = :customer_id) "
    "OR EXISTS (SELECT 1 FROM ticket_participants WHERE ticket_id = :ticket_id "
    "AND address = :address)"
)
OPEN_EMAIL_TICKETS = (
    "SELECT id, status, subject FROM tickets WHERE customer_id = ? AND channel = 'email' "
    "AND status IN ('new', 'open', 'pending', 'waiting_parts') AND updated_at >= ? "
    "ORDER BY id DESC LIMIT 20"
)
ADD_PARTICIPANT = (
    "INSERT INTO ticket_participants (ticket_id, address, role, created_at) "
    "VALUES (?, ?, 'cc', ?) ON CONFLICT DO NOTHING"
)
OF_CUSTOMER = "SELECT id, status FROM tickets WHERE id = ? AND customer_id = ?"
QUEUE_ID = "SELECT id FROM queues WHERE name = ?"
CUSTOMER_TIER = "SELECT tier FROM customers WHERE id = ?"
INSERT_TICKET = (
    "INSERT INTO tickets (subject, status, priority, channel, language, queue_id, customer_id, "
    "created_at, updated_at, last_inbound_at, follow_up_of_id, sla) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Only while the ticket is not closed: the row count tells whether it was (the write
# lock is held since BEGIN IMMEDIATE, so nobody closes it between this and the insert).
TOUCH = "UPDATE tickets SET updated_at = ?, last_inbound_at = ? WHERE id = ? AND status <> 'closed'"
REOPEN = (
    "UPDATE tickets SET updated_at = ?, last_inbound_at = ?, status = 'open', solved_at = NULL "
    "WHERE id = ? AND status <> 'closed'"
)
INSERT_MESSAGE = (
    "INSERT INTO messages (ticket_id, direction, channel, external_id, author_name, text, html, "
    "email_message_id, delivery_status, created_at, search_tokens, thread_reason, email_meta) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_ATTACHMENT = (
    "INSERT INTO attachments (message_id, name, content_type, size, blob_ref) "
    "VALUES (?, ?, ?, ?, ?)"
)
CLAIM_EMAIL = (
    "INSERT INTO customer_identities (customer_id, channel, address, verified, created_at) "
    "SELECT :customer_id, 'email', :address, 0, :now WHERE NOT EXISTS "
    "(SELECT 1 FROM customer_identities WHERE customer_id = :customer_id AND channel = 'email' "
    "AND address = :address)"
)
AUDIT = (
    "INSERT INTO audit_log (at, actor_kind, actor_id, actor_label, action, ticket_id, data) "
    "VALUES (?, 'customer', ?, '', 'ticket.created', ?, ?)"
)
MARK_RELAYED = "UPDATE event_outbox SET relayed_at = ? WHERE id IN (SELECT value FROM json_each(?))"


class SqliteIngestStore:
    def __init__(self, conn: Any, encode: eventlog.SqliteValues) -> None:
        self.conn = conn
        self.encode = encode
        self.tiers: dict[int, str] = {}  # of the customers found or made here

    async def _first(self, sql: str, params: Any) -> Any:
        rows = await self.conn.execute_fetchall(sql, params)
        return rows[0] if rows else None

    async def _insert(self, sql: str, params: Any) -> int:
        row = await self.conn.execute_insert(sql, params)
        assert row is not None
        return int(row[0])

    async def find_customer(self, channel: str, address: str) -> int | None:
        row = await self._first(FIND_CUSTOMER, (identity_channel(channel), address))
        if row is None:
            return None
        self.tiers[int(row[0])] = row[1]
        return int(row[0])

    async def create_customer(
        self, channel: str, address: str, name: str, now: datetime
    ) -> int | None:
        at = self.encode.time(now)
        await self.conn.execute("SAVEPOINT new_customer")
        try:
            customer_id = await self._insert(INSERT_CUSTOMER, (name, at))
            await self.conn.execute(
                INSERT_IDENTITY, (customer_id, identity_channel(channel), address, at)
            )
        except sqlite3.IntegrityError:
            await self.conn.execute("ROLLBACK TO SAVEPOINT new_customer")
            await self.conn.execute("RELEASE SAVEPOINT new_customer")
            return None
        await self.conn.execute("RELEASE SAVEPOINT new_customer")
        self.tiers[customer_id] = "standard"
        return customer_id

    async def lookup(
        self, channel: str, external_id: str, customer_id: int, *, open_ticket: bool
    ) -> tuple[MessageRef | None, TicketRef | None]:
        if not open_ticket:
            row = await self._first(FIND_MESSAGE, (channel, external_id))
            return (None if row is None else MessageRef(row[0], row[1])), None
        row = await self._first(
            LOOKUP, {"channel": channel, "external_id": external_id, "customer_id": customer_id}
        )
        if row[0] is not None:
            return MessageRef(row[0], row[1]), None
        return None, None if row[2] is None else TicketRef(row[2], row[3])

    async def ticket_by_email_refs(self, refs: Sequence[str]) -> TicketRef | None:
        row = await self._first(BY_EMAIL_REFS, {"refs": json.dumps(list(refs))})
        return None if row is None else TicketRef(row[0], row[1])

    async def ticket_by_id(self, ticket_id: int) -> TicketRef | None:
        row = await self._first(BY_ID, (ticket_id,))
        return None if row is None else TicketRef(row[0], row[1])

    async def may_write(self, ticket_id: int, customer_id: int, address: str) -> bool:
        row = await self._first(
            MAY_WRITE, {"ticket_id": ticket_id, "customer_id": customer_id, "address": address}
        )
        return bool(row[0])

    async def open_email_tickets(
        self, customer_id: int, since: datetime
    ) -> list[tuple[int, str, str]]:
        rows = await self.conn.execute_fetchall(
            OPEN_EMAIL_TICKETS, (customer_id, self.encode.time(since))
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def add_participants(
        self, ticket_id: int, addresses: Sequence[str], now: datetime
    ) -> None:
        at = self.encode.time(now)
        await self.conn.executemany(ADD_PARTICIPANT, [(ticket_id, a, at) for a in addresses])

    async def ticket_of_customer(self, ticket_id: int, customer_id: int) -> TicketRef | None:
        row = await self._first(OF_CUSTOMER, (ticket_id, customer_id))
        return None if row is None else TicketRef(row[0], row[1])

    async def queue_id(self, name: str) -> int | None:
        row = await self._first(QUEUE_ID, (name,))
        return None if row is None else int(row[0])

    async def customer_tier(self, customer_id: int) -> str:
        tier = self.tiers.get(customer_id)
        if tier is None:
            row = await self._first(CUSTOMER_TIER, (customer_id,))
            tier = row[0] if row is not None else None
        return str(tier or "standard")

    async def insert_ticket(self, v: dict[str, Any], *, audit: dict[str, Any]) -> int:
        time = self.encode.time
        ticket_id = await self._insert(
            INSERT_TICKET,
            (
                v["subject"],
                v["status"],
                v["priority"],
                v["channel"],
                v["language"],
                v["queue_id"],
                v["customer_id"],
                time(v["created_at"]),
                time(v["updated_at"]),
                time(v["last_inbound_at"]),
                v.get("follow_up_of_id"),
                self.encode.json({}),
            ),
        )
        await self.conn.execute(
            AUDIT,
            (time(v["created_at"]), v["customer_id"], ticket_id, self.encode.json(audit)),
        )
        return ticket_id

    async def insert_message(
        self, v: dict[str, Any], *, touch: bool, reopen: bool, events: EventsFor
    ) -> tuple[int, list[Event]] | None:
        time = self.encode.time
        now = time(v["now"])
        if touch:
            cursor = await self.conn.execute(
                REOPEN if reopen else TOUCH, (now, now, v["ticket_id"])
            )
            if cursor.rowcount != 1:
                return None
        message_id = await self._insert(
            INSERT_MESSAGE,
            (
                v["ticket_id"],
                v["direction"],
                v["channel"],
                v["external_id"],
                v["author_name"],
                v["text"],
                v["html"],
                v["email_message_id"],
                v["delivery_status"],
                time(v["created_at"]),
                token_string(v["text"] or ""),
                v.get("thread_reason"),
                None
                if v.get("email_meta") is None
                else json.dumps(v["email_meta"], ensure_ascii=False),
            ),
        )
        built = events(message_id)
        return message_id, await eventlog.record_on_sqlite(self.conn, built, v["now"], self.encode)

    async def insert_attachments(
        self, message_id: int, attachments: Sequence[AttachmentRef]
    ) -> None:
        await self.conn.executemany(
            INSERT_ATTACHMENT,
            [(message_id, a.name, a.content_type, a.size, a.blob_ref) for a in attachments],
        )

    async def claim_email(self, customer_id: int, email: str, now: datetime) -> None:
        await self.conn.execute(
            CLAIM_EMAIL,
            {"customer_id": customer_id, "address": email, "now": self.encode.time(now)},
        )


class SqliteFastPath:
    """Ingest on the aiosqlite connection of a connection checked out of the engine's
    pool, in this process's turn (``serial``, the desk's lock). A pool that stays
    exhausted for the engine's pool timeout becomes ``Unavailable``."""

    def __init__(self, engine: AsyncEngine, serial: asyncio.Lock) -> None:
        self.engine = engine
        self.serial = serial
        self.encode = eventlog.sqlite_values(engine)

    @asynccontextmanager
    async def _driver(self) -> AsyncIterator[Any]:
        try:
            async with self.serial:
                async with unavailable_when_pool_is_exhausted():
                    pooled = await self.engine.raw_connection()
                try:
                    yield pooled.driver_connection
                finally:
                    await greenlet_spawn(pooled.close)
        finally:
            await fair_turn()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteIngestStore]:
        """One ``BEGIN IMMEDIATE`` transaction; a unique violation that escapes (a twin
        committed first) becomes ``IngestRace`` for the caller's retry."""
        async with self._driver() as conn:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteIngestStore(conn, self.encode)
            except BaseException as err:
                await conn.rollback()
                if isinstance(err, sqlite3.IntegrityError):
                    raise IngestRace(str(err)) from err
                raise
            await conn.commit()

    async def mark_relayed(self, row_ids: Sequence[int], now: datetime) -> None:
        """Marks published events relayed: one statement (its own transaction) whatever
        the batch's size, the ids passed as one JSON array."""
        async with self._driver() as conn:
            await conn.execute(MARK_RELAYED, (self.encode.time(now), json.dumps(list(row_ids))))

    async def close(self) -> None:
        """Nothing of its own to close: the engine owns the pool."""
