"""The email room's own table: where the IMAP poller is in each mailbox (UIDVALIDITY and
the last UID whose message is committed), so a restart or crash resumes without missing
or repeating mail, whatever the \\Seen flags say."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from tickets import Base


class MailboxState(Base):
    __tablename__ = "email_mailboxes"
    name: Mapped[str] = mapped_column(String(500), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]
