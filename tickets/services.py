"""The verbs staff use on tickets: ``reply``, ``add_note``, ``update_ticket``,
``merge_customers``. Each takes the caller's session (the caller owns the transaction and
commits), an explicit actor and clock, writes an audit row, and returns the events to
publish after commit. No other room writes ticket rows.

A reply goes to the customer's identity on the ticket's channel (or the channel asked
for) and is queued in the outbox in the same transaction; the outbox dispatcher sends it.
Replying to a new ticket opens it, like Zendesk's "submit as open". A note is a message
with direction ``note`` and nothing else: no outbox row, no ``OutboxQueued``, so no channel
can ever carry it to the customer.

Rules (issue 7), and decisions where it is silent:
- a ticket the caller may not see is ``NotFound``, never ``Forbidden`` (a guessed number
  must not reveal that a ticket exists);
- agents assign only to themselves (and may unassign only themselves); assigning anyone
  else and moving a ticket to another queue is for supervisors and admins; whoever is
  assigned must be a member of the ticket's queue (after a move in the same change), so a
  move that would strand the current assignee outside the queue is refused unless the
  change also reassigns or unassigns;
- a closed ticket is read-only: replies and every change are a ``Conflict``; internal
  notes are still allowed (they are the team's record);
- every stored text (reply, note, tag) passes ``storable_text``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tickets import audit, reachability
from tickets.contracts import (
    Actor,
    AttachmentRef,
    Channel,
    DeliveryStatus,
    Direction,
    Priority,
    TicketStatus,
)
from tickets.errors import Conflict, Forbidden, Invalid, NotFound
from tickets.events import (
    CustomersMerged,
    CustomersUnmerged,
    Event,
    MessageSent,
    OutboxQueued,
    TicketAssigned,
    TicketStatusChanged,
    TicketUpdated,
)
from tickets.identity import identity_channel
from tickets.ingest.sql import attachment_rows
from tickets.models import (
    Attachment,
    Customer,
    CustomerIdentity,
    CustomerMerge,
    Message,
    OutboxEntry,
    Queue,
    QueueMember,
    Ticket,
    TicketTag,
    User,
    parse_number,
)
from tickets.staff import StaffUser, may_change, may_see
from tickets.status import TransitionError, check_transition
from tickets.textcheck import storable_text

MAX_REPLY = 20_000
MAX_REPLY_FILES = 10
MAX_TAGS = 50


@dataclass(frozen=True, slots=True)
class Written:
    """What a service wrote: the message (when there is one) and the events to publish."""

    ticket_id: int
    message_id: int | None
    events: tuple[Event, ...]


async def load_ticket(session: AsyncSession, number: str, *, lock: bool = False) -> Ticket:
    ticket_id = parse_number(number)
    if ticket_id is None:
        raise NotFound(f"no ticket {number}")
    query = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        query = query.with_for_update()
    ticket = (await session.execute(query)).scalar_one_or_none()
    if ticket is None:
        raise NotFound(f"no ticket {number}")
    return ticket


async def load_visible(
    session: AsyncSession, staff: StaffUser, number: str, *, lock: bool = False
) -> Ticket:
    """The ticket when the caller may see it; ``NotFound`` alike for a missing one and one
    outside the caller's queues."""
    ticket = await load_ticket(session, number, lock=lock)
    if not may_see(staff, ticket):
        raise NotFound(f"no ticket {number}")
    return ticket


def _clean_text(text: object, limit: int) -> str:
    if not isinstance(text, str) or not text.strip():
        raise Invalid("text must be a non-empty string")
    if len(text) > limit:
        raise Invalid(f"text is longer than {limit} characters")
    return storable_text(text)


def _read_only(ticket: Ticket) -> None:
    if ticket.status == TicketStatus.CLOSED:
        raise Conflict(
            f"{ticket.number} is closed and read-only (notes only); open a follow-up ticket"
        )


