"""The assignment engine: decides who works on what, continuously, in any number of
processes sharing one state store.

Policy (the store only guarantees atomicity):
- eligible: online, member of the ticket's queue (or of its overflow queue once the work
  waited past the queue's overflow delay), every required skill, the ticket's language,
  room on the ticket's channel, and not having refused or missed this ticket before;
- choice: the previous agent of a returning customer (last ``sticky_days``) when eligible,
  else the least occupied on that channel, then the longest idle;
- voice, web chat and Telegram (per queue: ``offer_channels``) get an offer with a timeout;
  a reject or timeout moves it to the next agent, two timeouts in a row set the agent away;
  other channels are assigned at once;
- capacity is freed when a ticket is solved, closed, moved or reassigned; an agent going
  offline hands live conversations back to the front of the queue and keeps email
  (unless their profile says otherwise).
Every decision is written to the audit log with its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from routing import loader
from routing.events import AgentPresenceChanged, OfferEnded, OfferMade, QueueChanged
from routing.loader import QueueConfig, TicketFacts
from routing.rules import QueueRules
from routing.state import PRESENCES, AgentInfo, AgentLive, Offer, Reserve, WorkItem
from routing.store import RoutingStore
from tickets import (
    Actor,
    Conflict,
    Desk,
    Event,
    Invalid,
    NotFound,
    SlaStarted,
    TicketAssigned,
    TicketCreated,
    TicketStatusChanged,
    TicketUpdated,
    assign,
    format_number,
    record_audit,
)
from tickets.models import Message, Ticket

log = logging.getLogger(__name__)
LIVE_CHANNELS = frozenset({"voice", "webchat", "telegram"})
DONE_STATUSES = frozenset({"solved", "closed"})
ROUTING = Actor.system("routing")


@dataclass(frozen=True, slots=True)
class Decision:
    agent_id: int
    reason: str


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
    ) -> None:
        self.store = store
        self.desk = desk
        self.rules = rules or QueueRules()
        self.clock = clock or desk.clock
        self.sticky_days = sticky_days
        self.timeouts_to_away = timeouts_to_away
        self.tick_s = tick_s
        self.agents: dict[int, AgentInfo] = {}
        self.queues: dict[int, QueueConfig] = {}
        self._route_lock = asyncio.Lock()
        self._presence_from_db: dict[int, str] = {}
        self._running = False

    def now(self) -> float:
        return self.clock().timestamp()

    # -- loading and rebuilding -------------------------------------------------------

    async def reload(self) -> None:
        """Re-reads agents and queue settings from the database into the store."""

        async def read(
            session: AsyncSession,
        ) -> tuple[list[AgentInfo], dict[int, str], dict[int, QueueConfig]]:
            infos, presence = await loader.load_agents(session)
            return infos, presence, await loader.load_queues(session)

        infos, presence, queues = await self.desk.read(read)
        self.agents = {a.id: a for a in infos}
        self.queues = queues
        self.rules.update(queues.values())
        for info in infos:
            await self.store.put_agent(info)
        self._presence_from_db = presence

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
        await self.reload()
        now = self.now()
        for agent_id, presence in self._presence_from_db.items():
            await self.store.set_presence(agent_id, presence, now)
        tickets = await self.desk.read(loader.open_tickets)
        for t in tickets:
            if t.assignee_id is not None:
                await self.store.hold(t.id, t.assignee_id, t.channel)
            elif t.queue_id is not None and t.status in ("new", "open"):
                await self.store.enqueue(self._item(t, None))
        await self.store.mark_built()
        log.info(
            "routing state rebuilt: %d agents, %d open tickets", len(self.agents), len(tickets)
        )

    # -- events -----------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        if isinstance(event, TicketCreated):
            await self._classify_and_enqueue(event.ticket_id)
        elif isinstance(event, TicketStatusChanged):
            if event.new in DONE_STATUSES:
                await self._free(event.ticket_id)
            elif event.old in DONE_STATUSES | {"pending", "waiting_parts"} and event.new == "open":
                await self._return_to_work(event.ticket_id)
        elif isinstance(event, TicketUpdated) and "queue" in event.changes:
            await self._return_to_work(event.ticket_id, moved=True)
        elif isinstance(event, TicketAssigned) and event.reason == "manual":
            await self._manual_assignment(event)
        elif isinstance(event, SlaStarted) and event.due_at:
            await self._reorder(event.ticket_id)

    async def _classify_and_enqueue(self, ticket_id: int) -> None:
        facts = await self.desk.read(lambda s: loader.ticket_facts(s, ticket_id))
        if facts is None:
            return
        if self.rules.uses_tiers:
            facts = await self._apply_tier_rules(facts)
        await self._enqueue(facts)

    async def _apply_tier_rules(self, facts: TicketFacts) -> TicketFacts:
        tier = await self.desk.read(lambda s: loader.customer_tier(s, facts.customer_id))
        text = await self.desk.read(lambda s: _first_text(s, facts.id))
        by_name = {q.name: q.id for q in self.queues.values()}
        target = next(
            (by_name[n] for n in self.rules.choose(facts.channel, text, tier) if n in by_name), None
        )
        if target is None or target == facts.queue_id:
            return facts
        await self.desk.write(
            lambda s, now: _routed(s, facts.id, None, now, f"tier {tier}", queue_id=target)
        )
        return await self.desk.read(lambda s: loader.ticket_facts(s, facts.id)) or facts

    async def _enqueue(self, facts: TicketFacts, *, front: bool = False) -> None:
        if facts.queue_id is None or facts.status in DONE_STATUSES:
            return
        now_dt = self.clock()
        sticky = await self.desk.read(
            lambda s: loader.previous_agent(
                s, facts.customer_id, facts.id, now_dt, self.sticky_days
            )
        )
        await self.store.enqueue(self._item(facts, sticky, front=front))
        await self.desk.broadcast([QueueChanged(facts.queue_id)])
        await self.route([facts.queue_id], facts.channel)

    def _item(self, t: TicketFacts, sticky: int | None, *, front: bool = False) -> WorkItem:
        queue = self.queues.get(t.queue_id or 0)
        due = _due(t.sla)
        return WorkItem(
            ticket_id=t.id,
            queue_id=t.queue_id or 0,
            channel=t.channel,
            priority=t.priority,
            arrived_at=t.created_at.timestamp(),
            due_at=due,
            language=(queue.required_language if queue and queue.required_language else t.language),
            required_skills=queue.required_skills if queue else (),
            sticky_agent=sticky,
            front=front,
        )

    async def _reorder(self, ticket_id: int) -> None:
        """The ticket's SLA due time is now known: re-file its waiting item by it."""
        item = await self.store.unqueue(ticket_id)
        if item is None:
            return
        facts = await self.desk.read(lambda s: loader.ticket_facts(s, ticket_id))
        if facts is None:
            return
        await self.store.enqueue(self._item(facts, item.sticky_agent, front=item.front))

    async def _free(self, ticket_id: int) -> None:
        held = await self.store.release(ticket_id)
        if held is None:
            await self.store.unqueue(ticket_id)
        if held is not None and held[0] in self.agents:
            await self.store.mark_idle(held[0], self.now())
            await self.route(self.agents[held[0]].queues, held[1], only_agents={held[0]})

    async def _return_to_work(self, ticket_id: int, *, moved: bool = False) -> None:
        facts = await self.desk.read(lambda s: loader.ticket_facts(s, ticket_id))
        if facts is None:
            return
        if moved:
            held = await self.store.release(ticket_id)
            if held is not None and facts.assignee_id == held[0]:
                await self.desk.write(lambda s, now: _routed(s, ticket_id, None, now, "moved"))
                facts = await self.desk.read(lambda s: loader.ticket_facts(s, ticket_id)) or facts
        if facts.assignee_id is not None:
            if await self.store.holder(ticket_id) != facts.assignee_id:
                await self.store.hold(ticket_id, facts.assignee_id, facts.channel)
            return
        await self._enqueue(facts)

    async def _manual_assignment(self, event: TicketAssigned) -> None:
        facts = await self.desk.read(lambda s: loader.ticket_facts(s, event.ticket_id))
        if facts is None:
            return
        if event.assignee_id is None:
            await self.store.release(event.ticket_id)
            await self._enqueue(facts)
        else:
            await self.store.hold(event.ticket_id, event.assignee_id, facts.channel)
            await self.route()

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

    def _members(self, queue_id: int) -> list[AgentInfo]:
        return [a for a in self.agents.values() if queue_id in a.queues]

    async def _route_lane(self, queue_id: int, channel: str, only: set[int] | None = None) -> int:
        """One queue's waiting work on one channel, against agents with room there."""
        queue = self.queues.get(queue_id)
        roomy = await self.store.with_room(channel)
        if only is not None:
            roomy &= only
        if not roomy:
            return 0
        pool = {a.id: a for a in self._members(queue_id) if a.id in roomy}
        overflow_pool: dict[int, AgentInfo] = {}
        if queue and queue.overflow_queue_id is not None:
            overflow_pool = {
                a.id: a
                for a in self._members(queue.overflow_queue_id)
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
        for item in (
            await self.store.waiting(queue_id, limit=limit, channel=channel) if room > 0 else []
        ):
            if room <= 0:
                break
            overflowing = bool(
                queue
                and queue.overflow_after_s is not None
                and now - item.arrived_at >= queue.overflow_after_s
            )
            candidates = everyone if overflowing else pool
            excluded = (
                await self.store.excluded(item.ticket_id) if channel in LIVE_CHANNELS else set()
            )
            while True:
                decision = self._choose(item, candidates, live, excluded, pool)
                if decision is None:
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

    def _choose(
        self,
        item: WorkItem,
        candidates: dict[int, AgentInfo],
        live: dict[int, AgentLive],
        excluded: set[int],
        own: dict[int, AgentInfo],
    ) -> Decision | None:
        eligible = [
            a
            for a in candidates.values()
            if a.id not in excluded and a.id in live and _eligible(a, live[a.id], item)
        ]
        if not eligible:
            return None
        if item.sticky_agent is not None and any(a.id == item.sticky_agent for a in eligible):
            return Decision(item.sticky_agent, "sticky")

        def occupancy(a: AgentInfo) -> tuple[float, float, int]:
            state = live[a.id]
            return (
                state.load.get(item.channel, 0) / max(1, a.capacity.get(item.channel, 0)),
                state.idle_since,
                a.id,
            )

        best = min(eligible, key=occupancy)
        return Decision(best.id, "least-occupied" if best.id in own else "overflow")

    async def _deliver(self, item: WorkItem, decision: Decision, queue: QueueConfig | None) -> None:
        offer_channels = queue.offer_channels if queue else ("voice", "webchat", "telegram")
        if item.channel in offer_channels:
            timeout = queue.offer_timeout_s if queue else 30
            offer = Offer(
                uuid.uuid4().hex,
                item.ticket_id,
                decision.agent_id,
                item.channel,
                item.queue_id,
                self.now() + timeout,
                decision.reason,
            )
            await self.store.add_offer(offer)
            expires = datetime.fromtimestamp(offer.expires_at, UTC).isoformat()
            # The audit row is written by RoutingAudit from this event, off the hot path.
            await self.desk.publisher.publish(
                [
                    OfferMade(
                        offer.id,
                        item.ticket_id,
                        format_number(item.ticket_id),
                        decision.agent_id,
                        item.channel,
                        expires,
                        decision.reason,
                    )
                ]
            )
        else:
            await self.desk.write(
                lambda s, now: _routed(s, item.ticket_id, decision.agent_id, now, decision.reason)
            )
            await self.store.mark_idle(decision.agent_id, self.now())

    # -- offers -----------------------------------------------------------------------

    async def offers_for(self, agent_id: int) -> list[Offer]:
        return await self.store.offers_for(agent_id)

    async def accept(self, offer_id: str, agent_id: int) -> Offer:
        offer = await self._take_own(offer_id, agent_id)
        await self.store.reset_timeouts(agent_id)
        await self.store.mark_idle(agent_id, self.now())
        await self.desk.write(
            lambda s, now: _routed(s, offer.ticket_id, agent_id, now, offer.reason)
        )
        await self.desk.publisher.publish(
            [
                OfferEnded(
                    offer.id, offer.ticket_id, format_number(offer.ticket_id), agent_id, "accepted"
                )
            ]
        )
        return offer

    async def reject(self, offer_id: str, agent_id: int) -> Offer:
        offer = await self._take_own(offer_id, agent_id)
        await self.store.reset_timeouts(agent_id)
        await self._offer_failed(offer, "rejected")
        return offer

    async def _take_own(self, offer_id: str, agent_id: int) -> Offer:
        mine = {o.id for o in await self.store.offers_for(agent_id)}
        if offer_id not in mine:
            raise NotFound("no such offer for you (it may have expired or moved on)")
        offer = await self.store.take_offer(offer_id)
        if offer is None:
            raise Conflict("the offer has just expired")
        return offer

    async def _offer_failed(self, offer: Offer, outcome: str) -> None:
        await self.store.release(offer.ticket_id)
        await self.store.exclude(offer.ticket_id, offer.agent_id)
        await self.desk.publisher.publish(
            [
                OfferEnded(
                    offer.id,
                    offer.ticket_id,
                    format_number(offer.ticket_id),
                    offer.agent_id,
                    outcome,
                )
            ]
        )
        facts = await self.desk.read(lambda s: loader.ticket_facts(s, offer.ticket_id))
        if facts is not None and facts.assignee_id is None:
            await self._enqueue(facts)

    async def expire_offers(self) -> int:
        expired = 0
        for offer_id in await self.store.expired_offers(self.now()):
            offer = await self.store.take_offer(offer_id)
            if offer is None:
                continue
            expired += 1
            missed = await self.store.count_timeout(offer.agent_id)
            if missed >= self.timeouts_to_away:
                await self.set_presence(
                    offer.agent_id, "away", ROUTING, reason=f"{missed} offers timed out"
                )
            await self._offer_failed(offer, "timeout")
        return expired

    # -- presence ---------------------------------------------------------------------

    async def set_presence(
        self, agent_id: int, presence: str, actor: Actor, *, reason: str = "manual"
    ) -> str:
        if presence not in PRESENCES:
            raise Invalid(f"presence must be one of {', '.join(PRESENCES)}")
        info = self.agents.get(agent_id)
        if info is None:
            await self.reload()
            info = self.agents.get(agent_id)
            if info is None:
                raise Invalid("this user is not a member of any queue")
        old = await self.store.set_presence(agent_id, presence, self.now())

        async def save(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            await loader.save_presence(session, agent_id, presence, now)
            await record_audit(
                session,
                actor,
                "agent.presence",
                now,
                None,
                agent_id=agent_id,
                old=old,
                new=presence,
                reason=reason,
            )
            return None, [AgentPresenceChanged(agent_id, info.email, old, presence, reason)]

        await self.desk.write(save)
        if presence == "offline" and old != "offline":
            await self._hand_back(info)
        if presence == "online":
            await self.route(info.queues, only_agents={agent_id})
        return old

    async def _hand_back(self, info: AgentInfo) -> None:
        for offer in await self.store.offers_for(info.id):
            taken = await self.store.take_offer(offer.id)
            if taken is not None:
                await self._offer_failed(taken, "withdrawn")
        for ticket_id, channel in await self.store.held_by(info.id):
            if channel not in LIVE_CHANNELS and info.keep_email_on_offline:
                continue
            await self.store.release(ticket_id)
            await self._unassign_to_front(ticket_id)

    async def _unassign_to_front(self, ticket_id: int) -> None:
        await self.desk.write(lambda s, now: _routed(s, ticket_id, None, now, "agent offline"))
        facts = await self.desk.read(lambda s: loader.ticket_facts(s, ticket_id))
        if facts is not None:
            await self._enqueue(facts, front=True)

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
        self._running = True
        while self._running:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("routing tick failed")
            await asyncio.sleep(self.tick_s)

    async def snapshot(self) -> tuple[dict[int, AgentLive], dict[int, int], dict[int, float]]:
        """Live state for the supervisor views: agents, queue depths, oldest arrival."""
        live = await self.store.live(list(self.agents))
        depth: dict[int, int] = {}
        oldest: dict[int, float] = {}
        for (queue_id, _channel), count in (await self.store.waiting_counts()).items():
            depth[queue_id] = depth.get(queue_id, 0) + count
        for queue_id in depth:
            items = await self.store.waiting(queue_id, limit=1000)
            if items:
                oldest[queue_id] = min(i.arrived_at for i in items)
        return live, depth, oldest


def _eligible(agent: AgentInfo, live: AgentLive, item: WorkItem) -> bool:
    if live.presence != "online":
        return False
    if live.load.get(item.channel, 0) >= agent.capacity.get(item.channel, 0):
        return False
    if item.language and item.language not in agent.languages:
        return False
    return all(agent.skills.get(skill, 0) >= 1 for skill in item.required_skills)


def _due(sla: dict[str, object]) -> float | None:
    first = sla.get("first_response")
    if isinstance(first, dict) and isinstance(first.get("due_at"), str):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(first["due_at"]).timestamp()
    return None


async def _first_text(session: AsyncSession, ticket_id: int) -> str:
    row = (
        await session.execute(
            select(Ticket.subject, Message.text)
            .join(Message, Message.ticket_id == Ticket.id)
            .where(Ticket.id == ticket_id)
            .order_by(Message.id)
            .limit(1)
        )
    ).first()
    return "" if row is None else f"{row[0]}\n{row[1]}"


async def _routed(
    session: AsyncSession,
    ticket_id: int,
    agent_id: int | None,
    now: datetime,
    reason: str,
    *,
    queue_id: int | None = None,
) -> tuple[None, tuple[Event, ...]]:
    written = await assign(
        session, ticket_id, agent_id, ROUTING, now, reason=reason, queue_id=queue_id
    )
    return None, written.events
