"""Rendering of the web app's pages: aiohttp-jinja2 with autoescaping, the jinja2 i18n
extension bound to the request's language, and filters that show times in the user's
zone. Every page gets ``user``, ``csrf_token``, ``lang`` and ``html_lang``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from agent_ui.web import i18n
from agent_ui.web.config import LANGUAGE_COOKIE, LOGIN_CSRF, WEB_CONFIG, web_session

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def setup_templates(app: web.Application) -> jinja2.Environment:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext_, i18n.ngettext_, newstyle=True
    )
    env.filters["localtime"] = _localtime
    env.filters["isotime"] = _isotime
    env.filters["tojson_attr"] = _tojson_attr
    return env


def user_zone(request: web.Request) -> ZoneInfo:
    found = web_session(request)
    chosen = getattr(found.staff, "time_zone", None) if found else None
    for name in (chosen, request.app[WEB_CONFIG].time_zone, "UTC"):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def request_language(request: web.Request) -> str:
    found = web_session(request)
    preferred = getattr(found.staff, "ui_locale", None) if found else None
    return i18n.choose(
        preferred or request.cookies.get(LANGUAGE_COOKIE),
        request.headers.get("Accept-Language"),
    )


def page_context(request: web.Request) -> dict[str, Any]:
    found = web_session(request)
    language = i18n.current()
    return {
        "user": found.staff if found else None,
        "csrf_token": found.csrf_token if found else request.get(LOGIN_CSRF, ""),
        "lang": language,
        "html_lang": i18n.HTML_LANG.get(language, "en"),
        "zone": user_zone(request),
        "languages": i18n.LANGUAGE_NAMES,
        "request_path": request.path,
        "request_query": request.query,
    }


@jinja2.pass_context
def _localtime(context: Any, value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    zone: ZoneInfo = context.get("zone") or ZoneInfo("UTC")
    return moment.astimezone(zone).strftime(fmt)


def _isotime(value: datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value
    return value.astimezone(UTC).isoformat()


def _tojson_attr(value: Any) -> Markup:
    """JSON for an HTML attribute (autoescaping then quotes it safely)."""
    return Markup.escape(json.dumps(value, ensure_ascii=False, default=str))


async def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    response = aiohttp_jinja2.render_template(
        template, request, {**page_context(request), **context}, status=status
    )
    response.headers["Content-Language"] = i18n.HTML_LANG.get(i18n.current(), "en")
    return response
