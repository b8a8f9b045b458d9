"""twilio: reserved slot (the twilio work fills it; a no-op until then)

Revision ID: 0009_twilio
Revises: 0008_email
Create Date: 2026-12-04

The five channel/room migrations were reserved in one linear chain up front so the rooms
built side by side never need re-chaining when they land.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_twilio"
down_revision = "0008_email"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _voice_upgrade()


def downgrade() -> None:
    _voice_downgrade()


# --- voice (channels/twilio/voice_models.py) -------------------------------------------

_VOICE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _voice_upgrade() -> None:
    op.create_table(
        "voice_calls",
        sa.Column("id", _VOICE_ID, nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("callee", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("ticket_id", _VOICE_ID, nullable=True),
        sa.Column("message_id", _VOICE_ID, nullable=True),
        sa.Column("queue_name", sa.String(length=100), nullable=True),
        sa.Column("queue_sid", sa.String(length=64), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent_id", _VOICE_ID, nullable=True),
        sa.Column("bridged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("recording_sid", sa.String(length=64), nullable=True),
        sa.Column("recording_message_id", _VOICE_ID, nullable=True),
        sa.Column("recording_duration_s", sa.Integer(), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("transcript_message_id", _VOICE_ID, nullable=True),
        sa.Column("callback_due", sa.Boolean(), nullable=False),
        sa.Column("callback_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_voice_calls_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_voice_calls_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["recording_message_id"],
            ["messages.id"],
            name=op.f("fk_voice_calls_recording_message_id_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_voice_calls_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["transcript_message_id"],
            ["messages.id"],
            name=op.f("fk_voice_calls_transcript_message_id_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_calls")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_voice_calls_call_sid")),
    )
    op.create_index("ix_voice_calls_ticket_state", "voice_calls", ["ticket_id", "state"])
    for column in ("message_id", "recording_message_id", "transcript_message_id"):
        op.create_index(f"ix_voice_calls_{column}", "voice_calls", [column])
    op.create_table(
        "voice_agent_phones",
        sa.Column("user_id", _VOICE_ID, nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_voice_agent_phones_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_voice_agent_phones")),
    )


def _voice_downgrade() -> None:
    op.drop_table("voice_agent_phones")
    for column in ("message_id", "recording_message_id", "transcript_message_id"):
        op.drop_index(f"ix_voice_calls_{column}", table_name="voice_calls")
    op.drop_index("ix_voice_calls_ticket_state", table_name="voice_calls")
    op.drop_table("voice_calls")
