"""The staff knowledge base at /agent/kb: agents read (internal articles too), supervisors
create and edit with a sanitized server-side preview, every save is a version, and an old
version can be viewed and restored."""

from __future__ import annotations

from typing import Any

import pytest

import knowledge
from switchboard import db
from tests.agent_ui.webhelpers import sign_in
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


async def text(api: Api, path: str, status: int = 200) -> str:
    response = await api.client.get(path, allow_redirects=False)
    assert response.status == status, (path, response.status)
    return await response.text()


async def test_agents_read_and_supervisors_write(api: Api) -> None:
    await sign_in(api.client, "agent1@example.com")
    listing = await text(api, "/agent/kb")
    assert 'href="/agent/kb/internal-refund-approval-en"' in listing
    assert 'href="/agent/kb/new"' not in listing
    found = await text(api, "/agent/kb?q=E21+drain")
    assert found.index("washer-e21-en") < found.index("</ol>")
    page = await text(api, "/agent/kb/ac-e21-en")
    assert "<strong>outdoor unit communication fault</strong>" in page
    assert 'href="/agent/kb/ac-e21-zh"' in page
    await text(api, "/agent/kb/new", status=403)
    await text(api, "/agent/kb/ac-e21-en/edit", status=403)
    await text(api, "/agent/kb/nothing", status=404)

    api.client.session.cookie_jar.clear()
    csrf = await sign_in(api.client, "supervisor@example.com")
    form = {
        "csrf_token": csrf,
        "slug": "remote-batteries",
        "title": "Remote control batteries",
        "body": "Use **AAA** batteries. <script>alert(1)</script>",
        "locale": "en",
        "visibility": "public",
        "category": "Air conditioners",
        "tags": "remote, batteries",
        "models": "KFR-35GW/BpTYC1",
    }
    saved = await api.client.post("/agent/kb/new", data=form, allow_redirects=False)
    assert saved.status == 303 and saved.headers["Location"] == "/agent/kb/remote-batteries"
    again = await api.client.post("/agent/kb/new", data=form, allow_redirects=False)
    assert again.status == 400 and "exists already" in await again.text()
    bad = await api.client.post(
        "/agent/kb/new", data={**form, "slug": "x2", "locale": "fr"}, allow_redirects=False
    )
    assert bad.status == 400 and "locale" in await bad.text()

    preview = await api.client.post(
        "/agent/kb/preview",
        data={"body": "# Hi\n<script>x</script>"},
        headers={"X-CSRF-Token": csrf},
    )
    assert await preview.text() == "<h1>Hi</h1>\n<p>&lt;script&gt;x&lt;/script&gt;</p>\n"

    edit = await text(api, "/agent/kb/remote-batteries/edit")
    assert "remote, batteries" in edit and 'hx-post="/agent/kb/preview"' in edit
    changed = await api.client.post(
        "/agent/kb/remote-batteries/edit",
        data={**form, "body": "Use two AA batteries."},
        allow_redirects=False,
    )
    assert changed.status == 303
    page = await text(api, "/agent/kb/remote-batteries")
    assert "two AA batteries" in page and "/agent/kb/remote-batteries/versions/1" in page
    old = await text(api, "/agent/kb/remote-batteries/versions/1")
    assert "<strong>AAA</strong>" in old and "<script>" not in old.split("<main")[1]
    restored = await api.client.post(
        "/agent/kb/remote-batteries/versions/1/restore",
        data={"csrf_token": csrf},
        allow_redirects=False,
    )
    assert restored.status == 303
    hits = await api.get("/api/v1/kb/articles/remote-batteries")
    assert hits["version"] == 3 and "AAA" in hits["body"]
    await text(api, "/agent/kb/remote-batteries/versions/9", status=404)
