"""``create_ticket``: work that arrives outside the channels (a phone call logged by hand,
a walk-in, a website form or the ERP through the API) becomes a ticket like any other.

Decisions where the issue is silent:
- the customer is found by a verified identity (email first when the ticket is on email,
  else phone), else made; an address the staff member typed that nobody owns is added
  to that customer as a verified identity (staff vouch for it, and the customer's next
  SMS or mail then threads to them); an address owned by another customer is left there
  (merging is a separate, recorded act). At least one of email and phone is required:
  a ticket nobody can be answered on is not worth opening.
- the channel defaults to ``email`` when an email is given, else ``sms`` (a logged call
  is answered by text); ``voice`` and ``sms`` need a phone, ``email`` an email; ``api``
  is accepted (no reply channel); chat and Telegram conversations start from the
  customer only.
- it always opens a new ticket (no threading into an open one: staff asked for a new
  one). Status ``new``; ``TicketCreated`` and ``MessageReceived`` go out so routing
  offers it and the SLA clocks start, exactly as for ingest. The text is the first
  message, inbound, authored by the customer; the staff member who logged it is
  recorded on the message (``author_user_id``) and in the audit log.
- the queue: as asked (an agent only into their own queues), else the inbound queue
  chooser's choice, else ``DEFAULT_QUEUE``; an agent's ticket that would land outside
  their queues goes to their first queue instead, so they can see what they made.
- ``Idempotency-Key``: stored per user with a hash of the request; a retry with the same
  key answers the first ticket (``replayed``), a concurrent twin waits on the key's
  unique index and answers the first too, and the same key with a different request is
  a ``Conflict``. Keys are kept (pruning old ones is left to a maintenance job).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tickets import audit
from tickets.contracts import (
    Channel,
    DeliveryStatus,
    Direction,
    InboundMessage,
    Priority,
    TicketStatus,
)
from tickets.errors import Conflict, Forbidden, Invalid
from tickets.events import Event, MessageReceived, TicketCreated
from tickets.identity import (
    PHONE_IDENTITY,
    InvalidAddress,
    identity_channel,
    normalize_email,
    normalize_phone,
)
from tickets.ingest.policy import QueueChooser
from tickets.language import detect_language
from tickets.models import (
    Customer,
    CustomerIdentity,
    IdempotencyKey,
    Message,
    Queue,
    Ticket,
    TicketTag,
    format_number,
)
from tickets.staff import DEFAULT_QUEUE, StaffUser
from tickets.textcheck import storable_text

MAX_TEXT = 20_000
MAX_SUBJECT = 500
MAX_NAME = 200
MAX_KEY = 200
MAX_EMAIL = 320
MAX_PHONE = 40
MAX_TAGS = 50
ADDRESSED = {
    Channel.EMAIL: "email",
    Channel.SMS: "phone",
    Channel.VOICE: "phone",
}


@dataclass(frozen=True, slots=True)
class NewTicket:
    """What the "new ticket" form and ``POST /api/v1/tickets`` carry."""

    customer_name: str
    subject: str
    text: str
    email: str | None = None
    phone: str | None = None
    channel: str | None = None
    queue: str | None = None
    priority: str | None = None
    tags: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        raw = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False, default=list)
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Created:
    """The ticket made (or, ``replayed``, the one an earlier call with the same
    idempotency key made) and the events to publish (none on a replay)."""

    ticket_id: int
    customer_id: int
    message_id: int | None
    replayed: bool
    events: tuple[Event, ...]

    @property
    def number(self) -> str:
        return format_number(self.ticket_id)


def _required(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{what} must be a non-empty string")
    if len(value) > limit:
        raise Invalid(f"{what} is longer than {limit} characters")
    return storable_text(value, what).strip()


def _clean_tag(tag: object) -> str:
    if not isinstance(tag, str) or not tag.strip() or len(tag) > 100:
        raise Invalid("a tag is a non-empty string of at most 100 characters")
    return storable_text(tag, "a tag").strip().lower()


def check_idempotency_key(key: str) -> str:
    if not (0 < len(key) <= MAX_KEY and key.isascii() and key.isprintable()):
        raise Invalid(f"Idempotency-Key must be 1 to {MAX_KEY} printable ASCII characters")
    return key


async def create_ticket(
    session: AsyncSession,
    staff: StaffUser,
    new: NewTicket,
    now: datetime,
    *,
    idempotency_key: str | None = None,
    choose_queue: QueueChooser | None = None,
) -> Created:
    """Opens a ticket for ``new`` in the caller's transaction (see the module doc)."""
    name = _required(new.customer_name, "customer.name", MAX_NAME)
    subject = _required(new.subject, "subject", MAX_SUBJECT)
    text = _required(new.text, "text", MAX_TEXT)
    if len(new.email or "") > MAX_EMAIL or len(new.phone or "") > MAX_PHONE:
        raise Invalid(f"an email is at most {MAX_EMAIL} characters, a phone {MAX_PHONE}")
    try:
        email = normalize_email(new.email) if new.email else None
        phone = normalize_phone(new.phone) if new.phone else None
    except InvalidAddress as err:
        raise Invalid(str(err)) from err
    if email is None and phone is None:
        raise Invalid("give the customer's email or phone, so they can be answered")
    channel = _channel(new.channel, email, phone)
    try:
        priority = Priority(new.priority or Priority.NORMAL.value)
    except ValueError as err:
        raise Invalid(f"unknown priority {new.priority!r}") from err
    if len(new.tags) > MAX_TAGS:
        raise Invalid(f"at most {MAX_TAGS} tags")
    tags = sorted({_clean_tag(t) for t in new.tags})

    fingerprint = new.fingerprint()
    if idempotency_key is not None:
        earlier = await _claim_key(
            session, staff, check_idempotency_key(idempotency_key), fingerprint, now
        )
        if earlier is not None:
            return earlier

    queue_id, queue_name = await _queue(
        session, staff, new, channel, email or phone or "", now, choose_queue
    )
    customer_id = await _customer(session, name, channel, email, phone, now)
    ticket_id = (
        await session.execute(
            insert(Ticket)
            .values(
                subject=subject,
                status=TicketStatus.NEW.value,
                priority=priority.value,
                channel=channel.value,
                language=detect_language(f"{subject} {text}"),
                queue_id=queue_id,
                customer_id=customer_id,
                created_at=now,
                updated_at=now,
                last_inbound_at=now,
                sla={},
            )
            .returning(Ticket.id)
        )
    ).scalar_one()
    if tags:
        await session.execute(insert(TicketTag), [{"ticket_id": ticket_id, "tag": t} for t in tags])
    message_id = (
        await session.execute(
            insert(Message)
            .values(
                ticket_id=ticket_id,
                direction=Direction.IN.value,
                channel=channel.value,
                author_user_id=staff.id,
                author_name=name,
                text=text,
                delivery_status=DeliveryStatus.RECEIVED.value,
                created_at=now,
            )
            .returning(Message.id)
        )
    ).scalar_one()
    await audit.record(
        session,
        staff.actor,
        "ticket.created",
        now,
        ticket_id,
        channel=channel.value,
        queue=queue_name,
        customer=customer_id,
        message_id=message_id,
        logged_by=staff.email,
    )
    if idempotency_key is not None:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.user_id == staff.id, IdempotencyKey.key == idempotency_key)
            .values(ticket_id=ticket_id)
        )
    number = format_number(ticket_id)
    events: tuple[Event, ...] = (
        TicketCreated(ticket_id, number, channel.value, queue_name, priority.value, customer_id),
        MessageReceived(ticket_id, number, message_id, channel.value, customer_id),
    )
    return Created(ticket_id, customer_id, message_id, False, events)


