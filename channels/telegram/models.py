"""Tables of the Telegram channel (migration ``0010_telegram``).

- ``telegram_updates``: every update id handled, so a re-delivery (also a concurrent one)
  is a no-op, and the highest id is the long-polling offset that survives restarts. The
  chat and message ids, and the ticket the message went to, let a reply quote the
  customer's latest message.
- ``telegram_sent``: each part of an outbound message Telegram accepted (a long reply is
  sent as several messages of at most 4096 characters), so a retry after a failure in
  the middle sends only the parts still missing.
- ``telegram_edits``: the customer edited a message: the text before and after, so the
  timeline shows the new text marked as edited and keeps the original.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tickets import Base


class TelegramUpdate(Base):
    __tablename__ = "telegram_updates"
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(40))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    ticket_id: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime]
    __table_args__ = (Index("ix_telegram_updates_chat", "chat_id", "ticket_id", "update_id"),)


class TelegramSent(Base):
    __tablename__ = "telegram_sent"
    idempotency_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    part: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    telegram_message_id: Mapped[int] = mapped_column(BigInteger)
    reply_to: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime]
    __table_args__ = (Index("ix_telegram_sent_reply", "chat_id", "reply_to"),)


class TelegramEdit(Base):
    __tablename__ = "telegram_edits"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="CASCADE")
    )
    edit_date: Mapped[datetime]
    previous_text: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("message_id", "edit_date"),)
