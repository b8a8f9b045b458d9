"""REST for routing: agents set their presence and answer offers; supervisors watch
queues and agents and set an agent's presence. (Force-assign and move are the ticket
PATCH, which routing follows through its events.)"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from agent_ui.context import DESK, ROUTING, staff_of
from agent_ui.errors import ApiError
from agent_ui.http import ApiRoute, dumps, only_fields, op, read_json
from routing.state import Offer
from tickets import StaffUser, format_number, user_id_by_email


def _offer_dict(offer: Offer) -> dict[str, Any]:
    return {
        "id": offer.id,
        "ticket": format_number(offer.ticket_id),
        "channel": offer.channel,
        "expires_at": datetime.fromtimestamp(offer.expires_at, UTC).isoformat(),
        "reason": offer.reason,
    }


def _supervisor(staff: StaffUser) -> None:
    if not staff.supervises:
        raise ApiError(403, "forbidden", "only supervisors and admins may do this")


def _oversees(staff: StaffUser, queue_ids: Iterable[int]) -> bool:
    """A supervisor oversees the queues they belong to (and the agents in them); an admin
    oversees every queue."""
    return staff.sees_all_queues or not staff.queue_ids.isdisjoint(queue_ids)


async def _presence_body(request: web.Request) -> str:
    body = await read_json(request)
    only_fields(body, {"status"})
    status = body.get("status")
    if status not in ("online", "away", "offline"):
        raise ApiError(400, "invalid", 'status must be "online", "away" or "offline"')
    return str(status)


async def post_presence(request: web.Request) -> web.Response:
    staff = staff_of(request)
    status = await _presence_body(request)
    old = await request.app[ROUTING].set_presence(staff.id, status, staff.actor)
    return web.json_response({"agent": staff.email, "status": status, "previous": old})


async def post_agent_presence(request: web.Request) -> web.Response:
    staff = staff_of(request)
    _supervisor(staff)
    status = await _presence_body(request)
    email = request.match_info["email"]
    agent_id = await request.app[DESK].read(lambda s: user_id_by_email(s, email))
    agent = request.app[ROUTING].agents.get(agent_id)
    if agent_id != staff.id and not _oversees(staff, agent.queues if agent else ()):
        raise ApiError(404, "not_found", f"no agent {email!r} in your queues")
    old = await request.app[ROUTING].set_presence(
        agent_id, status, staff.actor, reason="supervisor"
    )
    return web.json_response({"agent": email.lower(), "status": status, "previous": old})


async def get_offers(request: web.Request) -> web.Response:
    staff = staff_of(request)
    offers = await request.app[ROUTING].offers_for(staff.id)
    return web.json_response({"offers": [_offer_dict(o) for o in offers]})


async def post_accept(request: web.Request) -> web.Response:
    staff = staff_of(request)
    offer = await request.app[ROUTING].accept(request.match_info["id"], staff.id)
    return web.json_response(
        {"offer": _offer_dict(offer), "ticket": format_number(offer.ticket_id)}
    )


async def post_reject(request: web.Request) -> web.Response:
    staff = staff_of(request)
    offer = await request.app[ROUTING].reject(request.match_info["id"], staff.id)
    return web.json_response(
        {"offer": _offer_dict(offer), "ticket": format_number(offer.ticket_id)}
    )


async def get_queues(request: web.Request) -> web.Response:
    staff = staff_of(request)
    _supervisor(staff)
    engine = request.app[ROUTING]
    live, depth, oldest, refused = await engine.snapshot()
    now = engine.now()
    out = []
    for queue in sorted(engine.queues.values(), key=lambda q: (q.position, q.name)):
        if not _oversees(staff, (queue.id,)):
            continue
        members = [a for a in engine.agents.values() if queue.id in a.queues]
        out.append(
            {
                "name": queue.name,
                "depth": depth.get(queue.id, 0),
                "oldest_wait_s": round(now - oldest[queue.id], 1) if queue.id in oldest else 0,
                "agents_online": sum(
                    1 for a in members if live.get(a.id) and live[a.id].presence == "online"
                ),
                "agents": len(members),
                "refused": refused.get(queue.id, 0),
            }
        )
    return web.json_response({"queues": out}, dumps=dumps)


async def get_agents(request: web.Request) -> web.Response:
    staff = staff_of(request)
    _supervisor(staff)
    engine = request.app[ROUTING]
    live, _depth, _oldest, _refused = await engine.snapshot()
    names = {q.id: q.name for q in engine.queues.values()}
    out = []
    for agent in sorted(engine.agents.values(), key=lambda a: a.email):
        if not _oversees(staff, agent.queues):
            continue
        state = live.get(agent.id)
        out.append(
            {
                "email": agent.email,
                "presence": state.presence if state else "offline",
                "load": {ch: state.load.get(ch, 0) if state else 0 for ch in agent.capacity},
                "capacity": dict(agent.capacity),
                "queues": sorted(names.get(q, str(q)) for q in agent.queues),
                "skills": dict(agent.skills),
                "languages": sorted(agent.languages),
            }
        )
    return web.json_response({"agents": out}, dumps=dumps)


ROUTING_ROUTES = [
    ApiRoute(
        "POST", "/api/v1/presence", post_presence, op("Set your own presence", body="Presence")
    ),
    ApiRoute("GET", "/api/v1/offers", get_offers, op("Your open offers", response="Offers")),
    ApiRoute(
        "POST",
        "/api/v1/offers/{id}/accept",
        post_accept,
        op("Accept an offer (you become the assignee)"),
    ),
    ApiRoute(
        "POST",
        "/api/v1/offers/{id}/reject",
        post_reject,
        op("Reject an offer (it moves to the next agent)"),
    ),
    ApiRoute(
        "GET",
        "/api/v1/queues",
        get_queues,
        op(
            "Queues: depth, oldest wait, agents online, tickets every able agent refused"
            " (supervisors)"
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v1/agents",
        get_agents,
        op("Agents: presence and load per channel (supervisors)"),
    ),
    ApiRoute(
        "POST",
        "/api/v1/agents/{email}/presence",
        post_agent_presence,
        op("Set an agent's presence (supervisors)", body="Presence"),
    ),
]
