"""Routing latency and throughput: 1,000 agents (all online, all full) and W waiting
tickets over voice, web chat and email; one at a time an agent finishes a ticket, and we
time "agent has room" -> "offer made" (voice, web chat: ``assignments_per_s``, ``p50_ms``,
``p99_ms``) and "agent has room" -> "assigned and committed" (email, which writes the
assignment to the database: ``direct_assign_*``). Repeated for W = 100, 1,000 and 10,000
to show how cost grows with the queue.

    python bench/routing.py --store memory|redis [--agents 1000] [--samples 2000]

Redis from SWITCHBOARD_TEST_REDIS_URL (default redis://127.0.0.1:6379/0); the database is
a throwaway SQLite file (the store is what is being compared)."""

# ruff: noqa: E402  (the imports follow the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# bench/ holds email.py: run as a script, that folder must not shadow the standard library's
# email package, so it leaves sys.path and the repository root goes first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from bench.common import percentile, print_result, sqlite_database
from routing.engine import RoutingEngine
from routing.models import AgentProfile, QueueRouting
from routing.redis_store import RedisStore
from routing.rules import QueueRules
from routing.state import WorkItem
from routing.store import MemoryStore, RoutingStore
from switchboard import db
from switchboard.bus import redis_client
from tickets.desk import Desk
from tickets.events import Event, TicketStatusChanged
from tickets.models import Customer, Queue, QueueMember, Ticket, User

CHANNELS = ("voice", "webchat", "email")
CAPACITY = {"voice": 1, "webchat": 3, "email": 10}


class NullPublisher:
    async def publish(self, events: Sequence[Event]) -> None:
        return None

    async def broadcast(self, events: Sequence[Event]) -> None:
        return None


async def populate(url: str, agents: int, waiting: int) -> tuple[list[int], list[int], int]:
    engine = db.create_engine(url)
    now = datetime.now(UTC)
    async with db.transaction(db.session_factory(engine)) as s:
        queue_id = (
            await s.execute(
                insert(Queue).values(name="Service", description="").returning(Queue.id)
            )
        ).scalar_one()
        await s.execute(
            insert(QueueRouting).values(queue_id=queue_id, is_default=True, offer_timeout_s=3600)
        )
        users = list(
            (
                await s.execute(
                    insert(User).returning(User.id),
                    [
                        {
                            "email": f"a{i}@bench",
                            "name": f"a{i}",
                            "role": "agent",
                            "languages": ["zh"],
                            "is_active": True,
                            "created_at": now,
                        }
                        for i in range(agents)
                    ],
                )
            ).scalars()
        )
        await s.execute(insert(QueueMember), [{"queue_id": queue_id, "user_id": u} for u in users])
        await s.execute(
            insert(AgentProfile),
            [
                {
                    "user_id": u,
                    "skills": {},
                    "capacity": CAPACITY,
                    "presence": "online",
                    "keep_email_on_offline": True,
                }
                for u in users
            ],
        )
        customer = (
            await s.execute(
                insert(Customer)
                .values(name="c", tier="standard", created_at=now)
                .returning(Customer.id)
            )
        ).scalar_one()
        tickets = list(
            (
                await s.execute(
                    insert(Ticket).returning(Ticket.id),
                    [
                        {
                            "subject": "s",
                            "status": "new",
                            "priority": "normal",
                            "channel": CHANNELS[i % 3],
                            "language": "zh",
                            "queue_id": queue_id,
                            "customer_id": customer,
                            "created_at": now,
                            "updated_at": now,
                            "sla": {},
                        }
                        for i in range(waiting)
                    ],
                )
            ).scalars()
        )
    await engine.dispose()
    return users, tickets, queue_id


async def run(store_name: str, agents: int, waiting: int, samples: int) -> dict[str, Any]:
    async with sqlite_database() as url:
        users, tickets, queue_id = await populate(url, agents, waiting)
        client = None
        store: RoutingStore
        if store_name == "redis":
            client = redis_client(
                os.environ.get("SWITCHBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
            )
            store = RedisStore(client, prefix=f"bench:{uuid.uuid4().hex[:8]}")
        else:
            store = MemoryStore()
        engine_db = db.create_engine(url)
        desk = Desk(
            db.session_factory(engine_db), NullPublisher(), lambda: datetime.now(UTC), QueueRules()
        )
        engine = RoutingEngine(store, desk)
        await engine.reload()
        now = time.time()
        fake = 10_000_000
        held: dict[str, list[tuple[int, int]]] = {ch: [] for ch in CHANNELS}
        for u in users:  # everyone online and full: nothing can be assigned yet
            await store.set_presence(u, "online", now)
            for channel, n in CAPACITY.items():
                for _ in range(n):
                    fake += 1
                    await store.hold(fake, u, channel)
                    held[channel].append((u, fake))
        rng = random.Random(1)
        for i, t in enumerate(tickets):
            await store.enqueue(WorkItem(t, queue_id, CHANNELS[i % 3], "normal", now + i * 0.001))
        left = {ch: len(range(i, waiting, 3)) for i, ch in enumerate(CHANNELS)}
        latencies: dict[str, list[float]] = {"offer": [], "assign": []}
        started = time.perf_counter()
        for _ in range(min(samples, waiting)):
            channel = rng.choice([ch for ch in CHANNELS if left[ch] > 0])
            left[channel] -= 1
            _agent, ticket = held[channel].pop(rng.randrange(len(held[channel])))
            t0 = time.perf_counter()
            await engine.on_event(TicketStatusChanged(ticket, "x", "open", "solved", channel))
            latencies["assign" if channel == "email" else "offer"].append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
        remaining = sum((await store.waiting_counts()).values())
        assigned = waiting - remaining
        await desk.close()
        await engine_db.dispose()
        if client is not None:
            assert isinstance(store, RedisStore)
            await store.clear()
            await client.aclose()
    offers, direct = latencies["offer"], latencies["assign"]
    row = {
        "store": store_name,
        "agents": agents,
        "waiting": waiting,
        "assigned": assigned,
        "assignments_per_s": round(len(offers) / max(sum(offers), 1e-9), 1),
        "p50_ms": round(percentile(offers, 0.5) * 1000, 3),
        "p99_ms": round(percentile(offers, 0.99) * 1000, 3),
        "direct_assign_per_s": round(len(direct) / max(sum(direct), 1e-9), 1),
        "direct_assign_p50_ms": round(percentile(direct, 0.5) * 1000, 3),
        "direct_assign_p99_ms": round(percentile(direct, 0.99) * 1000, 3),
        "mixed_per_s": round((len(offers) + len(direct)) / elapsed, 1),
    }
    print(
        f"{store_name:6s} agents={agents} waiting={waiting:6d}: "
        f"offers {row['assignments_per_s']}/s "
        f"p50 {row['p50_ms']} ms p99 {row['p99_ms']} ms; direct (DB write) "
        f"{row['direct_assign_per_s']}/s p50 {row['direct_assign_p50_ms']} ms; {assigned} assigned",
        flush=True,
    )
    return row


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", choices=["memory", "redis"], default="memory")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--waiting", type=int, nargs="*", default=[100, 1000, 10000])
    args = parser.parse_args(argv)
    rows = [await run(args.store, args.agents, w, args.samples) for w in args.waiting]
    print_result(rows)


if __name__ == "__main__":
    asyncio.run(main())
