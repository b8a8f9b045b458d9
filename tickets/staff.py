"""Staff accounts, API tokens and the visibility rule (who may see or change a ticket).

Passwords are argon2id hashes (hashed off the event loop: argon2 is deliberately slow).
API tokens are random 256-bit strings; only their SHA-256 is stored, so a database leak
does not leak working tokens. Visibility: supervisors and admins see everything; an agent
sees tickets of the queues they belong to and tickets assigned to them.

Tokens record ``last_used_at`` at most once a minute: the check runs on the read the
request makes anyway, and only a stale stamp costs a (conditional) write, so busy
integrations do not turn every API call into a write transaction. A revoked token is
deleted, so the very next request with it is refused.

Every change that routing must see (a user made or deactivated, a queue made, a
membership changed) records ``StaffChanged`` in the caller's transaction; the relay
delivers it to every process, which reloads its routing configuration.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tickets import audit
from tickets.contracts import Actor, Role
from tickets.errors import Conflict, Forbidden, Invalid, NotFound
from tickets.eventlog import record_events
from tickets.events import Event, StaffChanged
from tickets.identity import InvalidAddress, normalize_email
from tickets.models import ApiToken, BusinessCalendar, Queue, QueueMember, Ticket, User

if TYPE_CHECKING:
    from tickets.desk import Desk

_hasher = PasswordHasher()
TOKEN_PREFIX = "sb_"
TOKEN_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What ``switchboard token list`` shows: never the token itself (only its hash is
    stored)."""

    id: int
    label: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class StaffUser:
    id: int
    email: str
    name: str
    role: Role
    queue_ids: frozenset[int]
    ui_locale: str | None = None
    """The UI's language (``zh_CN`` or ``en``); None: the browser's Accept-Language."""
    time_zone: str | None = None
    """An IANA zone; None: the business calendar's (``effective_time_zone``)."""

    @property
    def actor(self) -> Actor:
        return Actor.user(self.id, self.email)

    @property
    def supervises(self) -> bool:
        """May act for others: assign to anyone, move between queues, merge customers,
        set presence. Not visibility: a supervisor sees only the tickets of their queues."""
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def sees_all_queues(self) -> bool:
        """Sees every ticket whatever its queue: admins only."""
        return self.role is Role.ADMIN


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
    await record_events(session, [StaffChanged(user_id, None, "user.created")], now)
    return user_id


async def deactivate_user(
    session: AsyncSession, email: str, now: datetime, *, actor: Actor | None = None
) -> int:
    """Signs the user out of everything (tokens and passwords stop working: ``load_staff``
    refuses inactive users) and takes them out of routing; their history stays."""
    user_id = await user_id_by_email(session, email)
    await session.execute(update(User).where(User.id == user_id).values(is_active=False))
    await audit.record(
        session, actor or Actor.system("cli"), "user.deactivated", now, user_id=user_id
    )
    await record_events(session, [StaffChanged(user_id, None, "user.deactivated")], now)
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


async def list_tokens(session: AsyncSession, email: str) -> list[TokenInfo]:
    user_id = await user_id_by_email(session, email)
    rows = await session.execute(
        select(ApiToken.id, ApiToken.label, ApiToken.created_at, ApiToken.last_used_at)
        .where(ApiToken.user_id == user_id)
        .order_by(ApiToken.id)
    )
    return [TokenInfo(r.id, r.label, r.created_at, r.last_used_at) for r in rows]


