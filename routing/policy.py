"""Routing policy as pure functions: who may take a piece of work, and who gets it. No
I/O here; the engine feeds in the agents, their live state and the work item.

- able: online, capacity on the item's channel, every required skill, and the item's
  language (an agent who lists no language takes any: a user added with no options);
- eligible: able, with a free place on the channel now;
- choice among eligible agents not cooling down after refusing this ticket: the previous
  agent of a returning customer (sticky) when eligible, else the least occupied on that
  channel, then the longest idle;
- a new round: every agent able to take the ticket has refused it (each is cooling
  down), so their refusals are forgotten and the ticket is offered again. Agents who are
  merely full do not start a round: they will have room soon and have not refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from routing.loader import QueueConfig
from routing.state import AgentInfo, AgentLive, WorkItem
from tickets import TicketFacts

LIVE_CHANNELS = frozenset({"voice", "webchat", "telegram"})
"""Channels where a customer waits on the line: refusals count, and going offline hands
the conversation back."""


@dataclass(frozen=True, slots=True)
class Decision:
    agent_id: int
    reason: str


def able(agent: AgentInfo, live: AgentLive, item: WorkItem) -> bool:
    if live.presence != "online" or agent.capacity.get(item.channel, 0) <= 0:
        return False
    if item.language and agent.languages and item.language not in agent.languages:
        return False
    return all(agent.skills.get(skill, 0) >= 1 for skill in item.required_skills)


def eligible(agent: AgentInfo, live: AgentLive, item: WorkItem) -> bool:
    return live.load.get(item.channel, 0) < agent.capacity.get(item.channel, 0) and able(
        agent, live, item
    )


def choose(
    item: WorkItem,
    candidates: Mapping[int, AgentInfo],
    live: Mapping[int, AgentLive],
    excluded: set[int],
    own: Mapping[int, AgentInfo],
) -> Decision | None:
    """The best eligible candidate not in ``excluded``; ``own`` are the queue's members
    (anyone else is taking it as overflow)."""
    found = [
        a
        for a in candidates.values()
        if a.id not in excluded and a.id in live and eligible(a, live[a.id], item)
    ]
    if not found:
        return None
    if item.sticky_agent is not None and any(a.id == item.sticky_agent for a in found):
        return Decision(item.sticky_agent, "sticky")

    def occupancy(a: AgentInfo) -> tuple[float, float, int]:
        state = live[a.id]
        return (
            state.load.get(item.channel, 0) / max(1, a.capacity.get(item.channel, 0)),
            state.idle_since,
            a.id,
        )

    best = min(found, key=occupancy)
    return Decision(best.id, "least-occupied" if best.id in own else "overflow")


def everyone_refused(
    item: WorkItem,
    agents: Iterable[AgentInfo],
    live: Mapping[int, AgentLive],
    refused: set[int],
) -> bool:
    """True when some agent is able to take the item and every such agent refused it."""
    able_ids = {a.id for a in agents if a.id in live and able(a, live[a.id], item)}
    return bool(able_ids) and able_ids <= refused


def overflowing(queue: QueueConfig | None, item: WorkItem, now: float) -> bool:
    return bool(
        queue
        and queue.overflow_queue_id is not None
        and queue.overflow_after_s is not None
        and now - item.arrived_at >= queue.overflow_after_s
    )


def sla_due(sla: Mapping[str, object]) -> float | None:
    first = sla.get("first_response")
    if isinstance(first, dict) and isinstance(first.get("due_at"), str):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(first["due_at"]).timestamp()
    return None


def work_item(
    facts: TicketFacts, queue: QueueConfig | None, sticky: int | None, *, front: bool = False
) -> WorkItem:
    return WorkItem(
        ticket_id=facts.id,
        queue_id=facts.queue_id or 0,
        channel=facts.channel,
        priority=facts.priority,
        arrived_at=facts.created_at.timestamp(),
        due_at=sla_due(facts.sla),
        language=(queue.required_language if queue and queue.required_language else facts.language),
        required_skills=queue.required_skills if queue else (),
        sticky_agent=sticky,
        front=front,
    )
