"""Writes routing's offer decisions to the audit log from the bus (consumer group
"routing-audit"), so the audit insert is not on the path from "agent has room" to
"offer made". Assignments themselves are audited in the same transaction that records
them (``tickets.services.assign``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from routing.events import OfferEnded, OfferMade
from tickets import Actor, Desk, Event, record_audit

ROUTING = Actor.system("routing")


class RoutingAudit:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def on_event(self, event: Event) -> None:
        if isinstance(event, OfferMade):
            await self._record(
                event.ticket_id,
                "offer.made",
                agent_id=event.agent_id,
                reason=event.reason,
                offer=event.offer_id,
            )
        elif isinstance(event, OfferEnded):
            await self._record(
                event.ticket_id,
                f"offer.{event.outcome}",
                agent_id=event.agent_id,
                offer=event.offer_id,
            )

    async def _record(self, ticket_id: int, action: str, **data: object) -> None:
        async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            await record_audit(session, ROUTING, action, now, ticket_id, **data)
            return None, []

        await self.desk.write(work)