async def revoke_token(
    session: AsyncSession, token_id: int, now: datetime, *, actor: Actor | None = None
) -> None:
    """Deletes the token: the next request that carries it gets 401."""
    user_id = (
        await session.execute(
            delete(ApiToken).where(ApiToken.id == token_id).returning(ApiToken.user_id)
        )
    ).scalar()
    if user_id is None:
        raise NotFound(f"no token {token_id}")
    await audit.record(
        session, actor or Actor.system("cli"), "token.revoked", now, user_id=user_id, token=token_id
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def load_staff(session: AsyncSession, user_id: int) -> StaffUser | None:
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    queue_ids = (
        await session.execute(select(QueueMember.queue_id).where(QueueMember.user_id == user_id))
    ).scalars()
    return StaffUser(
        user.id,
        user.email,
        user.name,
        Role(user.role),
        frozenset(queue_ids),
        ui_locale=user.ui_locale,
        time_zone=user.time_zone,
    )


async def staff_for_token(session: AsyncSession, token: str) -> StaffUser | None:
    found = await _token_owner(session, token)
    return None if found is None else found[0]


async def _token_owner(
    session: AsyncSession, token: str
) -> tuple[StaffUser, int, datetime | None] | None:
    row = (
        await session.execute(
            select(ApiToken.id, ApiToken.user_id, ApiToken.last_used_at).where(
                ApiToken.token_hash == _digest(token)
            )
        )
    ).first()
    if row is None:
        return None
    staff = await load_staff(session, row.user_id)
    return None if staff is None else (staff, row.id, row.last_used_at)


async def authenticate_token(desk: Desk, token: str) -> StaffUser | None:
    """The token's active user, or None; stamps ``last_used_at`` when it is older than a
    minute (a read otherwise)."""
    found = await desk.read(lambda s: _token_owner(s, token))
    if found is None:
        return None
    staff, token_id, last_used_at = found
    if last_used_at is None or last_used_at <= desk.clock() - TOKEN_TOUCH_EVERY:
        await desk.write(lambda s, now: _touch_token(s, token_id, now))
    return staff


async def _touch_token(
    session: AsyncSession, token_id: int, now: datetime
) -> tuple[None, tuple[Event, ...]]:
    # Conditional, so processes racing on one token write it once a minute between them.
    await session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(
                ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at <= now - TOKEN_TOUCH_EVERY,
            ),
        )
        .values(last_used_at=now)
    )
    return None, ()


async def staff_for_password(session: AsyncSession, email: str, password: str) -> StaffUser | None:
    user = (
        await session.execute(select(User).where(User.email == email.strip().lower()))
    ).scalar_one_or_none()
    if user is None or not await verify_password(user.password_hash, password):
        return None
    return await load_staff(session, user.id)


def visible_tickets(staff: StaffUser) -> ColumnElement[bool]:
    """The WHERE clause limiting tickets to those this user may see."""
    if staff.sees_all_queues:
        return Ticket.id.is_not(None)
    return or_(Ticket.queue_id.in_(staff.queue_ids), Ticket.assignee_id == staff.id)


def may_see(staff: StaffUser, ticket: Ticket) -> bool:
    return (
        staff.sees_all_queues
        or (ticket.queue_id is not None and ticket.queue_id in staff.queue_ids)
        or ticket.assignee_id == staff.id
    )


def may_change(staff: StaffUser, ticket: Ticket) -> bool:
    """Changing a ticket needs membership of its queue (admins: any queue); being the
    assignee of a ticket in a foreign queue is enough to answer it, not to move it."""
    return (
        staff.sees_all_queues
        or (ticket.queue_id is not None and ticket.queue_id in staff.queue_ids)
        or (ticket.queue_id is None and ticket.assignee_id == staff.id)
    )


DEFAULT_QUEUE = "General"
"""The queue ``switchboard db upgrade`` makes on a fresh install, so a first chat has
somewhere to wait and a first agent somewhere to work."""


async def ensure_queue(
    session: AsyncSession, name: str, description: str = "", *, now: datetime | None = None
) -> int:
    """The queue's id, making the queue when it is missing. ``now`` stamps the
    ``StaffChanged`` event (the current time when not given)."""
    found = (await session.execute(select(Queue.id).where(Queue.name == name))).scalar()
    if found is not None:
        return found
    queue_id = (
        await session.execute(
            insert(Queue).values(name=name, description=description).returning(Queue.id)
        )
    ).scalar_one()
    await record_events(session, [StaffChanged(None, queue_id, "queue.created")], _now(now))
    return queue_id


