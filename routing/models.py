"""Tables owned by the routing room: how each queue routes, and each agent's skills,
capacity and presence. Presence is kept here too (not only in the state store) so routing
state can be rebuilt from the database after a Redis loss."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tickets import Base

DEFAULT_CAPACITY = {"voice": 1, "webchat": 3, "telegram": 3, "sms": 5, "email": 10, "api": 10}
OFFER_CHANNELS = ["voice", "webchat", "telegram"]


class QueueRouting(Base):
    __tablename__ = "queue_routing"
    queue_id: Mapped[int] = mapped_column(
        ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(default=100)
    channels: Mapped[list[str]] = mapped_column(default=list)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    languages: Mapped[list[str]] = mapped_column(default=list)
    tiers: Mapped[list[str]] = mapped_column(default=list)
    is_default: Mapped[bool] = mapped_column(default=False)
    required_skills: Mapped[list[str]] = mapped_column(default=list)
    required_language: Mapped[str | None] = mapped_column(String(10))
    offer_channels: Mapped[list[str]] = mapped_column(default=lambda: list(OFFER_CHANNELS))
    offer_timeout_s: Mapped[int] = mapped_column(default=30)
    overflow_queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id"))
    overflow_after_s: Mapped[int | None]


class AgentProfile(Base):
    __tablename__ = "agent_profiles"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    skills: Mapped[dict[str, Any]] = mapped_column(default=dict)
    capacity: Mapped[dict[str, Any]] = mapped_column(default=dict)
    presence: Mapped[str] = mapped_column(String(10), default="offline")
    presence_changed_at: Mapped[datetime | None]
    keep_email_on_offline: Mapped[bool] = mapped_column(default=True)
