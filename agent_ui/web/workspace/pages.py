"""The workspace page ``GET /agent``: the views sidebar with counts, the ticket list
(sorted, searched, paged by cursor) and the htmx fragments that refresh them live.

Decisions where the issue is silent:
- the default view is "all open in my queues" (what a new shift starts from), sorted by
  SLA due time; view and sort are in the URL, so a list can be bookmarked and shared.
- a search covers every ticket the user may see, in any status (view ``all``), because
  someone looking for a customer's ticket seldom knows its status; the sidebar stays.
- paging is forward by cursor ("Next"), with a link back to the first page; a stale or
  forged cursor starts over at the first page rather than erroring.
- unknown ``view``/``sort`` values fall back to the defaults (a 400 page helps nobody).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

import tickets
from agent_ui.context import DESK
from agent_ui.web.config import page_user
from agent_ui.web.render import render
from agent_ui.web.workspace import data, labels
from agent_ui.web.workspace.topbar import topbar_context

MAX_QUERY = 200


def _params(request: web.Request) -> dict[str, Any]:
    view = request.query.get("view", data.DEFAULT_VIEW)
    if view not in data.VIEWS:
        view = data.DEFAULT_VIEW
    sort = request.query.get("sort", data.DEFAULT_SORT)
    if sort not in data.SORTS:
        sort = data.DEFAULT_SORT
    q = " ".join(request.query.get("q", "").split())[:MAX_QUERY]
    cursor = request.query.get("cursor") or None
    return {"view": view, "sort": sort, "q": q, "cursor": cursor}


def link(view: str, sort: str, q: str = "", cursor: str | None = None) -> str:
    query: dict[str, str] = {"view": view, "sort": sort}
    if q:
        query["q"] = q
    if cursor:
        query["cursor"] = cursor
    return "/agent?" + urlencode(query)


def _row(row: dict[str, Any]) -> dict[str, Any]:
    sla_text, sla_tone = labels.sla_text(row.get("sla"))
    return {
        **row,
        "channel_label": labels.channel(row.get("channel")),
        "status_label": labels.status(row.get("status")),
        "priority_label": labels.priority(row.get("priority")),
        "sla_text": sla_text,
        "sla_tone": sla_tone,
        "sla_due": (row.get("sla") or {}).get("due_at"),
        "href": "/agent/tickets/" + str(row["number"]),
    }


async def _list_context(request: web.Request) -> dict[str, Any]:
    staff = page_user(request)
    desk = request.app[DESK]
    p = _params(request)
    listed = data.SEARCH_VIEW if p["q"] else p["view"]
    try:
        page = await data.view_page(
            desk, staff, listed, sort=p["sort"], q=p["q"] or None, cursor=p["cursor"]
        )
    except tickets.Invalid:
        if p["cursor"] is None:
            raise
        p["cursor"] = None
        page = await data.view_page(
            desk, staff, listed, sort=p["sort"], q=p["q"] or None, cursor=None
        )
    return {
        **p,
        "listed": listed,
        "rows": [_row(r) for r in page.rows],
        "next_href": link(p["view"], p["sort"], p["q"], page.next_cursor)
        if page.next_cursor
        else None,
        "first_href": link(p["view"], p["sort"], p["q"]) if p["cursor"] else None,
        "fragment_url": "/agent/fragments/list?" + urlencode({k: v for k, v in p.items() if v}),
        "sorts": [(s, labels.sort(s), link(p["view"], s, p["q"])) for s in data.SORTS],
        "title": labels.view(listed),
    }


async def _counts_context(request: web.Request, view: str, sort: str) -> dict[str, Any]:
    staff = page_user(request)
    counts = await data.counts(request.app[DESK], staff)
    return {
        "views": [(v, labels.view(v), counts.get(v, 0), link(v, sort)) for v in data.VIEWS],
        "view": view,
        "sort": sort,
    }


async def workspace(request: web.Request) -> web.Response:
    listing = await _list_context(request)
    sidebar = await _counts_context(request, listing["view"], listing["sort"])
    return await render(
        request,
        "agent/workspace.html",
        {**listing, **sidebar, "agent_topbar": await topbar_context(request)},
    )


async def list_fragment(request: web.Request) -> web.Response:
    return await render(request, "agent/_list.html", await _list_context(request))


async def counts_fragment(request: web.Request) -> web.Response:
    p = _params(request)
    return await render(
        request, "agent/_views.html", await _counts_context(request, p["view"], p["sort"])
    )


ROUTES = [
    web.get("/agent", workspace),
    web.get("/agent/fragments/list", list_fragment),
    web.get("/agent/fragments/counts", counts_fragment),
]