async def set_queue_members(
    session: AsyncSession, queue_id: int, user_ids: list[int], *, now: datetime | None = None
) -> None:
    await session.execute(delete(QueueMember).where(QueueMember.queue_id == queue_id))
    if user_ids:
        await session.execute(
            insert(QueueMember), [{"queue_id": queue_id, "user_id": u} for u in user_ids]
        )
    await record_events(session, [StaffChanged(None, queue_id, "queue.members")], _now(now))


async def add_queue_member(
    session: AsyncSession, queue_id: int, user_id: int, *, now: datetime | None = None
) -> bool:
    """Adds one member; False when the user already was one (nothing recorded)."""
    exists = (
        await session.execute(
            select(QueueMember.user_id).where(
                QueueMember.queue_id == queue_id, QueueMember.user_id == user_id
            )
        )
    ).scalar()
    if exists is not None:
        return False
    await session.execute(insert(QueueMember).values(queue_id=queue_id, user_id=user_id))
    await record_events(session, [StaffChanged(user_id, queue_id, "queue.members")], _now(now))
    return True


# -- the user's own settings -----------------------------------------------------------

UI_LOCALES = ("zh_CN", "en")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
"""argon2 hashes any length; a bound keeps one request from costing seconds of CPU."""


class _Unset(enum.Enum):
    UNSET = enum.auto()


UNSET = _Unset.UNSET
"""Leave a preference as it is (``None`` clears it)."""


def check_time_zone(name: str) -> str:
    """``name`` when it is an IANA time zone this machine knows, else ``Invalid``."""
    if not isinstance(name, str) or not name or len(name) > 64 or name.startswith("/"):
        raise Invalid("time_zone must be an IANA time zone name such as Asia/Shanghai")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:
        raise Invalid(f"unknown time zone {name!r}") from err
    return name


async def set_preferences(
    session: AsyncSession,
    staff: StaffUser,
    now: datetime,
    *,
    locale: str | _Unset | None = UNSET,
    time_zone: str | _Unset | None = UNSET,
) -> StaffUser:
    """Sets the caller's UI language and time zone (``None`` clears one: back to the
    browser's language or the business calendar's zone); returns the updated user."""
    values: dict[str, str | None] = {}
    if locale is not UNSET:
        if locale is not None and locale not in UI_LOCALES:
            raise Invalid(f"locale must be one of {', '.join(UI_LOCALES)} or null")
        values["ui_locale"] = locale
    if time_zone is not UNSET:
        values["time_zone"] = None if time_zone is None else check_time_zone(time_zone)
    if values:
        await session.execute(update(User).where(User.id == staff.id).values(**values))
        await audit.record(session, staff.actor, "user.preferences", now, preferences=values)
    updated = await load_staff(session, staff.id)
    if updated is None:
        raise NotFound("your account is no longer active")
    return updated


async def change_password(
    session: AsyncSession, staff: StaffUser, old: str, new: str, now: datetime
) -> None:
    """Changes the caller's password after checking the current one (``Forbidden`` when
    it is wrong, ``Invalid`` when the new one is too short or too long). Ending the
    user's other sessions is the session store's part, in the same transaction."""
    if not isinstance(new, str) or len(new) < MIN_PASSWORD:
        raise Invalid(f"the new password must have at least {MIN_PASSWORD} characters")
    if len(new) > MAX_PASSWORD:
        raise Invalid(f"the new password must have at most {MAX_PASSWORD} characters")
    current = (
        await session.execute(
            select(User.password_hash).where(User.id == staff.id).with_for_update()
        )
    ).scalar()
    if not isinstance(old, str) or not await verify_password(current, old):
        raise Forbidden("the current password is wrong")
    await session.execute(
        update(User).where(User.id == staff.id).values(password_hash=await hash_password(new))
    )
    await audit.record(session, staff.actor, "user.password_changed", now, user_id=staff.id)


async def effective_time_zone(session: AsyncSession, staff: StaffUser) -> str:
    """The zone the UI shows times in: the user's, else the first business calendar's,
    else UTC."""
    if staff.time_zone:
        return staff.time_zone
    zone = (
        await session.execute(
            select(BusinessCalendar.timezone).order_by(BusinessCalendar.id).limit(1)
        )
    ).scalar()
    return zone or "UTC"


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)
