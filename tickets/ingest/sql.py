"""The ingest store on any SQLAlchemy connection (SQLite, or PostgreSQL when the fast
path is not wanted). Statements are built once with bound parameters, so the per-message
cost is execution, not expression building."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tickets import eventlog
from tickets.contracts import AttachmentRef, Channel
from tickets.events import Event
from tickets.identity import identity_channel
from tickets.ingest.store import EventsFor, MessageRef, TicketRef
from tickets.models import (
    Attachment,
    AuditEntry,
    Customer,
    CustomerIdentity,
    Message,
    Queue,
    Ticket,
    TicketParticipant,
)
from tickets.status import OPEN_STATUSES

FIND_CUSTOMER = (
    select(Customer.id)
    .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)
    .where(
        CustomerIdentity.channel == bindparam("channel"),
        CustomerIdentity.address == bindparam("address"),
        CustomerIdentity.verified,
    )
    .with_for_update(of=Customer)
)
FIND_MESSAGE = select(Message.id, Message.ticket_id).where(
    Message.channel == bindparam("channel"), Message.external_id == bindparam("external_id")
)
OPEN_TICKET = (
    select(Ticket.id, Ticket.status)
    .where(
        Ticket.customer_id == bindparam("customer_id"),
        Ticket.channel == bindparam("channel"),
        Ticket.status != "closed",
    )
    .order_by(Ticket.id.desc())
    .limit(1)
)
INSERT_MESSAGE = insert(Message).returning(Message.id)
CUSTOMER_TIER = select(Customer.tier).where(Customer.id == bindparam("customer_id"))
INSERT_TICKET = insert(Ticket).returning(Ticket.id)
INSERT_AUDIT = insert(AuditEntry)


class SqlIngestStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def find_customer(self, channel: str, address: str) -> int | None:
        return (
            await self.conn.execute(
                FIND_CUSTOMER, {"channel": identity_channel(channel), "address": address}
            )
        ).scalar()

    async def create_customer(
        self, channel: str, address: str, name: str, now: datetime
    ) -> int | None:
        try:
            async with self.conn.begin_nested():
                customer_id = (
                    await self.conn.execute(
                        insert(Customer)
                        .values(name=name, tier="standard", created_at=now)
                        .returning(Customer.id)
                    )
                ).scalar_one()
                await self.conn.execute(
                    insert(CustomerIdentity).values(
                        customer_id=customer_id,
                        channel=identity_channel(channel),
                        address=address,
                        created_at=now,
                    )
                )
                return customer_id
        except IntegrityError:
            return None

    async def lookup(
        self, channel: str, external_id: str, customer_id: int, *, open_ticket: bool
    ) -> tuple[MessageRef | None, TicketRef | None]:
        row = (
            await self.conn.execute(FIND_MESSAGE, {"channel": channel, "external_id": external_id})
        ).first()
        if row is not None:
            return MessageRef(row[0], row[1]), None
        if not open_ticket:
            return None, None
        found = (
            await self.conn.execute(OPEN_TICKET, {"customer_id": customer_id, "channel": channel})
        ).first()
        return None, None if found is None else TicketRef(found[0], found[1])

    async def ticket_by_email_refs(self, refs: Sequence[str]) -> TicketRef | None:
        row = (
            await self.conn.execute(
                select(Ticket.id, Ticket.status)
                .join(Message, Message.ticket_id == Ticket.id)
                .where(
                    or_(
                        Message.email_message_id.in_(list(refs)),
                        and_(Message.channel == "email", Message.external_id.in_(list(refs))),
                    )
                )
                .order_by(Message.id.desc())
                .limit(1)
            )
        ).first()
        return None if row is None else TicketRef(row[0], row[1])

    async def ticket_of_customer(self, ticket_id: int, customer_id: int) -> TicketRef | None:
        row = (
            await self.conn.execute(
                select(Ticket.id, Ticket.status).where(
                    Ticket.id == ticket_id, Ticket.customer_id == customer_id
                )
            )
        ).first()
        return None if row is None else TicketRef(row[0], row[1])

    async def ticket_by_id(self, ticket_id: int) -> TicketRef | None:
        row = (
            await self.conn.execute(select(Ticket.id, Ticket.status).where(Ticket.id == ticket_id))
        ).first()
        return None if row is None else TicketRef(row[0], row[1])

    async def may_write(self, ticket_id: int, customer_id: int, address: str) -> bool:
        owner = (
            await self.conn.execute(select(Ticket.customer_id).where(Ticket.id == ticket_id))
        ).scalar()
        if owner == customer_id:
            return True
        held = (
            await self.conn.execute(
                select(TicketParticipant.ticket_id).where(
                    TicketParticipant.ticket_id == ticket_id, TicketParticipant.address == address
                )
            )
        ).first()
        return held is not None

    async def open_email_tickets(
        self, customer_id: int, since: datetime
    ) -> list[tuple[int, str, str]]:
        rows = await self.conn.execute(
            select(Ticket.id, Ticket.status, Ticket.subject)
            .where(
                Ticket.customer_id == customer_id,
                Ticket.channel == "email",
                Ticket.status.in_([s.value for s in OPEN_STATUSES]),
                Ticket.updated_at >= since,
            )
            .order_by(Ticket.id.desc())
            .limit(20)
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def add_participants(
        self, ticket_id: int, addresses: Sequence[str], now: datetime
    ) -> None:
        held = set(
            (
                await self.conn.execute(
                    select(TicketParticipant.address).where(
                        TicketParticipant.ticket_id == ticket_id,
                        TicketParticipant.address.in_(list(addresses)),
                    )
                )
            ).scalars()
        )
        new = [a for a in dict.fromkeys(addresses) if a not in held]
        if new:
            await self.conn.execute(
                insert(TicketParticipant),
                [
                    {"ticket_id": ticket_id, "address": a, "role": "cc", "created_at": now}
                    for a in new
                ],
            )

    async def queue_id(self, name: str) -> int | None:
        return (await self.conn.execute(select(Queue.id).where(Queue.name == name))).scalar()

    async def customer_tier(self, customer_id: int) -> str:
        tier = (await self.conn.execute(CUSTOMER_TIER, {"customer_id": customer_id})).scalar()
        return tier or "standard"

    async def insert_ticket(self, values: dict[str, Any], *, audit: dict[str, Any]) -> int:
        ticket_id = int(
            (await self.conn.execute(INSERT_TICKET, [{**values, "sla": {}}])).scalar_one()
        )
        await self.conn.execute(
            INSERT_AUDIT,
            {
                "at": values["created_at"],
                "actor_kind": "customer",
                "actor_id": values["customer_id"],
                "actor_label": "",
                "action": "ticket.created",
                "ticket_id": ticket_id,
                "data": audit,
            },
        )
        return ticket_id

    async def insert_message(
        self, values: dict[str, Any], *, touch: bool, reopen: bool, events: EventsFor
    ) -> tuple[int, list[Event]] | None:
        now = values.pop("now")
        if touch:
            changes: dict[str, Any] = {"updated_at": now, "last_inbound_at": now}
            if reopen:
                changes.update(status="open", solved_at=None)
            touched = (
                await self.conn.execute(
                    update(Ticket)
                    .where(Ticket.id == values["ticket_id"], Ticket.status != "closed")
                    .values(**changes)
                    .returning(Ticket.id)
                )
            ).scalar()
            if touched is None:
                return None
        message_id = int((await self.conn.execute(INSERT_MESSAGE, [values])).scalar_one())
        return message_id, await eventlog.record_events(self.conn, events(message_id), now)

    async def insert_attachments(
        self, message_id: int, attachments: Sequence[AttachmentRef]
    ) -> None:
        await self.conn.execute(insert(Attachment), attachment_rows(message_id, attachments))

    async def claim_email(self, customer_id: int, email: str, now: datetime) -> None:
        held = (
            await self.conn.execute(
                select(CustomerIdentity.id).where(
                    CustomerIdentity.customer_id == customer_id,
                    CustomerIdentity.channel == Channel.EMAIL.value,
                    CustomerIdentity.address == email,
                )
            )
        ).first()
        if held is None:
            await self.conn.execute(
                insert(CustomerIdentity).values(
                    customer_id=customer_id,
                    channel=Channel.EMAIL.value,
                    address=email,
                    verified=False,
                    created_at=now,
                )
            )


def attachment_rows(message_id: int, attachments: Sequence[AttachmentRef]) -> list[dict[str, Any]]:
    """``attachments`` rows of one message, for a bulk insert."""
    return [
        {
            "message_id": message_id,
            "name": a.name,
            "content_type": a.content_type,
            "size": a.size,
            "blob_ref": a.blob_ref,
        }
        for a in attachments
    ]
