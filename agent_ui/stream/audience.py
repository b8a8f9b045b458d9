"""Who may receive an event: the visibility rule of ``tickets.may_see`` applied to the
socket's events, on the server.

A ticket event goes to admins, to members of the ticket's queue (agents and supervisors
alike: a supervisor sees the queues they belong to, not every queue) and to its assignee.
Where an event moves a ticket (``TicketUpdated`` with a new queue, ``TicketAssigned``),
both the old and the new audience receive it, so the screen of the agent who loses a
ticket learns that it went. An offer goes to the agent it is made to, to admins and to
the supervisors of the offered ticket's queue; a presence change to the agent, admins and
the supervisors of any queue the agent belongs to (their wallboard lists that agent);
queue depth to admins and the queue's members; a merge of customers and its undoing to
admins and supervisors (they carry customer ids only).

Where a ticket is (queue, assignee) is cached per ticket (LRU), primed from the events
themselves in feed order, and read from the database only on a miss.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import tickets
from tickets import Desk


@dataclass(frozen=True, slots=True)
class Place:
    queue_id: int | None
    assignee_id: int | None


@dataclass(slots=True)
class Audience:
    queues: set[int] = field(default_factory=set)
    """Every member of these queues."""
    users: set[int] = field(default_factory=set)
    supervised: set[int] = field(default_factory=set)
    """The supervisors (not the agents) of these queues."""
    admins: bool = True
    supervisors: bool = False
    """Every supervisor, whatever their queues."""

    def add(self, place: Place | None) -> None:
        if place is None:
            return
        if place.queue_id is not None:
            self.queues.add(place.queue_id)
        if place.assignee_id is not None:
            self.users.add(place.assignee_id)


class Places:
    def __init__(self, desk: Desk, *, size: int = 50_000) -> None:
        self.desk = desk
        self.size = size
        self._places: OrderedDict[int, Place] = OrderedDict()
        self._queues: dict[str, int] = {}
        self._memberships: dict[int, frozenset[int]] | None = None

    async def agent_queues(self, agent_id: int) -> frozenset[int]:
        """The queues an agent belongs to; read once and again after a staff change."""
        if self._memberships is None:
            members = await self.desk.read(tickets.queue_members)
            self._memberships = {m.id: m.queue_ids for m in members}
        return self._memberships.get(agent_id, frozenset())

    def staff_changed(self) -> None:
        self._memberships = None

    def _keep(self, ticket_id: int, place: Place) -> None:
        self._places[ticket_id] = place
        self._places.move_to_end(ticket_id)
        if len(self._places) > self.size:
            self._places.popitem(last=False)

    async def place(self, ticket_id: int) -> Place | None:
        found = self._places.get(ticket_id)
        if found is not None:
            self._places.move_to_end(ticket_id)
            return found
        facts = await self.desk.read(lambda s: tickets.ticket_facts(s, ticket_id))
        if facts is None:
            return None
        place = Place(facts.queue_id, facts.assignee_id)
        self._keep(ticket_id, place)
        return place

    async def queue_id(self, name: str | None) -> int | None:
        if name is None:
            return None
        if name not in self._queues:
            queues = await self.desk.read(tickets.all_queues)
            self._queues = {q.name: q.id for q in queues}
        return self._queues.get(name)

    async def of_ticket(self, wire: dict[str, Any]) -> tuple[Place | None, Place | None]:
        """Where the event's ticket was before it and is after it."""
        ticket_id = int(wire["ticket_id"])
        kind = wire.get("type")
        if kind == "TicketCreated":
            place = Place(await self.queue_id(wire.get("queue")), None)
            self._keep(ticket_id, place)
            return place, place
        before = await self.place(ticket_id)
        after = before
        if kind == "TicketAssigned" and before is not None:
            after = Place(before.queue_id, wire.get("assignee_id"))
        elif kind == "TicketUpdated" and before is not None and "queue" in wire["changes"]:
            moved_to = await self.queue_id(wire["changes"]["queue"])
            after = Place(moved_to if moved_to is not None else before.queue_id, before.assignee_id)
        if after is not None and after != before:
            self._keep(ticket_id, after)
        return before, after


async def audience_of(places: Places, wire: dict[str, Any]) -> Audience | None:
    """None: nobody on a socket receives this event."""
    kind = wire.get("type")
    if kind in ("OfferMade", "OfferEnded"):
        place = await places.place(int(wire["ticket_id"]))
        queues = {place.queue_id} if place is not None and place.queue_id is not None else set()
        return Audience(users={int(wire["agent_id"])}, supervised=queues)
    if kind == "AgentPresenceChanged":
        agent_id = int(wire["agent_id"])
        return Audience(users={agent_id}, supervised=set(await places.agent_queues(agent_id)))
    if kind == "QueueChanged":
        return Audience(queues={int(wire["queue_id"])})
    if kind in ("CustomersMerged", "CustomersUnmerged"):
        return Audience(supervisors=True)
    if "ticket_id" in wire:
        before, after = await places.of_ticket(wire)
        audience = Audience()
        audience.add(before)
        audience.add(after)
        return audience
    return None
