"""Server-side sign-in sessions for the web app.

A session is a random 256-bit token kept in the browser's cookie; only its SHA-256 is
stored, beside the session's CSRF token, so a database leak gives no working session.
Because the session lives here and not in a signed cookie, signing out, a password
change and an admin ending a session take effect on the very next request. Sessions
slide: each use (stamped at most once a minute, like API tokens) keeps a session alive
for ``idle`` more, up to an absolute lifetime of ``SESSION_MAX_AGE`` from sign-in.

Decision where the issue is silent: sessions are always stored in the database (the
system of record, shared by every process), not in Redis; a session read is one indexed
lookup, and Redis holds nothing that cannot be rebuilt.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tickets import audit
from tickets.contracts import Actor
from tickets.models import Base, BigId, UTCDateTime
from tickets.staff import StaffUser, load_staff

SESSION_MAX_AGE = timedelta(days=14)
SESSION_TOUCH_EVERY = timedelta(seconds=60)


class StaffSession(Base):
    __tablename__ = "staff_sessions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")


@dataclass(frozen=True, slots=True)
class WebSession:
    """A live session: who it belongs to and the CSRF token its forms must carry."""

    id: int
    staff: StaffUser
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    address: str
    user_agent: str


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str
    """The cookie value; shown once, never stored."""
    session: WebSession


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(
    session: AsyncSession,
    staff: StaffUser,
    now: datetime,
    *,
    idle: timedelta,
    address: str = "",
    user_agent: str = "",
) -> NewSession:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session_id = (
        await session.execute(
            insert(StaffSession)
            .values(
                token_hash=_digest(token),
                user_id=staff.id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=min(now + idle, now + SESSION_MAX_AGE),
                address=address[:64],
                user_agent=user_agent[:300],
            )
            .returning(StaffSession.id)
        )
    ).scalar_one()
    await audit.record(session, staff.actor, "session.started", now, session_id=session_id)
    web_session = WebSession(session_id, staff, csrf, now, now, address[:64], user_agent[:300])
    return NewSession(token, web_session)


async def session_for_token(
    session: AsyncSession, token: str, now: datetime
) -> tuple[WebSession, bool] | None:
    """The live session of this cookie value and whether its stamp is due, or None."""
    row = (
        await session.execute(select(StaffSession).where(StaffSession.token_hash == _digest(token)))
    ).scalar_one_or_none()
    if row is None or row.expires_at <= now:
        return None
    staff = await load_staff(session, row.user_id)
    if staff is None:
        return None
    found = WebSession(
        row.id,
        staff,
        row.csrf_token,
        row.created_at,
        row.last_seen_at,
        row.address,
        row.user_agent,
    )
    return found, row.last_seen_at <= now - SESSION_TOUCH_EVERY


async def touch_session(
    session: AsyncSession, session_id: int, now: datetime, *, idle: timedelta
) -> None:
    """Slides the expiry (never past the absolute lifetime); conditional, so racing
    requests write it once a minute between them."""
    row = await session.get(StaffSession, session_id)
    if row is None:
        return
    await session.execute(
        update(StaffSession)
        .where(
            StaffSession.id == session_id,
            StaffSession.last_seen_at <= now - SESSION_TOUCH_EVERY,
        )
        .values(last_seen_at=now, expires_at=min(now + idle, row.created_at + SESSION_MAX_AGE))
    )


async def end_session(session: AsyncSession, session_id: int, actor: Actor, now: datetime) -> bool:
    """Ends one session; False when it was already gone."""
    gone = (
        await session.execute(
            delete(StaffSession).where(StaffSession.id == session_id).returning(StaffSession.id)
        )
    ).scalar()
    if gone is None:
        return False
    await audit.record(session, actor, "session.ended", now, session_id=session_id)
    return True


async def end_sessions_of(
    session: AsyncSession, user_id: int, actor: Actor, now: datetime, *, keep: int | None = None
) -> int:
    """Ends every session of a user (but ``keep``); the number ended."""
    query = delete(StaffSession).where(StaffSession.user_id == user_id)
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    ended = len((await session.execute(query.returning(StaffSession.id))).scalars().all())
    if ended:
        await audit.record(session, actor, "session.ended_all", now, user_id=user_id, count=ended)
    return ended


async def sessions_of(session: AsyncSession, user_id: int, now: datetime) -> list[WebSession]:
    staff = await load_staff(session, user_id)
    if staff is None:
        return []
    rows = (
        await session.execute(
            select(StaffSession)
            .where(StaffSession.user_id == user_id, StaffSession.expires_at > now)
            .order_by(StaffSession.last_seen_at.desc())
        )
    ).scalars()
    return [
        WebSession(r.id, staff, r.csrf_token, r.created_at, r.last_seen_at, r.address, r.user_agent)
        for r in rows
    ]


async def prune_sessions(session: AsyncSession, now: datetime) -> int:
    """Deletes expired sessions; the number deleted."""
    result = await session.execute(
        delete(StaffSession).where(StaffSession.expires_at <= now).returning(StaffSession.id)
    )
    return len(result.scalars().all())


async def business_time_zone(session: AsyncSession) -> str:
    """The zone screens show times in for a user who chose none: the first business
    calendar's (the company's own), else UTC."""
    from tickets.models import BusinessCalendar

    zone = (
        await session.execute(
            select(BusinessCalendar.timezone).order_by(BusinessCalendar.id).limit(1)
        )
    ).scalar()
    return zone or "UTC"