def _channel(wanted: str | None, email: str | None, phone: str | None) -> Channel:
    if wanted is None:
        return Channel.EMAIL if email else Channel.SMS
    try:
        channel = Channel(wanted)
    except ValueError as err:
        raise Invalid(f"unknown channel {wanted!r}") from err
    if channel in (Channel.WEBCHAT, Channel.TELEGRAM):
        raise Invalid(f"a {channel.value} conversation starts from the customer")
    need = ADDRESSED.get(channel)
    if need == "email" and email is None:
        raise Invalid("an email ticket needs the customer's email")
    if need == "phone" and phone is None:
        raise Invalid(f"an {channel.value} ticket needs the customer's phone")
    return channel


async def _claim_key(
    session: AsyncSession, staff: StaffUser, key: str, fingerprint: str, now: datetime
) -> Created | None:
    """The earlier result for this key, or None after claiming the key for this call.
    A concurrent twin's claim blocks on the unique key until the first commits (or
    rolls back), then finds its result."""
    earlier = await _earlier(session, staff, key, fingerprint)
    if earlier is not None:
        return earlier
    try:
        async with session.begin_nested():
            await session.execute(
                insert(IdempotencyKey).values(
                    user_id=staff.id, key=key, request_hash=fingerprint, created_at=now
                )
            )
    except IntegrityError:
        earlier = await _earlier(session, staff, key, fingerprint)
        if earlier is None:
            raise Conflict("a request with this Idempotency-Key is still running") from None
        return earlier
    return None


