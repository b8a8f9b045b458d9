"""What every ``/agent`` page carries in its top bar: the presence switch and the banner
of open offers (with Accept and Reject), and the routes behind them.

Presence goes to the routing engine exactly as ``POST /api/v1/presence`` does, so the
engine obeys the switch. Offers come from the engine's ``offers_for`` on page load and on
every ``OfferMade``/``OfferEnded`` frame (``workspace.js`` refreshes the fragment);
accepting goes to the ticket. Accept and Reject are plain forms: they work without
JavaScript, and the engine checks that the offer is this user's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

import tickets
from agent_ui.context import DESK, ROUTING
from agent_ui.web.auth import safe_next
from agent_ui.web.config import page_user
from agent_ui.web.i18n import _
from agent_ui.web.render import render
from agent_ui.web.workspace import data, labels

PRESENCES = ("online", "away", "offline")


async def current_presence(request: web.Request) -> str:
    staff = page_user(request)
    live = await request.app[ROUTING].store.live([staff.id])
    found = live.get(staff.id)
    return found.presence if found else "offline"


async def open_offers(request: web.Request) -> list[dict[str, Any]]:
    staff = page_user(request)
    offers = await request.app[ROUTING].offers_for(staff.id)
    numbers = [tickets.format_number(o.ticket_id) for o in offers]
    rows = await data.ticket_summaries(request.app[DESK], staff, numbers)
    out = []
    for offer, number in zip(offers, numbers, strict=True):
        row = rows.get(number)
        if row is None:
            continue
        out.append(
            {
                "id": offer.id,
                "number": number,
                "channel": labels.channel(offer.channel),
                "subject": row.get("subject") or "",
                "customer": (row.get("customer") or {}).get("name") or "",
                "expires_at": datetime.fromtimestamp(offer.expires_at, UTC).isoformat(),
                "seconds_left": max(0, round(offer.expires_at - request.app[ROUTING].now())),
            }
        )
    return out


async def topbar_context(request: web.Request) -> dict[str, Any]:
    presence = await current_presence(request)
    return {
        "presence": presence,
        "presence_label": labels.presence(presence),
        "presences": [(p, labels.presence(p)) for p in PRESENCES],
        "offers": await open_offers(request),
    }


async def presence_fragment(request: web.Request) -> web.Response:
    return await render(request, "agent/_presence.html", await topbar_context(request))


async def offers_fragment(request: web.Request) -> web.Response:
    return await render(request, "agent/_offers.html", await topbar_context(request))


async def topbar_fragment(request: web.Request) -> web.Response:
    return await render(
        request, "agent/_topbar.html", {"agent_topbar": await topbar_context(request)}
    )


async def set_presence(request: web.Request) -> web.StreamResponse:
    staff = page_user(request)
    form = await request.post()
    status = form.get("status")
    if status not in PRESENCES:
        raise tickets.Invalid(_("Choose online, away or offline."))
    await request.app[ROUTING].set_presence(staff.id, str(status), staff.actor)
    if request.headers.get("HX-Request"):
        return await presence_fragment(request)
    raise web.HTTPSeeOther(safe_next(str(form.get("next", "")) or None))


async def accept(request: web.Request) -> web.StreamResponse:
    staff = page_user(request)
    offer = await request.app[ROUTING].accept(request.match_info["id"], staff.id)
    target = "/agent/tickets/" + tickets.format_number(offer.ticket_id)
    if request.headers.get("HX-Request"):
        return web.Response(status=204, headers={"HX-Redirect": target})
    raise web.HTTPSeeOther(target)


async def reject(request: web.Request) -> web.StreamResponse:
    staff = page_user(request)
    await request.app[ROUTING].reject(request.match_info["id"], staff.id)
    if request.headers.get("HX-Request"):
        return await offers_fragment(request)
    form = await request.post()
    raise web.HTTPSeeOther(safe_next(str(form.get("next", "")) or None))


ROUTES = [
    web.get("/agent/fragments/topbar", topbar_fragment),
    web.get("/agent/fragments/presence", presence_fragment),
    web.get("/agent/fragments/offers", offers_fragment),
    web.post("/agent/presence", set_presence),
    web.post("/agent/offers/{id}/accept", accept),
    web.post("/agent/offers/{id}/reject", reject),
]
