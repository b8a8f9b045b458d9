"""Offers: live work (voice, web chat, Telegram by default; per queue ``offer_channels``)
is offered to one agent at a time with a timeout instead of being assigned.

A reject or a timeout (a missed offer) keeps that agent away from that ticket for the
refusal cool-down (``refusal_cooldown_s``, default 10 minutes), not for good, and the
ticket moves on to the next agent; when every able agent has refused, the next routing
pass offers it again (``routing.policy``). Two timeouts in a row set the agent away. An
offer withdrawn because its agent went offline, or because the ticket moved or was
assigned by hand, is not a refusal.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from routing.events import OfferEnded, OfferMade
from routing.policy import Decision
from routing.state import Offer, WorkItem
from tickets import Actor, Conflict, NotFound, format_number

if TYPE_CHECKING:
    from routing.engine import RoutingEngine

ROUTING = Actor.system("routing")


class Offers:
    def __init__(self, engine: RoutingEngine) -> None:
        self.engine = engine

    async def make(self, item: WorkItem, decision: Decision, timeout_s: float) -> None:
        """The store already reserved the agent's place for the ticket."""
        engine = self.engine
        offer = Offer(
            uuid.uuid4().hex,
            item.ticket_id,
            decision.agent_id,
            item.channel,
            item.queue_id,
            engine.now() + timeout_s,
            decision.reason,
        )
        await engine.store.add_offer(offer)
        expires = datetime.fromtimestamp(offer.expires_at, UTC).isoformat()
        # The audit row is written by RoutingAudit from this event, off the hot path.
        await engine.desk.publisher.publish(
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

    async def accept(self, offer_id: str, agent_id: int) -> Offer:
        engine = self.engine
        offer = await self._take_own(offer_id, agent_id)
        await engine.compensated(
            lambda: engine.record_assignment(offer.ticket_id, agent_id, offer.reason),
            lambda: engine.store.add_offer(offer),
        )
        await engine.store.reset_timeouts(agent_id)
        await engine.store.mark_idle(agent_id, engine.now())
        await engine.store.forget(offer.ticket_id)
        await self.ended(offer, "accepted")
        return offer

    async def reject(self, offer_id: str, agent_id: int) -> Offer:
        offer = await self._take_own(offer_id, agent_id)
        await self.engine.store.reset_timeouts(agent_id)
        await self._failed(offer, "rejected", refused=True)
        return offer

    async def expire(self) -> int:
        engine = self.engine
        expired = 0
        for offer_id in await engine.store.expired_offers(engine.now()):
            offer = await engine.store.take_offer(offer_id)
            if offer is None:
                continue
            expired += 1
            missed = await engine.store.count_timeout(offer.agent_id)
            if missed >= engine.timeouts_to_away and await self._online(offer.agent_id):
                await engine.set_presence(
                    offer.agent_id, "away", ROUTING, reason=f"{missed} offers timed out"
                )
            await self._failed(offer, "timeout", refused=True)
        return expired

    async def _online(self, agent_id: int) -> bool:
        live = await self.engine.store.live([agent_id])
        return agent_id in live and live[agent_id].presence == "online"

    async def withdraw_from(self, agent_id: int) -> None:
        """The agent left: their open offers go back to the queue."""
        for offer in await self.engine.store.offers_for(agent_id):
            taken = await self.engine.store.take_offer(offer.id)
            if taken is not None:
                await self._failed(taken, "withdrawn", refused=False)

    async def _take_own(self, offer_id: str, agent_id: int) -> Offer:
        mine = {o.id for o in await self.engine.store.offers_for(agent_id)}
        if offer_id not in mine:
            raise NotFound("no such offer for you (it may have expired or moved on)")
        offer = await self.engine.store.take_offer(offer_id)
        if offer is None:
            raise Conflict("the offer has just expired")
        return offer

    async def _failed(self, offer: Offer, outcome: str, *, refused: bool) -> None:
        engine = self.engine
        await engine.store.release(offer.ticket_id)
        if refused:
            await engine.store.exclude(
                offer.ticket_id, offer.agent_id, engine.now(), engine.refusal_cooldown_s
            )
        await self.ended(offer, outcome)
        facts = await engine.facts(offer.ticket_id)
        if facts is not None and facts.assignee_id is None:
            await engine.enqueue(facts)

    async def ended(self, offer: Offer, outcome: str) -> None:
        """Tells everyone (the agent's screen, the audit trail) how the offer ended."""
        await self.engine.desk.publisher.publish(
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
