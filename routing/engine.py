"""The assignment engine: decides who works on what, continuously, in any number of
processes sharing one state store.

The engine is split by idea: the policy is pure functions (``routing.policy``), offers
and their answers live in ``routing.offers``, presence in ``routing.presence``, the
mapping from domain events to routing work in ``routing.adapter``, and the periodic
repair of drift between the store and the database in ``routing.reconcile``. This
module holds the configuration, the waiting work and the assignment pass.

Decisions where the issue is silent:
- every change that moves the store before a database write undoes the store move when
  the write fails (``compensated``), then re-raises: the caller (an event consumer, which
  retries; an API request, which answers 5xx) sees the failure, and the store and the
  database agree again;
- the configuration (agents, queues, rules) is re-read on ``StaffChanged`` and
  ``RoutingConfigChanged`` in every process; a burst of changes costs one or two re-reads
  (``request_reload`` coalesces);
- after a re-read the engine does not route by itself: the tick (worker processes) and
  the next event do, so a serve process without workers stays passive.
Every decision is written to the audit log with its reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from routing import loader, policy
from routing.adapter import RoutingEvents
from routing.events import QueueChanged
from routing.loader import QueueConfig
from routing.offers import Offers
from routing.policy import LIVE_CHANNELS
from routing.presence import Presence
from routing.reconcile import Reconciler
from routing.rules import QueueRules
from routing.state import AgentInfo, AgentLive, Offer, Reserve, WorkItem
from routing.store import RoutingStore
from tickets import (
    DONE_STATUSES,
    Actor,
    Desk,
    Event,
    TicketFacts,
    assign,
    open_ticket_facts,
    previous_assignee,
    ticket_facts,
)

log = logging.getLogger(__name__)
DONE = frozenset(s.value for s in DONE_STATUSES)
ROUTING = Actor.system("routing")
T = TypeVar("T")


class RoutingEngine:
    def __init__(
        self,
        store: RoutingStore,
        desk: Desk,
        *,
        rules: QueueRules | None = None,
        clock: Callable[[], datetime] | None = None,
        sticky_days: int = 7,
        timeouts_to_away: int = 2,
        tick_s: float = 1.0,
        refusal_cooldown_s: float = 600.0,
        reconcile_s: float = 60.0,
    ) -> None:
        self.store = store
        self.desk = desk
        self.rules = rules or QueueRules()
        self.clock = clock or desk.clock
        self.sticky_days = sticky_days
        self.timeouts_to_away = timeouts_to_away
        self.tick_s = tick_s
        self.refusal_cooldown_s = refusal_cooldown_s
        self.reconcile_s = reconcile_s
        self.agents: dict[int, AgentInfo] = {}
        self.queues: dict[int, QueueConfig] = {}
        self.offers = Offers(self)
        self.presence = Presence(self)
        self.events = RoutingEvents(self)
        self.reconciler = Reconciler(self)
        self._route_lock = asyncio.Lock()
        self._reload_lock = asyncio.Lock()
        self._reload_wanted = False
        self._presence_from_db: dict[int, str] = {}
        self._running = False

    def now(self) -> float:
        return self.clock().timestamp()

    # -- configuration ----------------------------------------------------------------

    async def reload(self) -> None:
        """Re-reads agents and queue settings from the database into the store."""

        async def read(
            session: AsyncSession,
        ) -> tuple[list[AgentInfo], dict[int, str], dict[int, QueueConfig]]:
            infos, presence = await loader.load_agents(session)
            return infos, presence, await loader.load_queues(session)

        infos, presence, queues = await self.desk.read(read)
        for info in infos:
            if self.agents.get(info.id) != info:
                await self.store.put_agent(info)
        self.agents = {a.id: a for a in infos}
        self.queues = queues
        self.rules.update(queues.values())
        self._presence_from_db = presence

    async def request_reload(self) -> None:
        """A re-read that coalesces: requests arriving while one runs share the next."""
        self._reload_wanted = True
        async with self._reload_lock:
            if not self._reload_wanted:
                return
            self._reload_wanted = False
            await self.reload()
        log.info(
            "routing configuration re-read: %d agents, %d queues",
            len(self.agents),
            len(self.queues),
        )

    async def ensure_state(self) -> bool:
        """Rebuilds when the store has no state (first process to start, or after a Redis
        loss); otherwise only refreshes agents and queues. True when it rebuilt."""
        if await self.store.claim_rebuild():
            await self.rebuild()
            return True
        await self.reload()
        return False

    async def rebuild(self) -> None:
        """Refills the store from the database: who is online, who holds which open
        ticket, and what waits in which queue."""
        await self.store.clear()
        self.agents = {}
        await self.reload()
        now = self.now()
        for agent_id, presence in self._presence_from_db.items():
            await self.store.set_presence(agent_id, presence, now)
        tickets = await self.desk.read(open_ticket_facts)
        for t in tickets:
            if t.assignee_id is not None:
                await self.store.hold(t.id, t.assignee_id, t.channel)
            elif t.queue_id is not None and t.status in ("new", "open"):
                await self.store.enqueue(self.item(t, None))
        await self.store.mark_built()
        log.info(
            "routing state rebuilt: %d agents, %d open tickets", len(self.agents), len(tickets)
        )

    # -- waiting work -----------------------------------------------------------------

    async def facts(self, ticket_id: int) -> TicketFacts | None:
        return await self.desk.read(lambda s: ticket_facts(s, ticket_id))

    def item(self, t: TicketFacts, sticky: int | None, *, front: bool = False) -> WorkItem:
        return policy.work_item(t, self.queues.get(t.queue_id or 0), sticky, front=front)

    async def enqueue(self, facts: TicketFacts, *, front: bool = False) -> None:
        if facts.queue_id is None or facts.status in DONE:
            return
        since = self.clock() - timedelta(days=self.sticky_days)
        sticky = await self.desk.read(
            lambda s: previous_assignee(s, facts.customer_id, facts.id, since)
        )
        await self.store.enqueue(self.item(facts, sticky, front=front))
        await self.desk.broadcast([QueueChanged(facts.queue_id)])
        await self.route([facts.queue_id], facts.channel)

    async def compensated(
        self, write: Callable[[], Awaitable[T]], undo: Callable[[], Awaitable[object]]
    ) -> T:
        """Runs the database ``write`` that follows a store move; when it fails, ``undo``
        puts the store back and the error goes on to the caller."""
        try:
            return await write()
        except Exception:
            try:
                await undo()
            except Exception:
                log.exception("routing could not undo a store change; the reconcile will")
            else:
                log.warning("routing database write failed; the store change was undone")
            raise

    async def record_assignment(
        self, ticket_id: int, agent_id: int | None, reason: str, *, queue_id: int | None = None
    ) -> None:
        async def work(session: AsyncSession, now: datetime) -> tuple[None, tuple[Event, ...]]:
            written = await assign(
                session, ticket_id, agent_id, ROUTING, now, reason=reason, queue_id=queue_id
            )
            return None, written.events

        await self.desk.write(work)

    async def unassign(self, ticket_id: int, held: tuple[int, str], reason: str) -> None:
        """Records that nobody works on the ticket any more; the store already released it
        (``held`` is what it held), and holds it again when the write fails."""
        await self.compensated(
            lambda: self.record_assignment(ticket_id, None, reason),
            lambda: self.store.hold(ticket_id, held[0], held[1]),
        )

    # -- the assignment pass ----------------------------------------------------------

    async def route(
        self,
        queue_ids: Iterable[int] | None = None,
        channel: str | None = None,
        only_agents: set[int] | None = None,
    ) -> int:
        """Offers or assigns waiting work to agents with room; returns how many. Without
        arguments every queue and channel with waiting work is served (the tick).
        ``only_agents``: just these agents gained room (came online, finished work); the
        others had no takers waiting, so only the newcomers need looking at."""
        async with self._route_lock:
            if queue_ids is None:
                lanes = sorted(await self.store.waiting_counts())
            else:
                wanted = set(queue_ids) | self._overflowing_into(queue_ids)
                channels = [channel] if channel else sorted(self._channels())
                lanes = [(q, ch) for q in sorted(wanted) for ch in channels]
            made = 0
            for queue_id, lane_channel in lanes:
                made += await self._route_lane(queue_id, lane_channel, only_agents)
            return made

    def _channels(self) -> set[str]:
        return {ch for a in self.agents.values() for ch in a.capacity}

    def _overflowing_into(self, queue_ids: Iterable[int]) -> set[int]:
        targets = set(queue_ids)
        return {q.id for q in self.queues.values() if q.overflow_queue_id in targets}

    def members(self, queue_id: int) -> list[AgentInfo]:
        return [a for a in self.agents.values() if queue_id in a.queues]

    async def _route_lane(self, queue_id: int, channel: str, only: set[int] | None = None) -> int:
        """One queue's waiting work on one channel, against agents with room there."""
        queue = self.queues.get(queue_id)
        roomy = await self.store.with_room(channel)
        if only is not None:
            roomy &= only
        if not roomy:
            return 0
        pool = {a.id: a for a in self.members(queue_id) if a.id in roomy}
        overflow_pool: dict[int, AgentInfo] = {}
        if queue and queue.overflow_queue_id is not None:
            overflow_pool = {
                a.id: a
                for a in self.members(queue.overflow_queue_id)
                if a.id in roomy and a.id not in pool
            }
        everyone = {**pool, **overflow_pool}
        if not everyone:
            return 0
        live = await self.store.live(list(everyone))
        room = sum(
            max(0, everyone[a].capacity.get(channel, 0) - s.load.get(channel, 0))
            for a, s in live.items()
            if s.presence == "online"
        )
        made = 0
        now = self.now()
        limit = min(1000, max(20, 4 * room))
        rounds = _Rounds(self, queue, queue_id)
        for item in (
            await self.store.waiting(queue_id, limit=limit, channel=channel) if room > 0 else []
        ):
            if room <= 0:
                break
            spill = policy.overflowing(queue, item, now)
            candidates = everyone if spill else pool
            excluded = (
                await self.store.excluded(item.ticket_id, now)
                if channel in LIVE_CHANNELS
                else set()
            )
            while True:
                decision = policy.choose(item, candidates, live, excluded, pool)
                if decision is None:
                    if excluded:
                        await rounds.check(item, excluded, spill)
                    break
                outcome = await self.store.reserve(item, decision.agent_id)
                if outcome == Reserve.OK:
                    state = live[decision.agent_id]
                    state.load[channel] = state.load.get(channel, 0) + 1
                    room -= 1
                    await self._deliver(item, decision, queue)
                    made += 1
                    break
                if outcome == Reserve.GONE:
                    break
                fresh = await self.store.live([decision.agent_id])
                if decision.agent_id in fresh:
                    live[decision.agent_id] = fresh[decision.agent_id]
                excluded = excluded | {decision.agent_id}
        return made

    async def _deliver(
        self, item: WorkItem, decision: policy.Decision, queue: QueueConfig | None
    ) -> None:
        offer_channels = queue.offer_channels if queue else ("voice", "webchat", "telegram")
        if item.channel in offer_channels:
            await self.offers.make(item, decision, queue.offer_timeout_s if queue else 30)
            return

        async def undo() -> None:
            await self.store.release(item.ticket_id)
            await self.store.enqueue(item)

        await self.compensated(
            lambda: self.record_assignment(item.ticket_id, decision.agent_id, decision.reason),
            undo,
        )
        await self.store.mark_idle(decision.agent_id, self.now())

    # -- what the API and the bus call ------------------------------------------------

    async def on_event(self, event: Event) -> None:
        await self.events.on_event(event)

    async def offers_for(self, agent_id: int) -> list[Offer]:
        return await self.store.offers_for(agent_id)

    async def accept(self, offer_id: str, agent_id: int) -> Offer:
        return await self.offers.accept(offer_id, agent_id)

    async def reject(self, offer_id: str, agent_id: int) -> Offer:
        return await self.offers.reject(offer_id, agent_id)

    async def expire_offers(self) -> int:
        return await self.offers.expire()

    async def set_presence(
        self, agent_id: int, presence: str, actor: Actor, *, reason: str = "manual"
    ) -> str:
        return await self.presence.set(agent_id, presence, actor, reason=reason)

    # -- the background loop ----------------------------------------------------------

    async def tick(self) -> None:
        if await self.store.claim_rebuild():
            log.warning("routing state was lost; rebuilding it from the database")
            await self.rebuild()
        await self.expire_offers()
        await self.route()

    def stop(self) -> None:
        self._running = False

    async def run(self) -> None:
        """The worker loop: offers time out, waiting work is served, and every
        ``reconcile_s`` the store is compared with the database."""
        self._running = True
        next_reconcile = self.now() + self.reconcile_s
        while self._running:
            try:
                await self.tick()
                if self.now() >= next_reconcile:
                    next_reconcile = self.now() + self.reconcile_s
                    if await self.store.claim("reconcile", self.reconcile_s * 0.9):
                        await self.reconciler.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("routing tick failed")
            await asyncio.sleep(self.tick_s)

    async def snapshot(
        self,
    ) -> tuple[dict[int, AgentLive], dict[int, int], dict[int, float], dict[int, int]]:
        """Live state for the supervisor views: agents, queue depths, oldest arrival and
        how many tickets every able agent refused, per queue."""
        live = await self.store.live(list(self.agents))
        depth: dict[int, int] = {}
        oldest: dict[int, float] = {}
        for (queue_id, _channel), count in (await self.store.waiting_counts()).items():
            depth[queue_id] = depth.get(queue_id, 0) + count
        for queue_id in depth:
            items = await self.store.waiting(queue_id, limit=1000)
            if items:
                oldest[queue_id] = min(i.arrived_at for i in items)
        refused: dict[int, int] = {}
        for queue_id in (await self.store.refused()).values():
            refused[queue_id] = refused.get(queue_id, 0) + 1
        return live, depth, oldest, refused


class _Rounds:
    """Within one lane pass: notices work that every able agent has refused and starts
    its next round. The live state of the queue's online members is read once, and only
    when some work had no taker because of refusals."""

    def __init__(self, engine: RoutingEngine, queue: QueueConfig | None, queue_id: int) -> None:
        self.engine = engine
        self.queue = queue
        self.queue_id = queue_id
        self._live: dict[int, AgentLive] | None = None

    async def check(self, item: WorkItem, refused: set[int], spill: bool) -> None:
        overflow = self.queue.overflow_queue_id if self.queue else None
        agents = {a.id: a for a in self.engine.members(self.queue_id)}
        if spill and overflow is not None:
            agents.update({a.id: a for a in self.engine.members(overflow)})
        if self._live is None:
            ids = {a.id for a in self.engine.members(self.queue_id)}
            if overflow is not None:
                ids |= {a.id for a in self.engine.members(overflow)}
            self._live = await self.engine.store.live(sorted(ids))
        if policy.everyone_refused(item, agents.values(), self._live, refused):
            await self.engine.store.new_round(item.ticket_id, item.queue_id)
            log.info("ticket %s: every able agent refused it; offering it again", item.ticket_id)