async def reply(
    session: AsyncSession,
    staff: StaffUser,
    number: str,
    text: str,
    now: datetime,
    *,
    channel: Channel | None = None,
    html: str | None = None,
    reachable: Callable[[Channel], bool] | None = None,
    attachments: Sequence[AttachmentRef] = (),
) -> Written:
    """``reachable`` tells whether this server can send on a channel at all; a reply on
    one it cannot is refused now instead of failing later in the outbox. The recipient is
    the customer's oldest verified address on that channel; an address a chat visitor only
    typed (an unverified claim) is used when there is no other.

    ``attachments`` (files already in the blob store) go out with the reply; a reply
    with files may have no text. SMS and voice cannot carry the agent's files (Twilio
    fetches MMS media from public URLs, and staff files are private): refused."""
    ticket = await load_visible(session, staff, number, lock=True)
    if len(attachments) > MAX_REPLY_FILES:
        raise Invalid(f"a reply carries at most {MAX_REPLY_FILES} files")
    body = "" if attachments and not text.strip() else _clean_text(text, MAX_REPLY)
    _read_only(ticket)
    via = channel or Channel(ticket.channel)
    if reachable is not None and not reachable(via):
        raise Invalid(f"the {via.value} channel is not configured on this server")
    if attachments and via in (Channel.SMS, Channel.VOICE):
        raise Invalid(f"files cannot be sent by {via.value}; reply on another channel")
    recipient = (
        await session.execute(
            select(CustomerIdentity.address)
            .where(
                CustomerIdentity.customer_id == ticket.customer_id,
                CustomerIdentity.channel == identity_channel(via),
            )
            .order_by(CustomerIdentity.verified.desc(), CustomerIdentity.id)
            .limit(1)
        )
    ).scalar()
    if recipient is None:
        raise Invalid(f"the customer has no {via.value} address")
    blocked = await reachability.unreachable_reason(session, via, recipient)
    if blocked is not None:
        raise Invalid(f"the customer cannot be reached on {via.value}: {blocked}")

    message_id = (
        await session.execute(
            insert(Message)
            .values(
                ticket_id=ticket.id,
                direction=Direction.OUT.value,
                channel=via.value,
                author_user_id=staff.id,
                author_name=staff.name,
                recipient=recipient,
                text=body,
                html=html,
                delivery_status=DeliveryStatus.QUEUED.value,
                created_at=now,
            )
            .returning(Message.id)
        )
    ).scalar_one()
    if attachments:
        await session.execute(insert(Attachment), attachment_rows(message_id, attachments))
    await session.execute(
        insert(OutboxEntry).values(
            message_id=message_id,
            channel=via.value,
            idempotency_key=uuid.uuid4().hex,
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    events: list[Event] = [
        MessageSent(ticket.id, ticket.number, message_id, via.value, "out", staff.email),
        OutboxQueued(message_id, via.value),
    ]
    changes: dict[str, object] = {"updated_at": now}
    if ticket.first_response_at is None:
        changes["first_response_at"] = now
    if ticket.status == TicketStatus.NEW:
        changes["status"] = TicketStatus.OPEN.value
        events.append(
            TicketStatusChanged(ticket.id, ticket.number, ticket.status, "open", ticket.channel)
        )
    await session.execute(update(Ticket).where(Ticket.id == ticket.id).values(**changes))
    await audit.record(
        session,
        staff.actor,
        "message.replied",
        now,
        ticket.id,
        message_id=message_id,
        channel=via.value,
    )
    return Written(ticket.id, message_id, tuple(events))


async def add_note(
    session: AsyncSession, staff: StaffUser, number: str, text: str, now: datetime
) -> Written:
    ticket = await load_visible(session, staff, number)
    body = _clean_text(text, MAX_REPLY)
    message_id = (
        await session.execute(
            insert(Message)
            .values(
                ticket_id=ticket.id,
                direction=Direction.NOTE.value,
                channel=ticket.channel,
                author_user_id=staff.id,
                author_name=staff.name,
                text=body,
                delivery_status=None,
                created_at=now,
            )
            .returning(Message.id)
        )
    ).scalar_one()
    await session.execute(update(Ticket).where(Ticket.id == ticket.id).values(updated_at=now))
    await audit.record(session, staff.actor, "message.noted", now, ticket.id, message_id=message_id)
    return Written(
        ticket.id,
        message_id,
        (MessageSent(ticket.id, ticket.number, message_id, ticket.channel, "note", staff.email),),
    )


@dataclass(frozen=True, slots=True)
class TicketChanges:
    """A PATCH: ``None`` means "leave alone"; ``assignee=""`` means "unassign"."""

    status: str | None = None
    priority: str | None = None
    assignee: str | None = None
    queue: str | None = None
    tags: list[str] | None = None


async def update_ticket(
    session: AsyncSession,
    staff: StaffUser,
    number: str,
    changes: TicketChanges,
    now: datetime,
    *,
    reason: str = "manual",
) -> Written:
    ticket = await load_visible(session, staff, number, lock=True)
    if not may_change(staff, ticket):
        raise Forbidden(f"you are not a member of the queue of {number}")
    if changes != TicketChanges():
        _read_only(ticket)
    events: list[Event] = []
    values: dict[str, object] = {}
    done: dict[str, object] = {}

    if changes.status is not None and changes.status != ticket.status:
        try:
            new = TicketStatus(changes.status)
            check_transition(TicketStatus(ticket.status), new)
        except (ValueError, TransitionError) as err:
            raise Invalid(str(err)) from err
        values["status"] = new.value
        if new is TicketStatus.SOLVED:
            values["solved_at"] = now
        if new is TicketStatus.CLOSED:
            values["closed_at"] = now
        events.append(
            TicketStatusChanged(ticket.id, ticket.number, ticket.status, new.value, ticket.channel)
        )
        done["status"] = new.value

    if changes.priority is not None and changes.priority != ticket.priority:
        try:
            values["priority"] = Priority(changes.priority).value
        except ValueError as err:
            raise Invalid(f"unknown priority {changes.priority!r}") from err
        done["priority"] = changes.priority

    queue_id = ticket.queue_id
    if changes.queue is not None:
        found = (
            await session.execute(select(Queue.id).where(Queue.name == changes.queue))
        ).scalar()
        if found is None:
            raise Invalid(f"no queue {changes.queue!r}")
        if found != ticket.queue_id:
            if not staff.supervises:
                raise Forbidden("only supervisors and admins move tickets to another queue")
            queue_id = values["queue_id"] = found
            done["queue"] = changes.queue

    assignee_id, email = ticket.assignee_id, None
    if changes.assignee is not None:
        wanted_id: int | None = None
        if changes.assignee:
            row = (
                await session.execute(
                    select(User.id, User.email).where(
                        User.email == changes.assignee.strip().lower(), User.is_active.is_(True)
                    )
                )
            ).first()
            if row is None:
                raise Invalid(f"no active user {changes.assignee!r}")
            wanted_id, email = row.id, row.email
        if wanted_id != ticket.assignee_id:
            own = wanted_id == staff.id or (wanted_id is None and ticket.assignee_id == staff.id)
            if not staff.supervises and not own:
                raise Forbidden("agents assign tickets only to themselves")
            assignee_id = wanted_id
            values["assignee_id"] = assignee_id
            done["assignee"] = email
            events.append(TicketAssigned(ticket.id, ticket.number, assignee_id, email, reason))

    moved_or_assigned = "assignee_id" in values or "queue_id" in values
    if assignee_id is not None and queue_id is not None and moved_or_assigned:
        await _check_member(session, assignee_id, queue_id)

    if changes.tags is not None:
        tags = sorted({_clean_tag(t) for t in changes.tags})
        if len(tags) > MAX_TAGS:
            raise Invalid(f"at most {MAX_TAGS} tags")
        await session.execute(delete(TicketTag).where(TicketTag.ticket_id == ticket.id))
        if tags:
            await session.execute(
                insert(TicketTag), [{"ticket_id": ticket.id, "tag": t} for t in tags]
            )
        done["tags"] = tags

    if not done:
        return Written(ticket.id, None, ())
    values["updated_at"] = now
    await session.execute(update(Ticket).where(Ticket.id == ticket.id).values(**values))
    await audit.record(
        session, staff.actor, "ticket.updated", now, ticket.id, reason=reason, **done
    )
    events.insert(0, TicketUpdated(ticket.id, ticket.number, done))
    return Written(ticket.id, None, tuple(events))


async def _check_member(session: AsyncSession, user_id: int, queue_id: int) -> None:
    member = (
        await session.execute(
            select(QueueMember.user_id).where(
                QueueMember.user_id == user_id, QueueMember.queue_id == queue_id
            )
        )
    ).scalar()
    if member is None:
        email = (await session.execute(select(User.email).where(User.id == user_id))).scalar()
        queue = (await session.execute(select(Queue.name).where(Queue.id == queue_id))).scalar()
        raise Invalid(
            f"{email} is not a member of queue {queue}; assign a member or unassign the ticket"
        )


def _clean_tag(tag: object) -> str:
    if not isinstance(tag, str) or not tag.strip() or len(tag) > 100:
        raise Invalid("a tag is a non-empty string of at most 100 characters")
    return storable_text(tag, "a tag").strip().lower()


@dataclass(frozen=True, slots=True)
class Merged(Written):
    """A merge as written: ``merge_id`` names the record ``unmerge_customers`` undoes."""

    merge_id: int = 0


async def merge_customers(
    session: AsyncSession, staff: StaffUser, keep_id: int, merge_id: int, now: datetime
) -> Merged:
    """Moves every identity and ticket of ``merge_id`` onto ``keep_id``; the merged
    customer stays as a tombstone pointing at the kept one. The merge is recorded with
    exactly what moved, so it can be undone (``unmerge_customers``)."""
    if keep_id == merge_id:
        raise Invalid("cannot merge a customer into itself")
    if not staff.supervises:
        raise Forbidden("only supervisors and admins merge customers")
    return await merge_customer_rows(session, staff.actor, staff.id, keep_id, merge_id, now)


async def merge_customer_rows(
    session: AsyncSession,
    actor: Actor,
    merged_by: int | None,
    keep_id: int,
    merge_id: int,
    now: datetime,
) -> Merged:
    """The merge itself, for a caller that has decided it may happen: a supervisor
    (``merge_customers``) or the system on proof the two are one person (a phone number
    the customer shared from their own Telegram account); undoable either way."""
    rows = (
        (
            await session.execute(
                select(Customer)
                .where(Customer.id.in_([keep_id, merge_id]))
                .order_by(Customer.id)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    if len(rows) != 2:
        raise NotFound("no such customer")
    if any(c.merged_into_id is not None for c in rows):
        raise Conflict("a customer that was merged away cannot take part in another merge")
    identity_ids = list(
        (
            await session.execute(
                update(CustomerIdentity)
                .where(CustomerIdentity.customer_id == merge_id)
                .values(customer_id=keep_id)
                .returning(CustomerIdentity.id)
            )
        ).scalars()
    )
    ticket_ids = list(
        (
            await session.execute(
                update(Ticket)
                .where(Ticket.customer_id == merge_id)
                .values(customer_id=keep_id)
                .returning(Ticket.id)
            )
        ).scalars()
    )
    await session.execute(
        update(Customer).where(Customer.id == merge_id).values(merged_into_id=keep_id)
    )
    record_id = (
        await session.execute(
            insert(CustomerMerge)
            .values(
                kept_id=keep_id,
                merged_id=merge_id,
                identity_ids=sorted(identity_ids),
                ticket_ids=sorted(ticket_ids),
                merged_by=merged_by,
                merged_at=now,
            )
            .returning(CustomerMerge.id)
        )
    ).scalar_one()
    await audit.record(
        session,
        actor,
        "customer.merged",
        now,
        kept=keep_id,
        merged=merge_id,
        merge_id=record_id,
        identities=sorted(identity_ids),
        tickets=sorted(ticket_ids),
    )
    return Merged(0, None, (CustomersMerged(keep_id, merge_id, record_id),), record_id)


async def unmerge_customers(
    session: AsyncSession, staff: StaffUser, customer_id: int, merge_id: int, now: datetime
) -> Written:
    """Undoes merge ``merge_id`` into ``customer_id``: each identity and ticket it moved
    goes back to the customer it came from, which stops being a tombstone. Refused
    (``Conflict``) when it was undone already or the kept customer has since been merged
    away itself (undo that merge first). Tickets the kept customer got after the merge
    stay with it."""
    if not staff.supervises:
        raise Forbidden("only supervisors and admins undo merges")
    record = (
        await session.execute(
            select(CustomerMerge)
            .where(CustomerMerge.id == merge_id, CustomerMerge.kept_id == customer_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if record is None:
        raise NotFound(f"no merge {merge_id} of customer {customer_id}")
    customers = {
        c.id: c
        for c in (
            await session.execute(
                select(Customer)
                .where(Customer.id.in_([record.kept_id, record.merged_id]))
                .order_by(Customer.id)
                .with_for_update()
            )
        ).scalars()
    }
    if record.undone_at is not None:
        raise Conflict(f"merge {merge_id} was undone already")
    if customers[record.kept_id].merged_into_id is not None:
        raise Conflict(
            f"customer {record.kept_id} was merged into another since; undo that merge first"
        )
    if record.identity_ids:
        await session.execute(
            update(CustomerIdentity)
            .where(
                CustomerIdentity.id.in_(record.identity_ids),
                CustomerIdentity.customer_id == record.kept_id,
            )
            .values(customer_id=record.merged_id)
        )
    if record.ticket_ids:
        await session.execute(
            update(Ticket)
            .where(Ticket.id.in_(record.ticket_ids), Ticket.customer_id == record.kept_id)
            .values(customer_id=record.merged_id)
        )
    await session.execute(
        update(Customer).where(Customer.id == record.merged_id).values(merged_into_id=None)
    )
    await session.execute(
        update(CustomerMerge)
        .where(CustomerMerge.id == merge_id)
        .values(undone_at=now, undone_by=staff.id)
    )
    await audit.record(
        session,
        staff.actor,
        "customer.unmerged",
        now,
        kept=record.kept_id,
        merged=record.merged_id,
        merge_id=merge_id,
    )
    return Written(0, None, (CustomersUnmerged(record.kept_id, record.merged_id, merge_id),))


async def assign(
    session: AsyncSession,
    ticket_id: int,
    agent_id: int | None,
    actor: Actor,
    now: datetime,
    *,
    reason: str,
    queue_id: int | None = None,
) -> Written:
    """Routing's own assignment (and un-assignment, and moves): no permission check, the
    caller is the routing engine or an already-authorized supervisor action. ``reason``
    ("sticky", "least-occupied", "overflow", "offline", ...) goes to the audit log."""
    ticket = await session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id}")
    values: dict[str, object] = {}
    events: list[Event] = []
    email = None
    if agent_id is not None:
        email = (await session.execute(select(User.email).where(User.id == agent_id))).scalar()
    if agent_id != ticket.assignee_id:
        values["assignee_id"] = agent_id
        events.append(TicketAssigned(ticket.id, ticket.number, agent_id, email, reason))
    if queue_id is not None and queue_id != ticket.queue_id:
        values["queue_id"] = queue_id
    if not values:
        return Written(ticket.id, None, ())
    values["updated_at"] = now
    await session.execute(update(Ticket).where(Ticket.id == ticket.id).values(**values))
    await audit.record(
        session,
        actor,
        "ticket.routed",
        now,
        ticket.id,
        reason=reason,
        assignee=email,
        queue_id=values.get("queue_id"),
    )
    return Written(ticket.id, None, tuple(events))
