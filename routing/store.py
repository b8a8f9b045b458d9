"""The routing state store: one interface, two implementations with one shared test suite.

- ``MemoryStore``: the embedded default, one process. Every method runs without awaiting
  in its critical section, so each is atomic on the event loop.
- ``RedisStore`` (``routing.redis_store``): shared by any number of engines; the
  check-and-change steps (reserve capacity, release it, take an offer) are Lua scripts.

The store never decides who gets work (that is the engine's policy); it guarantees that
a ticket is held by at most one agent and that no agent's load passes its capacity.
"""

from __future__ import annotations

import bisect
from typing import Protocol

from routing.state import AgentInfo, AgentLive, Offer, Reserve, WorkItem


class RoutingStore(Protocol):
    async def claim_rebuild(self) -> bool:
        """True when the state is missing (first start, or the store lost its data) and
        this caller won the right to rebuild it."""

    async def mark_built(self) -> None: ...
    async def clear(self) -> None: ...
    async def put_agent(self, info: AgentInfo) -> None: ...
    async def agent_infos(self) -> list[AgentInfo]: ...
    async def live(self, agent_ids: list[int]) -> dict[int, AgentLive]: ...
    async def set_presence(self, agent_id: int, presence: str, now: float) -> str:
        """Sets presence; returns the previous one."""

    async def enqueue(self, item: WorkItem) -> bool:
        """Puts the item in its queue (moving it if it waited elsewhere); refuses (False)
        a ticket an agent holds, so a late or repeated event cannot hand it out twice."""

    async def waiting(
        self, queue_id: int, limit: int = 1000, channel: str | None = None
    ) -> list[WorkItem]:
        """Waiting work of a queue in order (of one channel, or of all merged)."""

    async def waiting_counts(self) -> dict[tuple[int, str], int]:
        """How much waits per (queue, channel)."""

    async def with_room(self, channel: str) -> set[int]:
        """Online agents with a free place on the channel (an index kept by the store,
        so a pass with no room anywhere costs one call)."""

    async def unqueue(self, ticket_id: int) -> WorkItem | None: ...
    async def reserve(self, item: WorkItem, agent_id: int) -> int:
        """Atomically: the item is still waiting, the agent online with room on the
        item's channel -> the item leaves the queue and the agent holds it."""

    async def hold(self, ticket_id: int, agent_id: int, channel: str) -> None:
        """Forced hold (supervisor assignment, rebuild): counts load without a check."""

    async def release(self, ticket_id: int) -> tuple[int, str] | None:
        """Frees the ticket's capacity; returns (agent, channel) when it was held."""

    async def finish(
        self, ticket_id: int, idle_at: float | None = None
    ) -> tuple[tuple[int, str] | None, Offer | None]:
        """The ticket leaves its agent for good (finished, moved): frees its place (and
        marks the agent idle since ``idle_at`` when given), takes its open offer, and
        drops its refusals, all in one step. Returns what was held and the offer taken."""

    async def holder(self, ticket_id: int) -> int | None: ...
    async def held_by(self, agent_id: int) -> list[tuple[int, str]]: ...
    async def add_offer(self, offer: Offer) -> None: ...
    async def take_offer(self, offer_id: str) -> Offer | None:
        """Removes and returns the offer; only one caller ever gets it."""

    async def offers_for(self, agent_id: int) -> list[Offer]: ...
    async def all_offers(self) -> list[Offer]: ...
    async def expired_offers(self, now: float) -> list[str]: ...
    async def exclude(self, ticket_id: int, agent_id: int, now: float, cooldown_s: float) -> None:
        """The agent refused or missed the ticket: keep them away from it until
        ``now + cooldown_s`` (the entry disappears by itself afterwards)."""

    async def excluded(self, ticket_id: int, now: float) -> set[int]:
        """Agents still cooling down after refusing the ticket."""

    async def new_round(self, ticket_id: int, queue_id: int) -> None:
        """Everyone able refused: forget the refusals and count the ticket as refused."""

    async def forget(self, ticket_id: int) -> None:
        """The ticket was taken, finished or moved: drop its refusals and refused mark."""

    async def refused(self) -> dict[int, int]:
        """Tickets counted as refused (every able agent refused them), with their queue."""

    async def prune_refusals(self, now: float) -> None:
        """Drops cool-downs that have run out (the Redis store lets them expire)."""

    async def held(self) -> dict[int, tuple[int, str]]:
        """Every held ticket: (agent, channel)."""

    async def all_waiting(self) -> list[WorkItem]: ...
    async def claim(self, name: str, ttl_s: float) -> bool:
        """True for one caller per ``ttl_s`` across every process (periodic chores)."""

    async def count_timeout(self, agent_id: int) -> int: ...
    async def reset_timeouts(self, agent_id: int) -> None: ...
    async def mark_idle(self, agent_id: int, now: float) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self.infos: dict[int, AgentInfo] = {}
        self.lives: dict[int, AgentLive] = {}
        self.room: dict[str, set[int]] = {}
        self.items: dict[int, WorkItem] = {}
        self.queues: dict[tuple[int, str], dict[int, float]] = {}
        self.lanes: dict[tuple[int, str], list[tuple[float, int]]] = {}
        self.holders: dict[int, tuple[int, str]] = {}
        self.offers: dict[str, Offer] = {}
        self.offer_of: dict[int, str] = {}
        self.exclusions: dict[int, dict[int, float]] = {}
        self.refusals: dict[int, int] = {}
        self.built = False

    async def claim_rebuild(self) -> bool:
        return not self.built

    async def mark_built(self) -> None:
        self.built = True

    async def clear(self) -> None:
        built = self.built
        self.__init__()  # type: ignore[misc]
        self.built = built

    def _refresh_room(self, agent_id: int) -> None:
        """Keeps the per-channel index of online agents with a free place (what the
        Redis store keeps in ``room:{channel}``), so a pass never scans every agent."""
        info, live = self.infos.get(agent_id), self.lives.get(agent_id)
        for channel, members in self.room.items():
            if info is None or channel not in info.capacity:
                members.discard(agent_id)
        if info is None or live is None:
            return
        for channel, cap in info.capacity.items():
            members = self.room.setdefault(channel, set())
            if live.presence == "online" and live.load.get(channel, 0) < cap:
                members.add(agent_id)
            else:
                members.discard(agent_id)

    async def put_agent(self, info: AgentInfo) -> None:
        self.infos[info.id] = info
        self.lives.setdefault(info.id, AgentLive())
        self._refresh_room(info.id)

    async def agent_infos(self) -> list[AgentInfo]:
        return list(self.infos.values())

    async def live(self, agent_ids: list[int]) -> dict[int, AgentLive]:
        out = {}
        for agent_id in agent_ids:
            live = self.lives.get(agent_id)
            if live is not None:
                out[agent_id] = AgentLive(
                    live.presence, dict(live.load), live.idle_since, live.timeouts
                )
        return out

    async def set_presence(self, agent_id: int, presence: str, now: float) -> str:
        live = self.lives.setdefault(agent_id, AgentLive())
        old, live.presence = live.presence, presence
        if presence == "online" and old != "online":
            live.idle_since = now
            live.timeouts = 0
        self._refresh_room(agent_id)
        return old

    async def enqueue(self, item: WorkItem) -> bool:
        if item.ticket_id in self.holders:
            return False
        await self.unqueue(item.ticket_id)
        lane = (item.queue_id, item.channel)
        self.items[item.ticket_id] = item
        self.queues.setdefault(lane, {})[item.ticket_id] = item.score
        bisect.insort(self.lanes.setdefault(lane, []), (item.score, item.ticket_id))
        return True

    async def waiting(
        self, queue_id: int, limit: int = 1000, channel: str | None = None
    ) -> list[WorkItem]:
        if channel is not None:
            ordered = self.lanes.get((queue_id, channel), [])[:limit]
        else:
            merged = [
                e for (q, _ch), lane in self.lanes.items() if q == queue_id for e in lane[:limit]
            ]
            ordered = sorted(merged)[:limit]
        return [self.items[t] for _, t in ordered]

    async def waiting_counts(self) -> dict[tuple[int, str], int]:
        return {key: len(items) for key, items in self.queues.items() if items}

    async def with_room(self, channel: str) -> set[int]:
        return set(self.room.get(channel, ()))

    async def unqueue(self, ticket_id: int) -> WorkItem | None:
        item = self.items.pop(ticket_id, None)
        if item is not None:
            lane = (item.queue_id, item.channel)
            score = self.queues.get(lane, {}).pop(ticket_id, None)
            entries = self.lanes.get(lane, [])
            if score is not None:
                index = bisect.bisect_left(entries, (score, ticket_id))
                if index < len(entries) and entries[index] == (score, ticket_id):
                    del entries[index]
        return item

    async def reserve(self, item: WorkItem, agent_id: int) -> int:
        current = self.items.get(item.ticket_id)
        if current is None or item.ticket_id not in self.queues.get(
            (current.queue_id, current.channel), {}
        ):
            return Reserve.GONE
        live = self.lives.get(agent_id)
        info = self.infos.get(agent_id)
        if live is None or info is None or live.presence != "online":
            return Reserve.NOT_ONLINE
        if live.load.get(item.channel, 0) >= info.capacity.get(item.channel, 0):
            return Reserve.FULL
        await self.unqueue(item.ticket_id)
        live.load[item.channel] = live.load.get(item.channel, 0) + 1
        self.holders[item.ticket_id] = (agent_id, item.channel)
        self._refresh_room(agent_id)
        return Reserve.OK

    async def hold(self, ticket_id: int, agent_id: int, channel: str) -> None:
        await self.release(ticket_id)
        await self.unqueue(ticket_id)
        live = self.lives.setdefault(agent_id, AgentLive())
        live.load[channel] = live.load.get(channel, 0) + 1
        self.holders[ticket_id] = (agent_id, channel)
        self._refresh_room(agent_id)

    async def release(self, ticket_id: int) -> tuple[int, str] | None:
        held = self.holders.pop(ticket_id, None)
        if held is None:
            return None
        agent_id, channel = held
        live = self.lives.get(agent_id)
        if live is not None:
            live.load[channel] = max(0, live.load.get(channel, 0) - 1)
        self._refresh_room(agent_id)
        return held

    async def finish(
        self, ticket_id: int, idle_at: float | None = None
    ) -> tuple[tuple[int, str] | None, Offer | None]:
        held = await self.release(ticket_id)
        if held is not None and idle_at is not None:
            await self.mark_idle(held[0], idle_at)
        offer_id = self.offer_of.get(ticket_id)
        offer = await self.take_offer(offer_id) if offer_id else None
        await self.forget(ticket_id)
        return held, offer

    async def holder(self, ticket_id: int) -> int | None:
        held = self.holders.get(ticket_id)
        return None if held is None else held[0]

    async def held_by(self, agent_id: int) -> list[tuple[int, str]]:
        return [(t, ch) for t, (a, ch) in self.holders.items() if a == agent_id]

    async def add_offer(self, offer: Offer) -> None:
        self.offers[offer.id] = offer
        self.offer_of[offer.ticket_id] = offer.id

    async def take_offer(self, offer_id: str) -> Offer | None:
        offer = self.offers.pop(offer_id, None)
        if offer is not None and self.offer_of.get(offer.ticket_id) == offer_id:
            del self.offer_of[offer.ticket_id]
        return offer

    async def offers_for(self, agent_id: int) -> list[Offer]:
        return sorted(
            (o for o in self.offers.values() if o.agent_id == agent_id), key=lambda o: o.expires_at
        )

    async def all_offers(self) -> list[Offer]:
        return list(self.offers.values())

    async def expired_offers(self, now: float) -> list[str]:
        return [o.id for o in self.offers.values() if o.expires_at <= now]

    async def exclude(self, ticket_id: int, agent_id: int, now: float, cooldown_s: float) -> None:
        self.exclusions.setdefault(ticket_id, {})[agent_id] = now + cooldown_s

    async def excluded(self, ticket_id: int, now: float) -> set[int]:
        entries = self.exclusions.get(ticket_id)
        if not entries:
            return set()
        for agent_id in [a for a, until in entries.items() if until <= now]:
            del entries[agent_id]
        if not entries:
            del self.exclusions[ticket_id]
        return set(entries)

    async def new_round(self, ticket_id: int, queue_id: int) -> None:
        self.exclusions.pop(ticket_id, None)
        self.refusals[ticket_id] = queue_id

    async def forget(self, ticket_id: int) -> None:
        self.exclusions.pop(ticket_id, None)
        self.refusals.pop(ticket_id, None)

    async def refused(self) -> dict[int, int]:
        return dict(self.refusals)

    async def prune_refusals(self, now: float) -> None:
        for ticket_id in list(self.exclusions):
            await self.excluded(ticket_id, now)

    async def held(self) -> dict[int, tuple[int, str]]:
        return dict(self.holders)

    async def all_waiting(self) -> list[WorkItem]:
        return list(self.items.values())

    async def claim(self, name: str, ttl_s: float) -> bool:
        return True

    async def count_timeout(self, agent_id: int) -> int:
        live = self.lives.setdefault(agent_id, AgentLive())
        live.timeouts += 1
        return live.timeouts

    async def reset_timeouts(self, agent_id: int) -> None:
        live = self.lives.get(agent_id)
        if live is not None:
            live.timeouts = 0

    async def mark_idle(self, agent_id: int, now: float) -> None:
        live = self.lives.get(agent_id)
        if live is not None:
            live.idle_since = now
