"""The wallboard's actions: force-assign a ticket, move it to another queue, set an
agent's presence. Each goes through the service the REST API uses
(``tickets.update_ticket`` for the first two, the routing engine's ``set_presence`` for
the third), which writes the audit row and the events routing and the screens follow.

Forms post with the session's CSRF token (the middleware refuses them without); an htmx
post gets a short status text and an ``HX-Trigger`` that refreshes the fragments, a plain
form post is sent back to the wallboard. A supervisor acts only inside their queues: a
ticket, target queue or agent outside them answers 404.

Moving a ticket whose assignee is not a member of the target queue also unassigns it (the
work goes to the new queue's agents), rather than refusing the move."""

from __future__ import annotations

import html
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from agent_ui.context import DESK, ROUTING
from agent_ui.web.i18n import _
from agent_ui.web.wallboard.scope import Scope, scope_of
from routing.state import PRESENCES, AgentInfo

REASON = "supervisor"
"""The presence change's reason, as the REST API's supervisor route gives it. Ticket
changes keep the service's default reason ("manual"): routing follows a hand-made
assignment by that reason (it holds the ticket for the agent and withdraws any offer)."""


async def _form(request: web.Request, *names: str) -> dict[str, str]:
    form = await request.post()
    values = {}
    for name in names:
        value = form.get(name)
        if not isinstance(value, str) or not value.strip():
            raise tickets.Invalid(_("Missing {field}.").format(field=name))
        values[name] = value.strip()
    return values


async def _ticket_in_scope(request: web.Request, scope: Scope, number: str) -> tickets.TicketFacts:
    ticket_id = tickets.parse_number(number)
    facts = None
    if ticket_id is not None:
        facts = await request.app[DESK].read(lambda s: tickets.ticket_facts(s, ticket_id))
    if facts is None or not scope.sees_queue(facts.queue_id):
        raise tickets.NotFound(f"no ticket {number}")
    return facts


def _agent_in_scope(request: web.Request, scope: Scope, email: str) -> AgentInfo:
    wanted = email.strip().lower()
    for agent in request.app[ROUTING].agents.values():
        if agent.email == wanted and scope.sees_agent(agent):
            return agent
    raise tickets.NotFound(f"no agent {email}")


async def _change(
    request: web.Request, scope: Scope, number: str, changes: tickets.TicketChanges
) -> None:
    async def work(session: AsyncSession, now: datetime) -> tuple[None, tuple[tickets.Event, ...]]:
        written = await tickets.update_ticket(session, scope.staff, number, changes, now)
        return None, written.events

    await request.app[DESK].write(work)


def _done(request: web.Request, message: str) -> web.StreamResponse:
    if request.headers.get("HX-Request"):
        return web.Response(
            text=html.escape(message),
            content_type="text/html",
            headers={"HX-Trigger": "wb-refresh"},
        )
    raise web.HTTPSeeOther("/supervisor")


async def force_assign(request: web.Request) -> web.StreamResponse:
    scope = scope_of(request)
    form = await _form(request, "ticket", "agent")
    facts = await _ticket_in_scope(request, scope, form["ticket"])
    agent = _agent_in_scope(request, scope, form["agent"])
    if facts.queue_id not in agent.queues:
        raise tickets.Invalid(
            _("{agent} is not a member of this ticket's queue.").format(agent=agent.email)
        )
    number = tickets.format_number(facts.id)
    await _change(request, scope, number, tickets.TicketChanges(assignee=agent.email))
    return _done(
        request, _("{ticket} assigned to {agent}.").format(ticket=number, agent=agent.email)
    )


async def move_ticket(request: web.Request) -> web.StreamResponse:
    scope = scope_of(request)
    form = await _form(request, "ticket", "queue")
    facts = await _ticket_in_scope(request, scope, form["ticket"])
    engine = request.app[ROUTING]
    target = next(
        (q for q in engine.queues.values() if q.name == form["queue"] and scope.sees_queue(q.id)),
        None,
    )
    if target is None:
        raise tickets.NotFound(f"no queue {form['queue']}")
    assignee = engine.agents.get(facts.assignee_id) if facts.assignee_id is not None else None
    keeps = facts.assignee_id is None or (assignee is not None and target.id in assignee.queues)
    changes = tickets.TicketChanges(queue=target.name, assignee=None if keeps else "")
    number = tickets.format_number(facts.id)
    await _change(request, scope, number, changes)
    return _done(request, _("{ticket} moved to {queue}.").format(ticket=number, queue=target.name))


async def set_presence(request: web.Request) -> web.StreamResponse:
    scope = scope_of(request)
    form = await _form(request, "agent", "status")
    agent = _agent_in_scope(request, scope, form["agent"])
    if form["status"] not in PRESENCES:
        raise tickets.Invalid(_("Unknown presence."))
    await request.app[ROUTING].set_presence(
        agent.id, form["status"], scope.staff.actor, reason=REASON
    )
    return _done(request, _("Presence of {agent} set.").format(agent=agent.email))
