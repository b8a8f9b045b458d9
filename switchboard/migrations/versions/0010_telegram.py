"""telegram: reserved slot (the telegram work fills it; a no-op until then)

Revision ID: 0010_telegram
Revises: 0009_twilio
Create Date: 2026-12-04

The five channel/room migrations were reserved in one linear chain up front so the rooms
built side by side never need re-chaining when they land.
"""

from __future__ import annotations

revision = "0010_telegram"
down_revision = "0009_twilio"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
