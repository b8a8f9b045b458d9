"""The expected wait the web chat shows while nobody has accepted a chat, from the
routing engine's live queue.

The estimate (documented in the README): ``position`` is the ticket's place in its
queue's waiting line (by the engine's own order; a ticket routing has not queued yet
counts as last); ``minutes = ceil(position / agents online in the queue) *
SWITCHBOARD_WEBCHAT_MINUTES_PER_CHAT`` (default 3), at least 1. With nobody of the queue
online the estimate says so (``minutes`` None) rather than guess. It is refreshed when
the visitor writes or reconnects, and replaced by the agent's name once one accepts."""

from __future__ import annotations

import math

from channels.webchat.notices import WaitEstimate, WaitEstimator
from routing.engine import RoutingEngine

MAX_SCAN = 1000


def wait_estimator(engine: RoutingEngine, minutes_per_chat: float) -> WaitEstimator:
    async def estimate(ticket_id: int, queue: str | None) -> WaitEstimate | None:
        config = next((q for q in engine.queues.values() if q.name == queue), None)
        if config is None:
            return None
        waiting = await engine.store.waiting(config.id, limit=MAX_SCAN)
        ids = [item.ticket_id for item in waiting]
        position = ids.index(ticket_id) + 1 if ticket_id in ids else len(ids) + 1
        members = [a.id for a in engine.agents.values() if config.id in a.queues]
        live = await engine.store.live(members) if members else {}
        online = sum(1 for state in live.values() if state.presence == "online")
        if online == 0:
            return WaitEstimate(position, 0, None)
        minutes = max(1, math.ceil(math.ceil(position / online) * minutes_per_chat))
        return WaitEstimate(position, online, minutes)

    return estimate
