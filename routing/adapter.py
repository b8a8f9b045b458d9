"""The event adapter: what routing does when the rest of the system tells it something.

Two subscriptions, by promise:
- ``on_event`` is durable work (consumer group ``routing``, one process handles each
  event): new tickets are queued, finished ones free their agent's place, re-opened ones
  come back, a move or a manual assignment is followed, an SLA due time re-orders the
  waiting item. The queue a ticket waits in is the one ingest chose (with the customer's
  tier); routing never re-classifies it.
- ``on_config`` is a broadcast listener (every process): a staff or routing configuration
  change makes every process re-read agents, queues and rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from routing.events import RoutingConfigChanged
from tickets import (
    DONE_STATUSES,
    PAUSED_STATUSES,
    Event,
    SlaStarted,
    StaffChanged,
    TicketAssigned,
    TicketCreated,
    TicketStatusChanged,
    TicketUpdated,
)

if TYPE_CHECKING:
    from routing.engine import RoutingEngine

DONE = frozenset(s.value for s in DONE_STATUSES)
COMING_BACK = DONE | frozenset(s.value for s in PAUSED_STATUSES)


class RoutingEvents:
    def __init__(self, engine: RoutingEngine) -> None:
        self.engine = engine

    async def on_event(self, event: Event) -> None:
        if isinstance(event, TicketCreated):
            await self._created(event.ticket_id)
        elif isinstance(event, TicketStatusChanged):
            if event.new in DONE:
                await self._finished(event.ticket_id)
            elif event.old in COMING_BACK and event.new == "open":
                await self._back_to_work(event.ticket_id)
        elif isinstance(event, TicketUpdated) and "queue" in event.changes:
            await self._moved(event.ticket_id)
        elif isinstance(event, TicketAssigned) and event.reason == "manual":
            await self._assigned_by_hand(event)
        elif isinstance(event, SlaStarted) and event.due_at:
            await self._reorder(event.ticket_id)

    async def on_config(self, event: Event) -> None:
        if isinstance(event, StaffChanged | RoutingConfigChanged):
            await self.engine.request_reload()

    async def _created(self, ticket_id: int) -> None:
        facts = await self.engine.facts(ticket_id)
        if facts is not None:
            await self.engine.enqueue(facts)

    async def _finished(self, ticket_id: int) -> None:
        engine = self.engine
        held, offer = await engine.store.finish(ticket_id)
        if offer is not None:
            await engine.offers.ended(offer, "withdrawn")
        if held is None:
            await engine.store.unqueue(ticket_id)
            return
        agent_id, channel = held
        info = engine.agents.get(agent_id)
        if info is not None:
            await engine.store.mark_idle(agent_id, engine.now())
            await engine.route(info.queues, channel, only_agents={agent_id})

    async def _back_to_work(self, ticket_id: int) -> None:
        engine = self.engine
        facts = await engine.facts(ticket_id)
        if facts is None:
            return
        if facts.assignee_id is not None:
            if await engine.store.holder(ticket_id) != facts.assignee_id:
                await engine.store.hold(ticket_id, facts.assignee_id, facts.channel)
            return
        await engine.enqueue(facts)

    async def _moved(self, ticket_id: int) -> None:
        """Another queue: the old queue's agent lets go (an open offer is withdrawn, an
        assignment by routing undone) and the ticket is served in its new queue, with a
        clean slate of refusals."""
        engine = self.engine
        held, offer = await engine.store.finish(ticket_id)
        if offer is not None:
            await engine.offers.ended(offer, "withdrawn")
        facts = await engine.facts(ticket_id)
        if facts is None:
            return
        if held is not None and facts.assignee_id == held[0]:
            await engine.unassign(ticket_id, held, "moved")
            facts = await engine.facts(ticket_id) or facts
        if facts.assignee_id is not None:
            await engine.store.hold(ticket_id, facts.assignee_id, facts.channel)
            return
        await engine.enqueue(facts)

    async def _assigned_by_hand(self, event: TicketAssigned) -> None:
        engine = self.engine
        facts = await engine.facts(event.ticket_id)
        if facts is None or facts.status in DONE:
            # Assigned and solved in one change: the solve already released it; holding
            # it now would keep the agent's load up for good.
            return
        _held, offer = await engine.store.finish(event.ticket_id)
        if offer is not None:
            await engine.offers.ended(offer, "withdrawn")
        if event.assignee_id is None:
            await engine.enqueue(facts)
        else:
            await engine.store.hold(event.ticket_id, event.assignee_id, facts.channel)
            await engine.route()

    async def _reorder(self, ticket_id: int) -> None:
        """The ticket's SLA due time is now known: re-file its waiting item by it."""
        engine = self.engine
        item = await engine.store.unqueue(ticket_id)
        if item is None:
            return
        facts = await engine.facts(ticket_id)
        if facts is None:
            return
        await engine.store.enqueue(engine.item(facts, item.sticky_agent, front=item.front))
