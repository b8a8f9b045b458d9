"""The periodic reconcile: compares the routing store with the database (the record)
and repairs what drifted, logging every repair.

Writes that move the store and then the database undo the store move when the database
write fails (``RoutingEngine.compensated``); the reconcile catches the rest (a process
killed between the two steps, a lost event). A difference is only repaired when two
passes in a row see it unchanged, so work in flight (a reservation whose assignment is
being committed) is never mistaken for drift. Repairs:
- a ticket assigned in the database but not held by its assignee in the store: held;
- a ticket held in the store that is finished, or unassigned without an open offer:
  released (and queued again when it waits for an agent);
- an open, unassigned ticket of a queue that is neither waiting nor held: queued;
- a waiting item whose ticket no longer waits, or waits in another queue: removed or
  moved;
- an agent whose presence in the store differs from the database: set from the database.
Refusal marks of tickets that no longer wait are pruned on every pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from routing import loader
from tickets import ROUTABLE_STATUSES, TicketFacts, open_ticket_facts

if TYPE_CHECKING:
    from routing.engine import RoutingEngine

log = logging.getLogger(__name__)
ROUTABLE = frozenset(s.value for s in ROUTABLE_STATUSES)


@dataclass(frozen=True, slots=True)
class Drift:
    kind: str
    subject: int
    found: str
    expected: str

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}: store has {self.found}, database says {self.expected}"


class Reconciler:
    def __init__(self, engine: RoutingEngine) -> None:
        self.engine = engine
        self._suspected: set[Drift] = set()
        self._facts: dict[int, TicketFacts] = {}

    async def run(self) -> list[Drift]:
        """One pass; returns the repairs it made."""
        found = set(await self._find())
        confirmed = sorted(found & self._suspected, key=str)
        self._suspected = found - set(confirmed)
        for drift in confirmed:
            log.warning("routing drift repaired: %s", drift)
            await self._repair(drift)
        await self._prune()
        return confirmed

    async def _find(self) -> list[Drift]:
        engine, store = self.engine, self.engine.store
        tickets = {t.id: t for t in await engine.desk.read(open_ticket_facts)}
        self._facts = tickets
        held = await store.held()
        waiting = {i.ticket_id: i for i in await store.all_waiting()}
        offered = {(o.ticket_id, o.agent_id) for o in await store.all_offers()}
        out: list[Drift] = []
        for t in tickets.values():
            holder = held.get(t.id)
            if t.assignee_id is not None:
                if holder is None or holder[0] != t.assignee_id:
                    found = "nobody" if holder is None else f"agent {holder[0]}"
                    out.append(Drift("assignment", t.id, found, f"agent {t.assignee_id}"))
            elif holder is None and t.id not in waiting and _waits(t):
                out.append(Drift("waiting", t.id, "nothing", f"waiting in queue {t.queue_id}"))
        for ticket_id, (agent_id, _channel) in held.items():
            held_facts = tickets.get(ticket_id)
            if held_facts is None:
                out.append(Drift("hold", ticket_id, f"agent {agent_id}", "finished"))
            elif held_facts.assignee_id is None and (ticket_id, agent_id) not in offered:
                out.append(Drift("hold", ticket_id, f"agent {agent_id}", "unassigned"))
        for ticket_id, item in waiting.items():
            current = tickets.get(ticket_id)
            if current is None or current.assignee_id is not None or not _waits(current):
                out.append(Drift("queued", ticket_id, f"queue {item.queue_id}", "not waiting"))
            elif current.queue_id != item.queue_id:
                moved = f"queue {current.queue_id}"
                out.append(Drift("queued", ticket_id, f"queue {item.queue_id}", moved))
        stored = await engine.desk.read(loader.stored_presence)
        live = await store.live(list(engine.agents))
        for agent_id, state in live.items():
            expected = stored.get(agent_id, "offline")
            if state.presence != expected:
                out.append(Drift("presence", agent_id, state.presence, expected))
        return out

    async def _repair(self, drift: Drift) -> None:
        engine, store = self.engine, self.engine.store
        if drift.kind == "presence":
            await store.set_presence(drift.subject, drift.expected, engine.now())
            return
        t = self._facts.get(drift.subject)
        if drift.kind == "assignment" and t is not None and t.assignee_id is not None:
            await store.hold(t.id, t.assignee_id, t.channel)
        elif drift.kind == "hold":
            await store.release(drift.subject)
            if t is not None and _waits(t):
                await store.enqueue(engine.item(t, None))
        elif drift.kind == "waiting" and t is not None:
            await store.enqueue(engine.item(t, None))
        elif drift.kind == "queued":
            await store.unqueue(drift.subject)
            if t is not None and t.assignee_id is None and _waits(t):
                await store.enqueue(engine.item(t, None))

    async def _prune(self) -> None:
        store = self.engine.store
        await store.prune_refusals(self.engine.now())
        refused = await store.refused()
        if not refused:
            return
        live = set(await store.held()) | {i.ticket_id for i in await store.all_waiting()}
        for ticket_id in refused:
            if ticket_id not in live:
                await store.forget(ticket_id)


def _waits(t: TicketFacts) -> bool:
    return t.queue_id is not None and t.status in ROUTABLE
