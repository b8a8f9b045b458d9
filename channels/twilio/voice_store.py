"""The voice channel's reads and writes of its own tables (``voice_models``), each inside
a transaction the caller's ``Desk`` owns. State moves that two processes may race on (a
queued caller bridged by the bus consumer and by the queue's own callback at once) are
compare-and-set updates: exactly one of them wins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from channels.twilio.voice_models import VoiceAgentPhone, VoiceCall

FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
WAITING_STATES = frozenset({"queued", "bridging"})


async def call_by_sid(session: AsyncSession, call_sid: str) -> VoiceCall | None:
    return (
        await session.execute(select(VoiceCall).where(VoiceCall.call_sid == call_sid))
    ).scalar_one_or_none()


async def open_call(
    session: AsyncSession,
    call_sid: str,
    caller: str,
    callee: str,
    now: datetime,
    *,
    direction: str = "in",
    state: str = "ivr",
    **values: Any,
) -> VoiceCall:
    """The call's row, made on its first webhook (a re-delivery finds it)."""
    found = await call_by_sid(session, call_sid)
    if found is not None:
        return found
    row = VoiceCall(
        call_sid=call_sid,
        direction=direction,
        caller=caller[:64],
        callee=callee[:64],
        state=state,
        callback_due=False,
        created_at=now,
        updated_at=now,
        **values,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        found = await call_by_sid(session, call_sid)
        if found is None:
            raise
        return found
    return row


async def change(session: AsyncSession, call_sid: str, now: datetime, **values: Any) -> None:
    await session.execute(
        update(VoiceCall)
        .where(VoiceCall.call_sid == call_sid)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )


async def move(
    session: AsyncSession,
    call_sid: str,
    from_states: frozenset[str] | set[str],
    now: datetime,
    **values: Any,
) -> bool:
    """Compare-and-set: changes the row only while its state is one of ``from_states``."""
    result = await session.execute(
        update(VoiceCall)
        .where(VoiceCall.call_sid == call_sid, VoiceCall.state.in_(sorted(from_states)))
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def waiting_call(session: AsyncSession, ticket_id: int) -> VoiceCall | None:
    """The caller of this ticket waiting in a Twilio queue, if any."""
    return (
        await session.execute(
            select(VoiceCall)
            .where(VoiceCall.ticket_id == ticket_id, VoiceCall.state == "queued")
            .order_by(VoiceCall.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def queued_calls(session: AsyncSession) -> list[VoiceCall]:
    return list(
        (
            await session.execute(
                select(VoiceCall).where(VoiceCall.state == "queued").order_by(VoiceCall.id)
            )
        ).scalars()
    )


async def agent_phone(session: AsyncSession, user_id: int) -> str | None:
    row = await session.get(VoiceAgentPhone, user_id)
    return None if row is None else row.phone


async def set_agent_phone(session: AsyncSession, user_id: int, phone: str | None) -> None:
    row = await session.get(VoiceAgentPhone, user_id)
    if phone is None:
        if row is not None:
            await session.delete(row)
            await session.flush()
        return
    if row is None:
        session.add(VoiceAgentPhone(user_id=user_id, phone=phone))
    else:
        row.phone = phone


async def calls_of_ticket(session: AsyncSession, ticket_id: int) -> list[VoiceCall]:
    return list(
        (
            await session.execute(
                select(VoiceCall).where(VoiceCall.ticket_id == ticket_id).order_by(VoiceCall.id)
            )
        ).scalars()
    )


async def call_of_message(session: AsyncSession, message_id: int) -> VoiceCall | None:
    """The call a timeline message belongs to (the call, its voicemail or transcript)."""
    return (
        await session.execute(
            select(VoiceCall)
            .where(
                (VoiceCall.message_id == message_id)
                | (VoiceCall.recording_message_id == message_id)
                | (VoiceCall.transcript_message_id == message_id)
            )
            .limit(1)
        )
    ).scalar_one_or_none()


async def owe_callback(session: AsyncSession, call_sid: str, now: datetime) -> None:
    await session.execute(
        update(VoiceCall)
        .where(VoiceCall.call_sid == call_sid, VoiceCall.ticket_id.is_not(None))
        .values(callback_due=True, updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def callback_done(session: AsyncSession, ticket_id: int, now: datetime) -> int:
    """A call-back reached the customer: every owed call-back of the ticket is done."""
    result = await session.execute(
        update(VoiceCall)
        .where(
            VoiceCall.ticket_id == ticket_id,
            VoiceCall.callback_due.is_(True),
            VoiceCall.callback_done_at.is_(None),
        )
        .values(callback_done_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))
