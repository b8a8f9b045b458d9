"""The chat page runs under ``script-src 'self'``: no inline script, handler or style in
its HTML, its script and stylesheet served as files, and text only ever set as text."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.apphelpers import Api, start_api
from tests.conftest import Stack


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix)


async def test_the_page_has_a_strict_policy_and_nothing_inline(api: Api) -> None:
    response = await api.client.get("/chat")
    policy = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe-inline" not in policy and directives["object-src"] == "'none'"
    html = await response.text()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all('src="/chat/' in tag for tag in scripts)
    assert re.search(r"<script\b[^>]*>\s*[^<\s]", html) is None  # no inline body
    assert "<style" not in html and " style=" not in html
    assert re.search(r"\son[a-z]+\s*=", html) is None  # no inline handlers

    script = await api.client.get("/chat/chat.js")
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    code = await script.text()
    assert "innerHTML" not in code and "insertAdjacentHTML" not in code
    assert "document.write" not in code and "eval(" not in code
    assert ".onclick" not in code
    css = await api.client.get("/chat/chat.css")
    assert css.headers["Content-Type"].startswith("text/css") and ".msg" in await css.text()
