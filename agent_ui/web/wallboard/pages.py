"""The wallboard page, its three live fragments (tiles, SLA list, agents) and the chart
data. The page renders everything once; afterwards ``wallboard.js`` re-fetches a fragment
when a socket frame says its numbers moved (debounced), and the charts' JSON when tickets
arrive or are first answered. Nothing polls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from agent_ui.context import DESK, ROUTING, SENDERS
from agent_ui.web.i18n import _
from agent_ui.web.render import render
from agent_ui.web.wallboard import labels
from agent_ui.web.wallboard.scope import Scope, scope_of
from agent_ui.web.wallboard.tiles import agent_rows, channel_tiles, queue_tiles, visible_agents
from routing.board import BoardState, board_state

SLA_ROWS = 100


@dataclass(frozen=True, slots=True)
class Reads:
    sla: list[tickets.SlaRisk]
    names: dict[int, str]
    solved: dict[int, int]
    ratings: list[dict[str, Any]]
    self_served: int


async def _ratings_today(request: web.Request) -> list[dict[str, Any]]:
    async def read(session: AsyncSession) -> list[dict[str, Any]]:
        since = await tickets.business_day_start(session, request.app[DESK].clock())
        return await tickets.ratings_since(session, since)

    return await request.app[DESK].read(read)


async def _self_served_today(request: web.Request, scope: Scope) -> int:
    """Conversations customers solved themselves with an article today (deflection)."""

    async def read(session: AsyncSession) -> int:
        since = await tickets.business_day_start(session, request.app[DESK].clock())
        return await tickets.self_served_since(session, since, scope.queue_ids)

    return await request.app[DESK].read(read)


async def _reads(request: web.Request, scope: Scope, board: BoardState) -> Reads:
    agent_ids = [a.id for a in visible_agents(board, scope)]

    async def read(session: AsyncSession) -> Reads:
        now = request.app[DESK].clock()
        since = await tickets.business_day_start(session, now)
        return Reads(
            sla=await tickets.sla_at_risk(session, scope.queue_ids, now, limit=SLA_ROWS),
            names=await tickets.staff_names(session, agent_ids),
            solved=await tickets.solved_since(session, since, agent_ids, scope.queue_ids),
            ratings=await tickets.ratings_since(session, since),
            self_served=await tickets.self_served_since(session, since, scope.queue_ids),
        )

    return await request.app[DESK].read(read)


def _choices(board: BoardState, scope: Scope) -> dict[str, Any]:
    """What the action forms offer: the visible queues, and per queue its agents."""
    queues = sorted(
        (q for q in board.queues.values() if scope.sees_queue(q.id)),
        key=lambda q: (q.position, q.name),
    )
    members = {
        q.id: sorted(a.email for a in board.agents.values() if q.id in a.queues) for q in queues
    }
    return {"queues": [q.name for q in queues], "members": members}


def _configured(request: web.Request) -> set[str]:
    return {c.value for c in request.app[SENDERS].channels()}


def _context(request: web.Request, board: BoardState, scope: Scope, reads: Reads) -> dict[str, Any]:
    return {
        "queue_tiles": queue_tiles(board, scope, _configured(request), reads.ratings),
        "channel_tiles": channel_tiles(board, scope, _configured(request)),
        "sla_rows": reads.sla,
        "self_served": reads.self_served,
        "agents": agent_rows(board, scope, reads.names, reads.solved, _configured(request)),
        "now_s": board.now,
        "labels": labels,
        "presences": ("online", "away", "offline"),
        **_choices(board, scope),
    }


async def _everything(request: web.Request) -> dict[str, Any]:
    scope = scope_of(request)
    board = await board_state(request.app[ROUTING])
    return _context(request, board, scope, await _reads(request, scope, board))


async def wallboard_page(request: web.Request) -> web.Response:
    return await render(request, "supervisor/wallboard.html", await _everything(request))


async def tiles_fragment(request: web.Request) -> web.Response:
    scope = scope_of(request)
    board = await board_state(request.app[ROUTING])
    ratings = await _ratings_today(request)
    context = {
        "queue_tiles": queue_tiles(board, scope, _configured(request), ratings),
        "channel_tiles": channel_tiles(board, scope, _configured(request)),
        "now_s": board.now,
        "self_served": await _self_served_today(request, scope),
    }
    return await render(request, "supervisor/_tiles.html", context)


async def sla_fragment(request: web.Request) -> web.Response:
    return await render(request, "supervisor/_sla.html", await _everything(request))


async def agents_fragment(request: web.Request) -> web.Response:
    return await render(request, "supervisor/_agents.html", await _everything(request))


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


async def charts_data(request: web.Request) -> web.Response:
    scope = scope_of(request)
    desk = request.app[DESK]

    async def read(
        session: AsyncSession,
    ) -> tuple[tickets.HourlyVolume, list[tickets.ResponseBucket]]:
        now = desk.clock()
        return (
            await tickets.volume_by_hour(session, scope.queue_ids, now),
            await tickets.first_response_histogram(session, scope.queue_ids, now),
        )

    volume, frt = await desk.read(read)
    lowers = [None, *(b.upper_s for b in frt[:-1])]
    body = {
        "volume": {
            "title": _("Tickets per hour by channel, last 24 hours"),
            "time": _("Time"),
            "hours": [_epoch(h) for h in volume.hours],
            "series": [
                {"channel": ch, "label": labels.channel(ch), "counts": list(counts)}
                for ch, counts in volume.by_channel.items()
            ],
        },
        "frt": {
            "title": _("First response time, tickets of the last 7 days"),
            "buckets": [labels.bucket(lo, b.upper_s) for lo, b in zip(lowers, frt, strict=True)],
            "counts": [b.count for b in frt],
            "series": _("Tickets"),
        },
    }
    return web.json_response(body, headers={"Cache-Control": "no-store"})
