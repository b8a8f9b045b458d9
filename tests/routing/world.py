"""A small routing world on a real database: queues, agents, tickets, an engine whose
events are pumped back into it (as the bus would)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from routing.audit_trail import RoutingAudit
from routing.engine import RoutingEngine
from routing.models import AgentProfile, QueueRouting
from routing.rules import QueueRules
from routing.store import RoutingStore
from switchboard import db
from tests.helpers import Clock, inbound
from tickets import staff
from tickets.contracts import Actor, Channel, Role
from tickets.desk import Desk
from tickets.events import Event
from tickets.models import AuditEntry, QueueMember, Ticket


class PumpedPublisher:
    """Collects events; ``pump`` feeds them to the engine one at a time, like the bus."""

    def __init__(self) -> None:
        self.pending: list[Event] = []
        self.seen: list[Event] = []
        self.engine: RoutingEngine | None = None
        self.audit: RoutingAudit | None = None

    async def publish(self, events: Sequence[Event]) -> None:
        self.pending.extend(events)
        self.seen.extend(events)

    async def broadcast(self, events: Sequence[Event]) -> None:
        await self.publish(events)

    async def pump(self) -> None:
        while self.pending:
            event = self.pending.pop(0)
            if self.engine is not None:
                await self.engine.on_event(event)
                await self.engine.events.on_config(event)
            if self.audit is not None:
                await self.audit.on_event(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.seen if isinstance(e, kind)]


@dataclass
class World:
    engine: RoutingEngine
    desk: Desk
    publisher: PumpedPublisher
    clock: Clock
    queues: dict[str, int] = field(default_factory=dict)
    agents: dict[str, int] = field(default_factory=dict)

    async def pump(self) -> None:
        await self.publisher.pump()

    async def ticket(
        self, sender: str, text: str = "空调不制冷", channel: Channel = Channel.WEBCHAT
    ) -> int:
        result = await self.desk.ingest(inbound(sender, text, channel=channel, at=self.clock.now))
        await self.pump()
        return result.ticket_id

    async def assignee(self, ticket_id: int) -> int | None:
        return await self.desk.read(
            lambda s: s.scalar(select(Ticket.assignee_id).where(Ticket.id == ticket_id))
        )

    async def online(self, *names: str) -> None:
        for name in names:
            await self.engine.set_presence(self.agents[name], "online", Actor.system("test"))
            self.clock.advance(1)
        await self.pump()

    async def offer_of(self, name: str) -> list[Any]:
        return await self.engine.offers_for(self.agents[name])

    async def audit_reasons(self, ticket_id: int) -> list[tuple[str, Any]]:
        rows = await self.desk.read(
            lambda s: s.execute(
                select(AuditEntry.action, AuditEntry.data)
                .where(AuditEntry.ticket_id == ticket_id)
                .order_by(AuditEntry.id)
            )
        )
        return [(a, d.get("reason")) for a, d in rows.all()]


async def make_queue(session: AsyncSession, name: str, **routing: Any) -> int:
    queue_id = await staff.ensure_queue(session, name)
    await session.execute(insert(QueueRouting).values(queue_id=queue_id, **routing))
    return queue_id


async def make_agent(
    session: AsyncSession,
    email: str,
    queues: list[int],
    now: datetime,
    *,
    skills: dict[str, int] | None = None,
    languages: list[str] | None = None,
    capacity: dict[str, int] | None = None,
    keep_email: bool = True,
) -> int:
    user_id = await staff.create_user(
        session, email, Role.AGENT, now, languages=languages or ["zh", "en"]
    )
    session.add(
        AgentProfile(
            user_id=user_id,
            skills=skills or {},
            capacity=capacity or {},
            presence="offline",
            keep_email_on_offline=keep_email,
        )
    )
    for queue_id in queues:
        session.add(QueueMember(queue_id=queue_id, user_id=user_id))
    return user_id


async def build_world(url: str, store: RoutingStore, clock: Clock | None = None) -> World:
    clock = clock or Clock()
    engine_db = db.create_engine(url)
    publisher = PumpedPublisher()
    rules = QueueRules()
    desk = Desk(db.session_factory(engine_db), publisher, clock, choose_queue=rules)
    engine = RoutingEngine(store, desk, rules=rules, clock=clock)
    publisher.engine = engine
    publisher.audit = RoutingAudit(desk)
    return World(engine, desk, publisher, clock)


def days(n: float) -> timedelta:
    return timedelta(days=n)
