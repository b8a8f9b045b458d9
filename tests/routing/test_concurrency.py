"""Four engines against one Redis and one PostgreSQL: 200 agents come online while 5,000
tickets arrive at once. Every ticket is assigned at most once, no agent ever passes a
capacity, and nothing is left waiting while an eligible agent has room."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from sqlalchemy import func, insert, select

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

AGENTS, TICKETS, ENGINES = 200, 5000, 4


async def test_four_engines_share_the_work_exactly_once(pg_url: str, redis_prefix: str) -> None:
    redis_url = require_redis()
    rng = random.Random(7)
    capacity = {i: rng.randint(1, 20) for i in range(AGENTS)}
    engine_db = db.create_engine(pg_url)
    async with db.transaction(db.session_factory(engine_db)) as session:
        queue_id = (
            await session.execute(
                insert(Queue).values(name="Q", description="").returning(Queue.id)
            )
        ).scalar_one()
        await session.execute(
            insert(QueueRouting).values(queue_id=queue_id, is_default=True, offer_channels=[])
        )
        users = (
            (
                await session.execute(
                    insert(User).returning(User.id),
                    [
                        {
                            "email": f"agent{i}@x.com",
                            "name": f"A{i}",
                            "role": "agent",
                            "languages": ["zh"],
                            "is_active": True,
                            "created_at": T0,
                        }
                        for i in range(AGENTS)
                    ],
                )
            )
            .scalars()
            .all()
        )
        await session.execute(
            insert(QueueMember), [{"queue_id": queue_id, "user_id": u} for u in users]
        )
        await session.execute(
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
        customers = (
            (
                await session.execute(
                    insert(Customer).returning(Customer.id),
                    [
                        {"name": f"c{i}", "tier": "standard", "created_at": T0}
                        for i in range(TICKETS)
                    ],
                )
            )
            .scalars()
            .all()
        )
        tickets = (
            (
                await session.execute(
                    insert(Ticket).returning(Ticket.id),
                    [
                        {
                            "subject": "空调",
                            "status": "new",
                            "priority": rng.choice(["low", "normal", "high", "urgent"]),
                            "channel": "email",
                            "language": "zh",
                            "queue_id": queue_id,
                            "customer_id": c,
                            "created_at": T0,
                            "updated_at": T0,
                            "sla": {},
                        }
                        for c in customers
                    ],
                )
            )
            .scalars()
            .all()
        )

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
        await e.ensure_state()

    async def arrivals(e: RoutingEngine, share: list[int]) -> None:
        for t in share:
            await e.on_event(TicketCreated(t, "x", "email", "Q", "normal", 0))

    async def logins(e: RoutingEngine, share: list[int]) -> None:
        for u in share:
            await e.set_presence(u, "online", Actor.system("test"))

    await asyncio.gather(
        *(arrivals(e, list(tickets[i::ENGINES])) for i, e in enumerate(engines)),
        *(logins(e, list(users[i::ENGINES])) for i, e in enumerate(engines)),
    )
    await asyncio.gather(*(e.route() for e in engines))

    async with db.session_factory(engine_db)() as session:
        per_agent = Counter(
            dict(
                (
                    await session.execute(
                        select(Ticket.assignee_id, func.count())
                        .where(Ticket.assignee_id.is_not(None))
                        .group_by(Ticket.assignee_id)
                    )
                ).all()
            )
        )
        routed = Counter(
            (
                await session.execute(
                    select(AuditEntry.ticket_id).where(AuditEntry.action == "ticket.routed")
                )
            ).scalars()
        )
    total_capacity = sum(capacity.values())
    assert sum(per_agent.values()) == min(TICKETS, total_capacity)
    assert all(n == 1 for n in routed.values()), "a ticket was assigned twice"
    store = engines[0].store
    live = await store.live(list(users))
    for i, u in enumerate(users):
        assert per_agent[u] <= capacity[i]
        assert live[u].load.get("email", 0) == per_agent[u]
        assert per_agent[u] == capacity[i], "work waits while this agent has room"
    assert sum((await store.waiting_counts()).values()) == TICKETS - total_capacity

    for e in engines:
        await e.desk.close()
    await store.clear()
    for client in clients:
        await client.aclose()
    await engine_db.dispose()
