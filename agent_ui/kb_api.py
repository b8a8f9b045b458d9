"""REST for the knowledge base: search (staff see internal and public articles), read
one article, and create or change articles (supervisors and admins). Every write is
audited and re-indexed in its transaction (``knowledge.save_article``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

import knowledge
from agent_ui.context import DESK, staff_of
from agent_ui.errors import ApiError
from agent_ui.http import ApiRoute, dumps, only_fields, op, query_int, query_text, read_json
from tickets import StaffUser, record_audit

MAX_QUERY = 200
FIELDS = {"title", "body", "locale", "visibility", "category", "tags", "models", "translation_key"}


def _writer(staff: StaffUser) -> None:
    if not staff.supervises:
        raise ApiError(403, "forbidden", "only supervisors and admins may edit articles")


async def get_search(request: web.Request) -> web.Response:
    staff_of(request)
    q = query_text(request, "q") or ""
    if len(q) > MAX_QUERY:
        raise ApiError(400, "invalid", f"q is at most {MAX_QUERY} characters")
    locale = query_text(request, "locale")
    if locale is not None and locale not in knowledge.LOCALES:
        raise ApiError(400, "invalid", f"locale must be one of {', '.join(knowledge.LOCALES)}")
    limit = query_int(request, "limit", 10, 1, 200)
    hits = await request.app[DESK].read(
        lambda s: knowledge.search_articles(s, q, locale=locale, limit=limit)
    )
    return web.json_response({"results": [h.as_dict() for h in hits]}, dumps=dumps)


async def _full(session: AsyncSession, slug: str) -> dict[str, Any]:
    article = await knowledge.by_slug(session, slug)
    if article is None:
        raise ApiError(404, "not_found", f"no article {slug!r}")
    return knowledge.article_dict(article, others=await knowledge.translations(session, article))


async def get_article(request: web.Request) -> web.Response:
    staff_of(request)
    slug = request.match_info["slug"]
    return web.json_response(await request.app[DESK].read(lambda s: _full(s, slug)), dumps=dumps)


async def post_article(request: web.Request) -> web.Response:
    staff = staff_of(request)
    _writer(staff)
    body = await read_json(request)
    only_fields(body, {"slug", *FIELDS})
    slug = body.get("slug")
    if not isinstance(slug, str):
        raise ApiError(400, "invalid", "slug must be a string")
    data = knowledge.input_from(slug, body)

    async def work(session: AsyncSession, now: Any) -> tuple[dict[str, Any], tuple[()]]:
        if await knowledge.by_slug(session, slug) is not None:
            raise ApiError(409, "conflict", f"an article {slug!r} exists; PATCH it")
        saved = await knowledge.save_article(session, data, staff.id, now)
        await record_audit(session, staff.actor, "kb.article_created", now, slug=slug)
        return await _full(session, saved.article.slug), ()

    out = await request.app[DESK].write(work)
    return web.json_response(out, status=201, dumps=dumps)


async def patch_article(request: web.Request) -> web.Response:
    staff = staff_of(request)
    _writer(staff)
    slug = request.match_info["slug"]
    body = await read_json(request)
    only_fields(body, FIELDS)

    async def work(session: AsyncSession, now: Any) -> tuple[dict[str, Any], tuple[()]]:
        article = await knowledge.by_slug(session, slug)
        if article is None:
            raise ApiError(404, "not_found", f"no article {slug!r}")
        data = knowledge.input_from(slug, body, article)
        saved = await knowledge.save_article(session, data, staff.id, now)
        if saved.changed:
            await record_audit(
                session,
                staff.actor,
                "kb.article_changed",
                now,
                slug=slug,
                version=saved.article.version,
            )
        return await _full(session, slug), ()

    return web.json_response(await request.app[DESK].write(work), dumps=dumps)


KB_ROUTES = [
    ApiRoute(
        "GET",
        "/api/v1/kb/search",
        get_search,
        op(
            "Search the knowledge base (internal and public articles), best first",
            params=("q", "locale", "limit"),
            response="KbSearch",
        ),
    ),
    ApiRoute(
        "POST",
        "/api/v1/kb/articles",
        post_article,
        op(
            "Create an article (supervisors and admins)",
            ok="201",
            body="KbArticleNew",
            response="KbArticle",
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v1/kb/articles/{slug}",
        get_article,
        op("An article with its rendered HTML and translations", response="KbArticle"),
    ),
    ApiRoute(
        "PATCH",
        "/api/v1/kb/articles/{slug}",
        patch_article,
        op(
            "Change an article; a new version when its text changes (supervisors and admins)",
            body="KbArticleChanges",
            response="KbArticle",
        ),
    ),
]
