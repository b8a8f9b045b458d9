"""Tables of the voice channel: one row per phone call (inbound through the IVR, or an
agent's call-back), and the phone number an agent takes calls on.

A call is not a ticket message: the messages (the call itself, the voicemail with its
recording, the transcription, the note of a call-back) are written through
``tickets.ingest`` / ``tickets.add_note`` like every channel's, and a call row points at
them, so the timeline renders them as a call card. The row carries what only a phone call
has: where the caller is in the IVR, the Twilio queue, the agent it was bridged to,
duration and outcome, the recording, and whether the customer is owed a call-back (the
call-back task of a missed or abandoned call)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tickets import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")


class VoiceCall(Base):
    __tablename__ = "voice_calls"
    __table_args__ = (Index("ix_voice_calls_ticket_state", "ticket_id", "state"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(10))  # in, out (a call-back)
    caller: Mapped[str] = mapped_column(String(64))
    callee: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(10))
    # ivr, queued, bridging, bridged, voicemail, ended
    state: Mapped[str] = mapped_column(String(20))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    queue_name: Mapped[str | None] = mapped_column(String(100))
    queue_sid: Mapped[str | None] = mapped_column(String(64))
    enqueued_at: Mapped[datetime | None]
    announced_at: Mapped[datetime | None]
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    bridged_at: Mapped[datetime | None]
    # completed, busy, no-answer, failed, canceled (Twilio's), or missed / abandoned
    outcome: Mapped[str | None] = mapped_column(String(20))
    duration_s: Mapped[int | None]
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    recording_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    recording_duration_s: Mapped[int | None]
    transcript: Mapped[str | None] = mapped_column(Text)
    transcript_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    callback_due: Mapped[bool] = mapped_column(default=False)
    callback_done_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class VoiceAgentPhone(Base):
    """Where an agent answers bridged calls and call-backs: a phone number, else their
    Twilio Client identity (``agent_<user id>``, a softphone in the browser)."""

    __tablename__ = "voice_agent_phones"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    phone: Mapped[str] = mapped_column(String(32))