async def _earlier(
    session: AsyncSession, staff: StaffUser, key: str, fingerprint: str
) -> Created | None:
    row = (
        await session.execute(
            select(IdempotencyKey.request_hash, IdempotencyKey.ticket_id, Ticket.customer_id)
            .outerjoin(Ticket, Ticket.id == IdempotencyKey.ticket_id)
            .where(IdempotencyKey.user_id == staff.id, IdempotencyKey.key == key)
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Conflict("this Idempotency-Key was used for a different request")
    if row.ticket_id is None:
        raise Conflict("a request with this Idempotency-Key is still running")
    return Created(row.ticket_id, row.customer_id, None, True, ())


async def _queue(
    session: AsyncSession,
    staff: StaffUser,
    new: NewTicket,
    channel: Channel,
    address: str,
    now: datetime,
    choose_queue: QueueChooser | None,
) -> tuple[int | None, str | None]:
    if new.queue is not None:
        found = (await session.execute(select(Queue.id).where(Queue.name == new.queue))).scalar()
        if found is None:
            raise Invalid(f"no queue {new.queue!r}")
        if not staff.sees_all_queues and found not in staff.queue_ids:
            raise Forbidden(f"you are not a member of queue {new.queue}")
        return found, new.queue
    candidates: list[str] = []
    if choose_queue is not None:
        msg = InboundMessage(
            channel=channel,
            external_id="",
            sender=address,
            text=new.text,
            received_at=now,
            display_name=new.customer_name,
            subject=new.subject,
        )
        candidates.extend(choose_queue(msg, "standard"))
    candidates.append(DEFAULT_QUEUE)
    rows = dict(
        (
            await session.execute(select(Queue.name, Queue.id).where(Queue.name.in_(candidates)))
        ).all()
    )
    for name in candidates:
        queue_id = rows.get(name)
        if queue_id is not None and (staff.sees_all_queues or queue_id in staff.queue_ids):
            return queue_id, name
    if not staff.sees_all_queues:
        return await _own_queue(session, staff)
    return None, None


async def _own_queue(session: AsyncSession, staff: StaffUser) -> tuple[int | None, str | None]:
    if not staff.queue_ids:
        raise Forbidden("you are in no queue, so a ticket you open would be invisible to you")
    row = (
        await session.execute(
            select(Queue.id, Queue.name)
            .where(Queue.id.in_(sorted(staff.queue_ids)))
            .order_by(Queue.id)
            .limit(1)
        )
    ).one()
    return row[0], row[1]


async def _find(session: AsyncSession, channel: str, address: str) -> int | None:
    return (
        await session.execute(
            select(CustomerIdentity.customer_id).where(
                CustomerIdentity.channel == channel,
                CustomerIdentity.address == address,
                CustomerIdentity.verified,
            )
        )
    ).scalar()


async def _customer(
    session: AsyncSession,
    name: str,
    channel: Channel,
    email: str | None,
    phone: str | None,
    now: datetime,
) -> int:
    addresses: list[tuple[str, str]] = []
    if email:
        addresses.append((Channel.EMAIL.value, email))
    if phone:
        addresses.append((PHONE_IDENTITY, phone))
    addresses.sort(key=lambda a: a[0] != identity_channel(channel))  # the ticket's first
    owners = [await _find(session, ch, addr) for ch, addr in addresses]
    customer_id = next((o for o in owners if o is not None), None)
    if customer_id is None:
        try:
            async with session.begin_nested():
                customer_id = (
                    await session.execute(
                        insert(Customer)
                        .values(name=name, tier="standard", created_at=now)
                        .returning(Customer.id)
                    )
                ).scalar_one()
                for ch, addr in addresses:
                    await session.execute(
                        insert(CustomerIdentity).values(
                            customer_id=customer_id,
                            channel=ch,
                            address=addr,
                            verified=True,
                            created_at=now,
                        )
                    )
            return customer_id
        except IntegrityError:  # a concurrent ingest made the customer: use theirs
            owners = [await _find(session, ch, addr) for ch, addr in addresses]
            customer_id = next((o for o in owners if o is not None), None)
            if customer_id is None:
                raise Conflict("the customer changed meanwhile; try again") from None
    await session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())
    await session.execute(
        update(Customer).where(Customer.id == customer_id, Customer.name == "").values(name=name)
    )
    await _add_identities(
        session, customer_id, [a for a, o in zip(addresses, owners, strict=True) if o is None], now
    )
    return customer_id


async def _add_identities(
    session: AsyncSession, customer_id: int, addresses: Sequence[tuple[str, str]], now: datetime
) -> None:
    """Adds each unowned address; one a concurrent ingest took meanwhile stays theirs."""
    for channel, address in addresses:
        try:
            async with session.begin_nested():
                await session.execute(
                    insert(CustomerIdentity).values(
                        customer_id=customer_id,
                        channel=channel,
                        address=address,
                        verified=True,
                        created_at=now,
                    )
                )
        except IntegrityError:
            continue
