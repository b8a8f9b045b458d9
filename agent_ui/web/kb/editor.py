"""The staff knowledge base in the workspace (``/agent/kb``): search and list articles
(internal and public), read one with its translations and version history, view an old
version, and, for supervisors and admins, create and edit articles with a live preview
(the Markdown is rendered and sanitized on the server, the same way readers see it) and
restore an old version (which becomes a new version).

Decisions: agents read, supervisors and admins write (as in the REST API); the preview is
an htmx POST of the body, so the browser never renders unsanitized Markdown; tags and
models are typed comma-separated."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import knowledge
import tickets
from agent_ui.context import DESK
from agent_ui.web.config import page_user
from agent_ui.web.render import render
from agent_ui.web.workspace.topbar import topbar_context

MAX_QUERY = 200
FORM_FIELDS = ("slug", "title", "body", "locale", "visibility", "category", "tags", "models")


def _writer(staff: tickets.StaffUser) -> None:
    if not staff.supervises:
        raise tickets.Forbidden("Only supervisors and admins can edit articles.")


async def _page(request: web.Request, template: str, context: dict[str, Any]) -> web.Response:
    staff = page_user(request)
    return await render(
        request,
        template,
        {**await topbar_context(request), "may_edit": staff.supervises, **context},
    )


async def kb_list(request: web.Request) -> web.Response:
    q = " ".join(request.query.get("q", "").split())[:MAX_QUERY]

    async def read(session: AsyncSession) -> dict[str, Any]:
        if q:
            hits = await knowledge.search_articles(session, q, limit=50)
            return {"hits": [{**h.as_dict(), "snippet": Markup(h.snippet)} for h in hits]}
        rows = await session.execute(
            select(knowledge.Article).order_by(knowledge.Article.updated_at.desc()).limit(200)
        )
        return {"articles": list(rows.scalars())}

    found = await request.app[DESK].read(read)
    return await _page(request, "agent/kb/list.html", {"q": q, "hits": [], "articles": [], **found})


async def _article(session: AsyncSession, slug: str) -> knowledge.Article:
    article = await knowledge.by_slug(session, slug)
    if article is None:
        raise tickets.NotFound(f"no article {slug}")
    return article


async def kb_article(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]

    async def read(session: AsyncSession) -> dict[str, Any]:
        article = await _article(session, slug)
        return {
            "article": article,
            "html": Markup(knowledge.render_markdown(article.body)),
            "translations": await knowledge.translations(session, article),
            "versions": await knowledge.versions(session, article),
            "shown": None,
        }

    found = await request.app[DESK].read(read)
    return await _page(request, "agent/kb/article.html", found)


async def kb_version(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    number = tickets.parse_id(request.match_info["version"])
    if number is None:
        raise tickets.NotFound("no such version")

    async def read(session: AsyncSession) -> dict[str, Any]:
        article = await _article(session, slug)
        old = await knowledge.version(session, article, number)
        return {
            "article": article,
            "html": Markup(knowledge.render_markdown(old.body)),
            "translations": await knowledge.translations(session, article),
            "versions": await knowledge.versions(session, article),
            "shown": old,
        }

    found = await request.app[DESK].read(read)
    return await _page(request, "agent/kb/article.html", found)


async def kb_restore(request: web.Request) -> web.StreamResponse:
    staff = page_user(request)
    _writer(staff)
    slug = request.match_info["slug"]
    number = tickets.parse_id(request.match_info["version"])
    if number is None:
        raise tickets.NotFound("no such version")

    async def work(session: AsyncSession, now: Any) -> tuple[None, tuple[()]]:
        saved = await knowledge.restore_version(session, slug, number, staff.id, now)
        await tickets.record_audit(
            session,
            staff.actor,
            "kb.article_restored",
            now,
            slug=slug,
            version=number,
            new_version=saved.article.version,
        )
        return None, ()

    await request.app[DESK].write(work)
    raise web.HTTPSeeOther(f"/agent/kb/{quote(slug)}")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _form_values(form: Any) -> dict[str, Any]:
    values = {name: str(form.get(name, "")) for name in FORM_FIELDS}
    values["body"] = values["body"].replace("\r\n", "\n")
    return values


async def _editor(
    request: web.Request, values: dict[str, Any], *, new: bool, error: str = "", status: int = 200
) -> web.Response:
    response = await _page(
        request,
        "agent/kb/edit.html",
        {
            "values": values,
            "new": new,
            "error": error,
            "preview": Markup(knowledge.render_markdown(values.get("body", ""))),
            "locales": knowledge.LOCALES,
            "visibilities": knowledge.VISIBILITIES,
        },
    )
    response.set_status(status)
    return response


async def kb_new(request: web.Request) -> web.Response:
    _writer(page_user(request))
    empty = dict.fromkeys(FORM_FIELDS, "")
    empty.update(locale="zh-CN", visibility="internal")
    return await _editor(request, empty, new=True)


async def kb_edit(request: web.Request) -> web.Response:
    _writer(page_user(request))
    slug = request.match_info["slug"]
    article = await request.app[DESK].read(lambda s: _article(s, slug))
    values = {
        "slug": article.slug,
        "title": article.title,
        "body": article.body,
        "locale": article.locale,
        "visibility": article.visibility,
        "category": article.category,
        "tags": ", ".join(article.tags),
        "models": ", ".join(article.models),
    }
    return await _editor(request, values, new=False)


async def kb_save(request: web.Request) -> web.StreamResponse:
    staff = page_user(request)
    _writer(staff)
    editing = request.match_info.get("slug")
    values = _form_values(await request.post())
    slug = editing or values["slug"].strip()

    async def work(session: AsyncSession, now: Any) -> tuple[None, tuple[()]]:
        existing = await knowledge.by_slug(session, slug)
        if editing is None and existing is not None:
            raise tickets.Conflict(f"an article {slug!r} exists already")
        if editing is not None and existing is None:
            raise tickets.NotFound(f"no article {slug}")
        data = knowledge.ArticleInput(
            slug=slug,
            title=values["title"],
            body=values["body"],
            locale=values["locale"],
            visibility=values["visibility"],
            category=values["category"],
            tags=tuple(_split(values["tags"])),
            models=tuple(_split(values["models"])),
            translation_key=existing.translation_key if existing is not None else "",
        )
        saved = await knowledge.save_article(session, data, staff.id, now)
        if saved.changed:
            await tickets.record_audit(
                session,
                staff.actor,
                "kb.article_saved",
                now,
                slug=slug,
                version=saved.article.version,
            )
        return None, ()

    try:
        await request.app[DESK].write(work)
    except (tickets.Invalid, tickets.Conflict) as err:
        return await _editor(request, values, new=editing is None, error=str(err), status=400)
    raise web.HTTPSeeOther(f"/agent/kb/{quote(slug)}")


async def kb_preview(request: web.Request) -> web.Response:
    form = await request.post()
    body = str(form.get("body", ""))[: knowledge.MAX_BODY]
    return web.Response(text=knowledge.render_markdown(body), content_type="text/html")


ROUTES = [
    web.get("/agent/kb", kb_list),
    web.get("/agent/kb/new", kb_new),
    web.post("/agent/kb/new", kb_save),
    web.post("/agent/kb/preview", kb_preview),
    web.get("/agent/kb/{slug}", kb_article),
    web.get("/agent/kb/{slug}/edit", kb_edit),
    web.post("/agent/kb/{slug}/edit", kb_save),
    web.get("/agent/kb/{slug}/versions/{version}", kb_version),
    web.post("/agent/kb/{slug}/versions/{version}/restore", kb_restore),
]
