"""The public help center: no sign-in, search and categories in both languages, article
pages with translation links and a sanitized body, "was this helpful?" counted once per
browser, and never an internal article (results, pages, snippets, categories, links)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

import knowledge
from switchboard import db
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import T0

SECRET = knowledge.ArticleInput(
    slug="secret-escalation",
    title="Escalation hotline for leaking units",
    body="Call the duty manager at 555-0199 about any leak.",
    locale="en",
    visibility="internal",
    category="Washing machines",
    translation_key="washer-leak",
)


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    started = await start_api(aiohttp_client, stack, redis_prefix, seed=False)
    engine = db.create_engine(stack.database_url)
    async with db.transaction(db.session_factory(engine)) as session:
        await knowledge.seed_articles(session, T0)
        await knowledge.save_article(session, SECRET, None, T0)
    await engine.dispose()
    return started


async def page(api: Api, path: str, status: int = 200, **headers: str) -> str:
    response = await api.client.get(path, headers=headers, allow_redirects=False)
    assert response.status == status, (path, response.status)
    return await response.text()


async def test_search_and_categories_without_signing_in(api: Api) -> None:
    html = await page(api, "/help?lang=en&q=leaking")
    assert 'href="/help/articles/ac-water-leak-en"' in html
    assert "<mark>" in html and "leaking" in html.lower()
    assert "secret-escalation" not in html and "555-0199" not in html
    assert "Escalation hotline" not in html
    zh = await page(api, "/help?lang=zh_CN&q=漏水")
    assert 'href="/help/articles/ac-water-leak-zh"' in zh
    assert "帮助中心" in zh
    home = await page(api, "/help?lang=en&category=Washing+machines")
    assert 'href="/help/articles/washer-leak-en"' in home
    assert "secret-escalation" not in home
    counts = dict(re.findall(r">([^<>]+)</a> <span class=\"count\">(\d+)</span>", home))
    assert counts["Washing machines"] == "4"
    internal_only = await page(api, "/help?lang=en&q=refund+approval")
    assert "internal-refund-approval" not in internal_only


async def test_article_pages_and_internal_ones_are_404(api: Api) -> None:
    html = await page(api, "/help/articles/washer-leak-en?lang=en")
    assert "<h1>Washing machine is leaking</h1>" in html
    assert 'href="/help/articles/washer-leak-zh?lang=zh_CN"' in html
    assert "secret-escalation" not in html
    await page(api, "/help/articles/secret-escalation", status=404)
    await page(api, "/help/articles/internal-gas-safety-en", status=404)
    await page(api, "/help/articles/nothing-here", status=404)
    response = await api.client.get("/help/articles/ac-e21-en")
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


async def test_was_this_helpful_counts_once(api: Api) -> None:
    path = "/help/articles/warranty-en/feedback"
    response = await api.client.post(path, data={"helpful": "yes"}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/help/articles/warranty-en?thanks=1"
    again = await api.client.post(path, data={"helpful": "yes"}, allow_redirects=False)
    assert again.status == 303
    bad = await api.client.post(path, data={"helpful": "maybe"}, allow_redirects=False)
    assert bad.status == 400
    hidden = await api.client.post(
        "/help/articles/secret-escalation/feedback", data={"helpful": "no"}, allow_redirects=False
    )
    assert hidden.status == 404
    thanks = await page(api, "/help/articles/warranty-en?lang=en")
    assert "You rated this article" in thanks
    engine = db.create_engine(api.runtime.settings.database_url)
    async with db.transaction(db.session_factory(engine)) as session:
        row = (
            await session.execute(
                select(knowledge.Article.helpful_yes, knowledge.Article.helpful_no)
                .where(knowledge.Article.slug.in_(["warranty-en", "secret-escalation"]))
                .order_by(knowledge.Article.slug)
            )
        ).all()
    await engine.dispose()
    assert [tuple(r) for r in row] == [(0, 0), (1, 0)]
