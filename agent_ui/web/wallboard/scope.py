"""Who sees what on the wallboard: admins every queue, supervisors the queues they are
members of, everyone else nothing at all. An agent gets the same 404 as a missing page on
``/supervisor`` and on every fragment and action (nothing reveals the wallboard exists),
and a supervisor's action on a ticket, queue or agent outside their queues is a 404 too."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

import tickets
from agent_ui.web.config import page_user
from routing.state import AgentInfo
from tickets import Role, StaffUser


@dataclass(frozen=True, slots=True)
class Scope:
    staff: StaffUser
    queue_ids: frozenset[int] | None
    """None: every queue (an admin)."""

    def sees_queue(self, queue_id: int | None) -> bool:
        if self.queue_ids is None:
            return True
        return queue_id is not None and queue_id in self.queue_ids

    def sees_agent(self, agent: AgentInfo) -> bool:
        return self.queue_ids is None or bool(agent.queues & self.queue_ids)

    def queues(self, ids: Iterable[int]) -> list[int]:
        return [q for q in ids if self.sees_queue(q)]


def scope_of(request: web.Request) -> Scope:
    staff = page_user(request)
    if staff.role is Role.ADMIN:
        return Scope(staff, None)
    if staff.role is Role.SUPERVISOR:
        return Scope(staff, staff.queue_ids)
    raise tickets.NotFound("no such page")
