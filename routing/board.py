"""What the supervisor wallboard reads from routing: one consistent-enough picture of the
live state (agents, their presence and load, waiting work with its channel and arrival,
open offers, refused work), read from the store in a handful of calls.

``RoutingEngine.snapshot`` (the REST queue view) sums waiting work per queue; the
wallboard also splits it per channel and shows offers, so it reads the waiting items and
offers themselves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from routing.loader import QueueConfig
from routing.state import AgentInfo, AgentLive, Offer, WorkItem

if TYPE_CHECKING:
    from routing.engine import RoutingEngine


@dataclass(frozen=True, slots=True)
class BoardState:
    now: float
    agents: dict[int, AgentInfo]
    live: dict[int, AgentLive]
    queues: dict[int, QueueConfig]
    waiting: list[WorkItem]
    offers: list[Offer]
    refused: dict[int, int]
    """Ticket id -> queue id of work every able agent refused (it waits for a new round)."""


async def board_state(engine: RoutingEngine) -> BoardState:
    store = engine.store
    return BoardState(
        now=engine.now(),
        agents=dict(engine.agents),
        live=await store.live(list(engine.agents)),
        queues=dict(engine.queues),
        waiting=await store.all_waiting(),
        offers=await store.all_offers(),
        refused=await store.refused(),
    )
