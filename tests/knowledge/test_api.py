"""The knowledge base's REST API: search (staff see internal articles too), read, create
and change (supervisors and admins only; a changed text is a new version), and the
routes in the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest

import knowledge
from switchboard import db
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import T0


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    started = await start_api(aiohttp_client, stack, redis_prefix)
    engine = db.create_engine(stack.database_url)
    async with db.transaction(db.session_factory(engine)) as session:
        await knowledge.seed_articles(session, T0)
    await engine.dispose()
    return started


async def test_search_and_read(api: Api) -> None:
    found = await api.get("/api/v1/kb/search?q=空调漏水&locale=zh-CN", who="agent1@example.com")
    top = found["results"][0]
    assert top["slug"] == "ac-water-leak-zh"
    assert set(top) >= {"slug", "title", "locale", "snippet", "score"}
    assert "<mark>" in top["snippet"]
    internal = await api.get("/api/v1/kb/search?q=refund approval", who="agent1@example.com")
    assert internal["results"][0]["slug"] == "internal-refund-approval-en"
    limited = await api.get("/api/v1/kb/search?q=E21&limit=1")
    assert len(limited["results"]) == 1
    assert (await api.get("/api/v1/kb/search"))["results"] == []
    await api.get("/api/v1/kb/search?q=x&locale=fr", status=400)
    article = await api.get("/api/v1/kb/articles/ac-e21-en", who="agent1@example.com")
    assert article["title"] == "Air conditioner shows fault code E21"
    assert "<strong>outdoor unit communication fault</strong>" in article["html"]
    assert article["translations"] == [{"slug": "ac-e21-zh", "locale": "zh-CN"}]
    await api.get("/api/v1/kb/articles/nope", status=404)
    response = await api.client.get("/api/v1/kb/search?q=E21")
    assert response.status == 401


async def test_supervisors_create_and_change_articles(api: Api) -> None:
    new = {
        "slug": "dishwasher-e4",
        "title": "Dishwasher E4",
        "body": "Close the tap. <script>alert(1)</script>",
        "locale": "en",
        "visibility": "public",
        "tags": ["fault code"],
        "models": ["WQP12-J7"],
    }
    await api.send("POST", "/api/v1/kb/articles", new, who="agent1@example.com", status=403)
    created = await api.send("POST", "/api/v1/kb/articles", new, status=201)
    assert created["version"] == 1 and "<script>" not in created["html"]
    await api.send("POST", "/api/v1/kb/articles", new, status=409)
    found = await api.get("/api/v1/kb/search?q=WQP12")
    assert [r["slug"] for r in found["results"]] == ["dishwasher-e4"]

    same = await api.send("PATCH", "/api/v1/kb/articles/dishwasher-e4", {"title": "Dishwasher E4"})
    assert same["version"] == 1
    changed = await api.send(
        "PATCH",
        "/api/v1/kb/articles/dishwasher-e4",
        {"body": "Overflow protection."},
        who="admin@example.com",
    )
    assert changed["version"] == 2 and changed["tags"] == ["fault code"]
    assert (await api.get("/api/v1/kb/search?q=overflow"))["results"][0]["slug"] == "dishwasher-e4"
    old = await api.get("/api/v1/kb/search?q=close tap")
    assert "dishwasher-e4" not in [r["slug"] for r in old["results"]]
    await api.send("PATCH", "/api/v1/kb/articles/dishwasher-e4", {"locale": "fr"}, status=400)
    await api.send("PATCH", "/api/v1/kb/articles/dishwasher-e4", {"nope": 1}, status=400)
    await api.send("PATCH", "/api/v1/kb/articles/missing", {"title": "x"}, status=404)
    await api.send("POST", "/api/v1/kb/articles", {**new, "slug": "Bad Slug"}, status=400)


async def test_routes_are_in_the_openapi_document(api: Api) -> None:
    doc = await api.get("/api/v1/openapi.json")
    assert set(doc["paths"]["/api/v1/kb/articles/{slug}"]) == {"get", "patch"}
    assert "post" in doc["paths"]["/api/v1/kb/articles"]
    params = {p["name"] for p in doc["paths"]["/api/v1/kb/search"]["get"]["parameters"]}
    assert params == {"q", "locale", "limit"}


async def test_what_the_document_forbids_is_refused(api: Api) -> None:
    await api.get("/api/v1/kb/search?q=" + "0" * 201, status=400)
    body = {"slug": "x1", "title": "T", "locale": "en", "translation_key": ""}
    await api.send("POST", "/api/v1/kb/articles", body, status=400)
    await api.send("PATCH", "/api/v1/kb/articles/ac-e21-en", {"translation_key": "A B"}, status=400)
