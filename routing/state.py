"""The routing state's value types and the ordering of waiting work.

Waiting work is ordered by priority, then SLA due time, then arrival: the score packs the
three into one sortable number (a Redis sorted-set score in the Redis store)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
PRESENCES = ("online", "away", "offline")
_BAND = 1e13  # > any epoch-milliseconds value until the year 2286
_NO_DUE = 1e12  # work without a due time sorts after work with one, same priority


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """What routing needs to know about an agent that changes rarely (from the database)."""

    id: int
    email: str
    queues: frozenset[int]
    skills: Mapping[str, int]
    languages: frozenset[str]
    capacity: Mapping[str, int]
    keep_email_on_offline: bool = True

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "email": self.email,
                "queues": sorted(self.queues),
                "skills": dict(self.skills),
                "languages": sorted(self.languages),
                "capacity": dict(self.capacity),
                "keep_email_on_offline": self.keep_email_on_offline,
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> AgentInfo:
        d = json.loads(raw)
        return cls(
            d["id"],
            d["email"],
            frozenset(d["queues"]),
            d["skills"],
            frozenset(d["languages"]),
            d["capacity"],
            d.get("keep_email_on_offline", True),
        )


@dataclass(slots=True)
class AgentLive:
    """What changes all the time: presence, load per channel, idle-since, timeouts."""

    presence: str = "offline"
    load: dict[str, int] = field(default_factory=dict)
    idle_since: float = 0.0
    timeouts: int = 0


@dataclass(frozen=True, slots=True)
class WorkItem:
    ticket_id: int
    queue_id: int
    channel: str
    priority: str
    arrived_at: float
    due_at: float | None = None
    language: str | None = None
    required_skills: tuple[str, ...] = ()
    sticky_agent: int | None = None
    front: bool = False

    @property
    def score(self) -> float:
        rank = PRIORITY_RANK.get(self.priority, 2)
        if self.front:
            return rank * _BAND
        when = self.due_at * 1000 if self.due_at is not None else self.arrived_at * 1000 + _NO_DUE
        return rank * _BAND + when

    def to_json(self) -> str:
        data = asdict(self)
        data["required_skills"] = list(self.required_skills)
        return json.dumps(data)

    @classmethod
    def from_json(cls, raw: str | bytes) -> WorkItem:
        d: dict[str, Any] = json.loads(raw)
        d["required_skills"] = tuple(d.get("required_skills", ()))
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Offer:
    id: str
    ticket_id: int
    agent_id: int
    channel: str
    queue_id: int
    expires_at: float
    reason: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Offer:
        return cls(**json.loads(raw))


class Reserve:
    """Outcomes of an atomic reservation."""

    OK = 1
    GONE = -1
    NOT_ONLINE = -2
    FULL = -3
