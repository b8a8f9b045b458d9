"""Four engines against one Redis and one PostgreSQL: 200 agents come online while 5,000
tickets arrive at once. Every ticket ends assigned exactly once and no agent ever passes a
capacity. Then a burst beyond everyone's capacity arrives: nothing is left waiting while
an eligible agent has room (every agent ends full)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from routing.engine import RoutingEngine
from routing.models import AgentProfile, QueueRouting
from routing.redis_store import RedisStore
from routing.rules import QueueRules
from switchboard import db
from switchboard.bus import redis_client
from tests.conftest import require_redis
from tests.helpers import T0, Clock
from tests.routing.world import PumpedPublisher
from tickets.contracts import Actor
from tickets.desk import Desk
from tickets.events import TicketCreated
from tickets.models import AuditEntry, Customer, Queue, QueueMember, Ticket, User

AGENTS, TICKETS, ENGINES, BURST_EXCESS = 200, 5000, 4, 300


def _rows(count: int, make: Any) -> list[dict[str, Any]]:
    return [make(i) for i in range(count)]


async def _insert_tickets(
    engine_db: AsyncEngine, queue_id: int, count: int, rng: random.Random
) -> list[int]:
    async with db.transaction(db.session_factory(engine_db)) as s:
        customers = (
            (
                await s.execute(
                    insert(Customer).returning(Customer.id),
                    _rows(count, lambda i: {"name": f"c{i}", "tier": "standard", "created_at": T0}),
                )
            )
            .scalars()
            .all()
        )
        priorities = ["low", "normal", "high", "urgent"]
        rows = [
            {
                "subject": "空调",
                "status": "new",
                "priority": rng.choice(priorities),
                "channel": "email",
                "language": "zh",
                "queue_id": queue_id,
                "customer_id": c,
                "created_at": T0,
                "updated_at": T0,
                "sla": {},
            }
            for c in customers
        ]
        return list((await s.execute(insert(Ticket).returning(Ticket.id), rows)).scalars().all())


async def _arrive(
    engines: Sequence[RoutingEngine], tickets: list[int], logins: list[int] | None = None
) -> None:
    async def arrivals(e: RoutingEngine, share: list[int]) -> None:
        for t in share:
            await e.on_event(TicketCreated(t, "x", "email", "Q", "normal", 0))

    async def come_online(e: RoutingEngine, share: list[int]) -> None:
        for u in share:
            await e.set_presence(u, "online", Actor.system("test"))

    await asyncio.gather(
        *(arrivals(e, tickets[i::ENGINES]) for i, e in enumerate(engines)),
        *(come_online(e, (logins or [])[i::ENGINES]) for i, e in enumerate(engines)),
    )
    await asyncio.gather(*(e.route() for e in engines))


async def _assigned(engine_db: AsyncEngine) -> tuple[Counter[int], Counter[int]]:
    async with db.session_factory(engine_db)() as s:
        per_agent: Counter[int] = Counter()
        rows = await s.execute(
            select(Ticket.assignee_id, func.count())
            .where(Ticket.assignee_id.is_not(None))
            .group_by(Ticket.assignee_id)
        )
        for agent, n in rows.all():
            if agent is not None:
                per_agent[agent] = n
        audited = await s.execute(
            select(AuditEntry.ticket_id).where(AuditEntry.action == "ticket.routed")
        )
        routed: Counter[int] = Counter(t for t in audited.scalars() if t is not None)
    return per_agent, routed


async def test_four_engines_share_the_work_exactly_once(pg_url: str, redis_prefix: str) -> None:
    redis_url = require_redis()
    rng = random.Random(7)
    capacity = [rng.randint(20, 35) for _ in range(AGENTS)]
    total_capacity = sum(capacity)
    assert total_capacity >= TICKETS
    engine_db = db.create_engine(pg_url)
    async with db.transaction(db.session_factory(engine_db)) as s:
        queue_id = (
            await s.execute(insert(Queue).values(name="Q", description="").returning(Queue.id))
        ).scalar_one()
        await s.execute(
            insert(QueueRouting).values(queue_id=queue_id, is_default=True, offer_channels=[])
        )
        users = list(
            (
                await s.execute(
                    insert(User).returning(User.id),
                    _rows(
                        AGENTS,
                        lambda i: {
                            "email": f"agent{i}@x.com",
                            "name": f"A{i}",
                            "role": "agent",
                            "languages": ["zh"],
                            "is_active": True,
                            "created_at": T0,
                        },
                    ),
                )
            )
            .scalars()
            .all()
        )
        await s.execute(insert(QueueMember), [{"queue_id": queue_id, "user_id": u} for u in users])
        await s.execute(
            insert(AgentProfile),
            [
                {
                    "user_id": u,
                    "skills": {},
                    "capacity": {"email": capacity[i]},
                    "presence": "offline",
                    "keep_email_on_offline": True,
                }
                for i, u in enumerate(users)
            ],
        )
    tickets = await _insert_tickets(engine_db, queue_id, TICKETS, rng)

    engines: list[RoutingEngine] = []
    clients = []
    for _ in range(ENGINES):
        client = redis_client(redis_url)
        clients.append(client)
        desk = Desk(
            db.session_factory(engine_db), PumpedPublisher(), Clock(), choose_queue=QueueRules()
        )
        engines.append(RoutingEngine(RedisStore(client, prefix=redis_prefix), desk, clock=Clock()))
    for e in engines:
        await e.reload()
    await engines[0].store.mark_built()
    store = engines[0].store
    try:
        await _arrive(engines, tickets, logins=users)
        per_agent, routed = await _assigned(engine_db)
        assert sum(per_agent.values()) == TICKETS, "every ticket ends assigned"
        assert set(routed) == set(tickets) and all(n == 1 for n in routed.values()), (
            "assigned exactly once"
        )
        live = await store.live(users)
        for i, u in enumerate(users):
            assert per_agent[u] <= capacity[i]
            assert live[u].load.get("email", 0) == per_agent[u]
        assert await store.waiting_counts() == {}

        burst = await _insert_tickets(
            engine_db, queue_id, total_capacity - TICKETS + BURST_EXCESS, rng
        )
        await _arrive(engines, burst)
        per_agent, routed = await _assigned(engine_db)
        assert all(n == 1 for n in routed.values())
        live = await store.live(users)
        for i, u in enumerate(users):
            assert per_agent[u] == capacity[i] == live[u].load["email"], (
                "work waits while this agent has room"
            )
        assert sum((await store.waiting_counts()).values()) == BURST_EXCESS
    finally:
        for e in engines:
            await e.desk.close()
        assert isinstance(store, RedisStore)
        await store.clear()
        for client in clients:
            await client.aclose()
        await engine_db.dispose()
