"""The public help center at ``/help``: search, categories and article pages in
Chinese and English, no sign-in, and "was this helpful?".

It only ever reads public articles: search runs with ``public_only``, an internal
article's page is a 404 (the same as a missing one, so its slug is not confirmed), and
categories, translation links and snippets come from public articles alone.

Decisions: the help center's language is the UI language (``?lang=`` switches it and is
remembered in the language cookie, like the sign-in page); articles shown are those of
that locale. A vote is counted once per browser and article (a cookie lists the voted
slugs); the vote form needs no CSRF token (it changes nothing but a counter), so
``/help`` is CSRF-exempt."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from markupsafe import Markup
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

import knowledge
from agent_ui.context import DESK
from agent_ui.web import i18n
from agent_ui.web.config import LANGUAGE_COOKIE
from agent_ui.web.render import render

MAX_QUERY = 200
VOTED_COOKIE = "sb_help_voted"
MAX_VOTED = 50


def _locale() -> str:
    return i18n.HTML_LANG.get(i18n.current(), "en")


def _switch_language(request: web.Request) -> str | None:
    chosen = i18n.normalize(request.query.get("lang"))
    if chosen:
        i18n.set_current(chosen)
    return chosen


def _remember(response: web.Response, chosen: str | None) -> web.Response:
    if chosen:
        response.set_cookie(
            LANGUAGE_COOKIE, chosen, max_age=365 * 86400, httponly=True, samesite="Lax"
        )
    return response


async def help_home(request: web.Request) -> web.Response:
    chosen = _switch_language(request)
    locale = _locale()
    q = " ".join(request.query.get("q", "").split())[:MAX_QUERY]
    category = request.query.get("category", "")[:100]

    async def read(session: AsyncSession) -> dict[str, Any]:
        hits = (
            await knowledge.search_articles(session, q, locale=locale, public_only=True, limit=20)
            if q
            else []
        )
        listed = (
            await knowledge.in_category(session, locale, category, public_only=True)
            if category
            else []
        )
        return {
            "hits": [{**h.as_dict(), "snippet": Markup(h.snippet)} for h in hits],
            "categories": await knowledge.categories(session, locale, public_only=True),
            "listed": listed,
        }

    found = await request.app[DESK].read(read)
    response = await render(request, "help/home.html", {"q": q, "category": category, **found})
    return _remember(response, chosen)


async def help_article(request: web.Request) -> web.Response:
    chosen = _switch_language(request)
    slug = request.match_info["slug"]

    async def read(session: AsyncSession) -> dict[str, Any] | None:
        article = await knowledge.by_slug(session, slug)
        if article is None or article.visibility != "public":
            return None
        others = [
            a for a in await knowledge.translations(session, article) if a.visibility == "public"
        ]
        return {
            "article": article,
            "html": Markup(knowledge.render_markdown(article.body)),
            "translations": others,
        }

    found = await request.app[DESK].read(read)
    if found is None:
        raise web.HTTPNotFound(text="No such article.\n")
    voted = slug in _voted(request)
    thanks = request.query.get("thanks") == "1"
    response = await render(
        request, "help/article.html", {**found, "voted": voted or thanks, "thanks": thanks}
    )
    return _remember(response, chosen)


def _voted(request: web.Request) -> list[str]:
    raw = request.cookies.get(VOTED_COOKIE, "")
    return [s for s in raw.split(".") if s][:MAX_VOTED]


async def help_vote(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    form = await request.post()
    helpful = form.get("helpful")
    if helpful not in ("yes", "no"):
        raise web.HTTPBadRequest(text="helpful must be yes or no\n")
    voted = _voted(request)
    if slug not in voted:

        async def vote(session: AsyncSession, now: Any) -> tuple[bool, tuple[()]]:
            column = "helpful_yes" if helpful == "yes" else "helpful_no"
            result = await session.execute(
                update(knowledge.Article)
                .where(knowledge.Article.slug == slug, knowledge.Article.visibility == "public")
                .values({column: getattr(knowledge.Article, column) + 1})
            )
            return bool(getattr(result, "rowcount", 0)), ()

        if not await request.app[DESK].write(vote):
            raise web.HTTPNotFound(text="No such article.\n")
        voted = [slug, *voted][:MAX_VOTED]
    response = web.HTTPSeeOther(f"/help/articles/{slug}?thanks=1")
    response.set_cookie(
        VOTED_COOKIE,
        ".".join(voted),
        max_age=365 * 86400,
        httponly=True,
        samesite="Lax",
        path="/help",
    )
    raise response


ROUTES = [
    web.get("/help", help_home),
    web.get("/help/articles/{slug}", help_article),
    web.post("/help/articles/{slug}/feedback", help_vote),
]
