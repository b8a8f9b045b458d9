"""The channel's own rows (``channels.telegram.models``), each function one statement or
two inside the caller's transaction (a ``Desk.write``/``read``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from channels.telegram.models import TelegramEdit, TelegramSent, TelegramUpdate


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def seen(session: AsyncSession, update_id: int) -> bool:
    found = await session.execute(
        select(TelegramUpdate.update_id).where(TelegramUpdate.update_id == update_id)
    )
    return found.first() is not None


async def remember(
    session: AsyncSession,
    update_id: int,
    kind: str,
    outcome: str,
    now: datetime,
    *,
    chat_id: int | None = None,
    message_id: int | None = None,
    ticket_id: int | None = None,
) -> bool:
    """Records a handled update; False when a twin recorded it first."""
    result = await session.execute(
        _insert(session, TelegramUpdate)
        .values(
            update_id=update_id,
            kind=kind,
            outcome=outcome[:40],
            chat_id=chat_id,
            message_id=message_id,
            ticket_id=ticket_id,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["update_id"])
    )
    return bool(getattr(result, "rowcount", 0))


async def poll_offset(session: AsyncSession) -> int | None:
    """The ``getUpdates`` offset that confirms every update handled so far."""
    highest = (await session.execute(select(func.max(TelegramUpdate.update_id)))).scalar()
    return None if highest is None else int(highest) + 1


async def reply_target(session: AsyncSession, chat_id: int, ticket_id: int) -> int | None:
    """The customer's latest message in this ticket's chat, unless a reply of ours already
    quotes it: a new answer quotes what it answers, and only once."""
    latest = (
        await session.execute(
            select(TelegramUpdate.message_id)
            .where(
                TelegramUpdate.chat_id == chat_id,
                TelegramUpdate.ticket_id == ticket_id,
                TelegramUpdate.kind == "message",
                TelegramUpdate.message_id.is_not(None),
            )
            .order_by(TelegramUpdate.update_id.desc())
            .limit(1)
        )
    ).scalar()
    if latest is None:
        return None
    quoted = await session.execute(
        select(TelegramSent.part).where(
            and_(TelegramSent.chat_id == chat_id, TelegramSent.reply_to == latest)
        )
    )
    return None if quoted.first() is not None else int(latest)


async def sent_parts(session: AsyncSession, idempotency_key: str) -> dict[int, int]:
    """Parts of an outbound message Telegram already accepted: part to message id."""
    rows = await session.execute(
        select(TelegramSent.part, TelegramSent.telegram_message_id).where(
            TelegramSent.idempotency_key == idempotency_key
        )
    )
    return {int(part): int(mid) for part, mid in rows}


async def record_part(
    session: AsyncSession,
    idempotency_key: str,
    part: int,
    chat_id: int,
    telegram_message_id: int,
    reply_to: int | None,
    now: datetime,
) -> None:
    await session.execute(
        _insert(session, TelegramSent)
        .values(
            idempotency_key=idempotency_key,
            part=part,
            chat_id=chat_id,
            telegram_message_id=telegram_message_id,
            reply_to=reply_to,
            sent_at=now,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key", "part"])
    )


async def record_edit(
    session: AsyncSession,
    message_id: int,
    edit_date: datetime,
    previous_text: str,
    text: str,
    now: datetime,
) -> None:
    await session.execute(
        _insert(session, TelegramEdit)
        .values(
            message_id=message_id,
            edit_date=edit_date,
            previous_text=previous_text,
            text=text,
            recorded_at=now,
        )
        .on_conflict_do_nothing(index_elements=["message_id", "edit_date"])
    )


async def edits_of(session: AsyncSession, message_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each edited message's earlier texts, oldest (the original) first."""
    if not message_ids:
        return {}
    rows = await session.execute(
        select(TelegramEdit.message_id, TelegramEdit.previous_text)
        .where(TelegramEdit.message_id.in_(list(message_ids)))
        .order_by(TelegramEdit.message_id, TelegramEdit.edit_date, TelegramEdit.id)
    )
    out: dict[int, list[str]] = {}
    for message_id, previous in rows:
        out.setdefault(int(message_id), []).append(previous)
    return out


async def prune_updates(session: AsyncSession, before: datetime) -> int:
    """Forgets update ids handled before ``before`` (Telegram re-delivers for a day at
    most), always keeping the highest: it is the long-polling offset."""
    highest = (await session.execute(select(func.max(TelegramUpdate.update_id)))).scalar()
    if highest is None:
        return 0
    result = await session.execute(
        delete(TelegramUpdate).where(
            TelegramUpdate.received_at < before, TelegramUpdate.update_id < highest
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
