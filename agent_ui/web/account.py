"""The user's own account page: the sessions signed in with this account (where, since
when) and a button to end each, or every other one."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from agent_ui.context import DESK
from agent_ui.http import path_id
from agent_ui.web.config import page_user, web_session
from agent_ui.web.render import render


async def account_page(request: web.Request) -> web.Response:
    staff = page_user(request)
    desk = request.app[DESK]
    now = desk.clock()
    sessions = await desk.read(lambda s: tickets.sessions_of(s, staff.id, now))
    current = web_session(request)
    return await render(
        request,
        "account.html",
        {"sessions": sessions, "current_id": current.id if current else None},
    )


async def end_one(request: web.Request) -> web.StreamResponse:
    staff = page_user(request)
    session_id = path_id(request, "id")
    desk = request.app[DESK]

    async def work(s: AsyncSession, now: datetime) -> tuple[bool, tuple[()]]:
        mine = {w.id for w in await tickets.sessions_of(s, staff.id, now)}
        if session_id not in mine:
            raise tickets.NotFound("no such session")
        return await tickets.end_session(s, session_id, staff.actor, now), ()

    await desk.write(work)
    raise web.HTTPSeeOther("/account")


async def end_others(request: web.Request) -> web.StreamResponse:
    staff = page_user(request)
    current = web_session(request)
    keep = current.id if current else None
    await request.app[DESK].write(lambda s, now: _end_all(s, staff.id, staff.actor, now, keep))
    raise web.HTTPSeeOther("/account")


async def _end_all(
    s: AsyncSession, user_id: int, actor: tickets.Actor, now: datetime, keep: int | None
) -> tuple[int, tuple[()]]:
    return await tickets.end_sessions_of(s, user_id, actor, now, keep=keep), ()


ROUTES = [
    web.get("/account", account_page),
    web.post("/account/sessions/{id}/end", end_one),
    web.post("/account/sessions/end-others", end_others),
]
