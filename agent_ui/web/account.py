"""The user's own account page: language and time zone, password, and the sessions
signed in with this account (where, since when) with a button to end each, or every other
one. A password change ends every other session of the user at once.

Bad input (a wrong current password, a short new one, an unknown zone) re-renders the page
with the reason next to the form, status 400/403; nothing is half-changed."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import available_timezones

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from agent_ui.context import DESK
from agent_ui.http import path_id
from agent_ui.web.config import WEB_CONFIG, page_user, web_session
from agent_ui.web.i18n import _
from agent_ui.web.render import render

ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


async def account_page(
    request: web.Request, *, status: int = 200, notice: str = "", error: str = "", form: str = ""
) -> web.Response:
    staff = page_user(request)
    desk = request.app[DESK]
    now = desk.clock()
    sessions = await desk.read(lambda s: tickets.sessions_of(s, staff.id, now))
    current = web_session(request)
    return await render(
        request,
        "account.html",
        {
            "sessions": sessions,
            "current_id": current.id if current else None,
            "zones": ZONES,
            "default_zone": request.app[WEB_CONFIG].time_zone,
            "notice": notice,
            "error": error,
            "error_form": form,
        },
        status=status,
    )


async def show(request: web.Request) -> web.Response:
    return await account_page(request)


async def save_preferences(request: web.Request) -> web.StreamResponse:
    staff = page_user(request)
    form = await request.post()
    locale = str(form.get("locale", "")) or None
    zone = str(form.get("time_zone", "")) or None
    if zone is not None and zone not in ZONES and zone != "UTC":
        return await account_page(
            request, status=400, error=_("Unknown time zone."), form="preferences"
        )
    try:
        await request.app[DESK].write(lambda s, now: _prefs(s, staff, now, locale, zone))
    except tickets.Invalid as err:
        return await account_page(request, status=400, error=str(err), form="preferences")
    raise web.HTTPSeeOther("/account?saved=preferences")


async def _prefs(
    s: AsyncSession, staff: tickets.StaffUser, now: datetime, locale: str | None, zone: str | None
) -> tuple[tickets.StaffUser, tuple[()]]:
    return await tickets.set_preferences(s, staff, now, locale=locale, time_zone=zone), ()


async def change_password(request: web.Request) -> web.StreamResponse:
    staff = page_user(request)
    current = web_session(request)
    form = await request.post()
    old, new = str(form.get("old", "")), str(form.get("new", ""))
    if new != str(form.get("repeat", "")):
        return await account_page(
            request, status=400, error=_("The new passwords differ."), form="password"
        )
    keep = current.id if current else None

    async def work(s: AsyncSession, now: datetime) -> tuple[int, tuple[()]]:
        await tickets.change_password(s, staff, old, new, now)
        return await tickets.end_sessions_of(s, staff.id, staff.actor, now, keep=keep), ()

    try:
        await request.app[DESK].write(work)
    except tickets.Forbidden:
        return await account_page(
            request, status=403, error=_("The current password is wrong."), form="password"
        )
    except tickets.Invalid:
        return await account_page(
            request,
            status=400,
            error=_("The new password needs at least 8 characters."),
            form="password",
        )
    raise web.HTTPSeeOther("/account?saved=password")


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
    web.get("/account", show),
    web.post("/account/preferences", save_preferences),
    web.post("/account/password", change_password),
    web.post("/account/sessions/{id}/end", end_one),
    web.post("/account/sessions/end-others", end_others),
]
