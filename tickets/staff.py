"""Staff accounts, API tokens and the visibility rule (who may see or change a ticket).

Passwords are argon2id hashes (hashed off the event loop: argon2 is deliberately slow).
API tokens are random 256-bit strings; only their SHA-256 is stored, so a database leak
does not leak working tokens. Visibility: supervisors and admins see everything; an agent
sees tickets of the queues they belong to and tickets assigned to them.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tickets import audit
from tickets.contracts import Actor, Role
from tickets.errors import Conflict, Invalid, NotFound
from tickets.identity import InvalidAddress, normalize_email
from tickets.models import ApiToken, Queue, QueueMember, Ticket, User

_hasher = PasswordHasher()
TOKEN_PREFIX = "sb_"


@dataclass(frozen=True, slots=True)
class StaffUser:
    id: int
    email: str
    name: str
    role: Role
    queue_ids: frozenset[int]

    @property
    def actor(self) -> Actor:
        return Actor.user(self.id, self.email)

    @property
    def sees_everything(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def create_user(
    session: AsyncSession,
    email: str,
    role: Role,
    now: datetime,
    *,
    name: str | None = None,
    password: str | None = None,
    languages: list[str] | None = None,
    actor: Actor | None = None,
) -> int:
    try:
        address = normalize_email(email)
    except InvalidAddress as err:
        raise Invalid(str(err)) from err
    exists = (await session.execute(select(User.id).where(User.email == address))).scalar()
    if exists is not None:
        raise Conflict(f"user {address} already exists")
    user_id = (
        await session.execute(
            insert(User)
            .values(
                email=address,
                name=name or address.split("@")[0],
                role=role.value,
                password_hash=await hash_password(password) if password else None,
                languages=languages or [],
                is_active=True,
                created_at=now,
            )
            .returning(User.id)
        )
    ).scalar_one()
    await audit.record(
        session, actor or Actor.system("cli"), "user.created", now, email=address, role=role.value
    )
    return user_id


async def user_id_by_email(session: AsyncSession, email: str) -> int:
    found = (
        await session.execute(select(User.id).where(User.email == email.strip().lower()))
    ).scalar()
    if found is None:
        raise NotFound(f"no user {email}")
    return found


async def create_token(session: AsyncSession, email: str, now: datetime, label: str = "") -> str:
    """Makes a token for the user and returns it; it is shown once and stored hashed."""
    user_id = await user_id_by_email(session, email)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await session.execute(
        insert(ApiToken).values(
            user_id=user_id, token_hash=_digest(token), label=label, created_at=now
        )
    )
    await audit.record(session, Actor.system("cli"), "token.created", now, user_id=user_id)
    return token


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def load_staff(session: AsyncSession, user_id: int) -> StaffUser | None:
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    queue_ids = (
        await session.execute(select(QueueMember.queue_id).where(QueueMember.user_id == user_id))
    ).scalars()
    return StaffUser(user.id, user.email, user.name, Role(user.role), frozenset(queue_ids))


async def staff_for_token(session: AsyncSession, token: str) -> StaffUser | None:
    user_id = (
        await session.execute(select(ApiToken.user_id).where(ApiToken.token_hash == _digest(token)))
    ).scalar()
    return None if user_id is None else await load_staff(session, user_id)


async def staff_for_password(session: AsyncSession, email: str, password: str) -> StaffUser | None:
    user = (
        await session.execute(select(User).where(User.email == email.strip().lower()))
    ).scalar_one_or_none()
    if user is None or not await verify_password(user.password_hash, password):
        return None
    return await load_staff(session, user.id)


def visible_tickets(staff: StaffUser) -> ColumnElement[bool]:
    """The WHERE clause limiting tickets to those this user may see."""
    if staff.sees_everything:
        return Ticket.id.is_not(None)
    return or_(Ticket.queue_id.in_(staff.queue_ids), Ticket.assignee_id == staff.id)


def may_see(staff: StaffUser, ticket: Ticket) -> bool:
    return (
        staff.sees_everything
        or (ticket.queue_id is not None and ticket.queue_id in staff.queue_ids)
        or ticket.assignee_id == staff.id
    )


def may_change(staff: StaffUser, ticket: Ticket) -> bool:
    """Changing a ticket needs membership of its queue (or supervisor rights); being the
    assignee of a ticket in a foreign queue is enough to answer it, not to move it."""
    return (
        staff.sees_everything
        or (ticket.queue_id is not None and ticket.queue_id in staff.queue_ids)
        or (ticket.queue_id is None and ticket.assignee_id == staff.id)
    )


async def ensure_queue(session: AsyncSession, name: str, description: str = "") -> int:
    found = (await session.execute(select(Queue.id).where(Queue.name == name))).scalar()
    if found is not None:
        return found
    return (
        await session.execute(
            insert(Queue).values(name=name, description=description).returning(Queue.id)
        )
    ).scalar_one()


async def set_queue_members(session: AsyncSession, queue_id: int, user_ids: list[int]) -> None:
    await session.execute(delete(QueueMember).where(QueueMember.queue_id == queue_id))
    if user_ids:
        await session.execute(
            insert(QueueMember), [{"queue_id": queue_id, "user_id": u} for u in user_ids]
        )
