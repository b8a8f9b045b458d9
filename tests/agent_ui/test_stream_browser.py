"""``agent_ui/static/realtime.js`` in a real browser (Debian's Chromium, Playwright): the
page's socket goes live on the session cookie, every frame becomes an ``sb-<type>`` event
on ``<body>``, and after the server drops the socket the module reconnects with its last
id and the message written during the gap still arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from agent_ui.stream import STREAM, Authenticator
from switchboard.app import RUNTIME, create_app
from tests.conftest import Stack
from tests.e2e.test_widget import ARGS, CHROMIUM
from tests.helpers import inbound, seed_with_tokens
from tickets import StaffUser, authenticate_token

try:
    from playwright.async_api import async_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    async_playwright = None  # type: ignore[assignment]

REALTIME_JS = Path(__file__).resolve().parents[2] / "agent_ui" / "static" / "realtime.js"
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>stream</title>
<script>window.frames_seen = []; window.hellos = 0;
document.addEventListener("DOMContentLoaded", () => {
  document.body.addEventListener("sb-any", (e) => window.frames_seen.push(e.detail));
  document.body.addEventListener("sb-hello", () => { window.hellos += 1; });
});</script>
<script type="module" src="/test/realtime.js"></script></head><body></body></html>"""

pytestmark = pytest.mark.skipif(
    async_playwright is None or not CHROMIUM or not Path(CHROMIUM).exists(),
    reason="needs Chromium and Playwright: `apt-get install -y chromium fonts-wqy-microhei`",
)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        await launched.close()


async def test_the_page_module_goes_live_and_resumes_after_a_drop(
    aiohttp_client: Any, sqlite_url: str, redis_prefix: str, browser: Any
) -> None:
    stack = Stack("embedded", sqlite_url, None)
    tokens = await seed_with_tokens(stack.database_url)
    app = create_app(stack.settings(), redis_prefix=redis_prefix)

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def script(request: web.Request) -> web.Response:
        return web.Response(text=REALTIME_JS.read_text("utf-8"), content_type="text/javascript")

    app.router.add_get("/test/page", page)
    app.router.add_get("/test/realtime.js", script)
    client = await aiohttp_client(app)
    runtime = app[RUNTIME]
    staff = await authenticate_token(runtime.desk, tokens["agent1@example.com"])
    assert staff is not None

    async def cookie(request: web.Request) -> StaffUser | None:
        return staff if request.cookies.get("test_session") == "ok" else None

    app[STREAM].add_authenticator(Authenticator(cookie, browser=True))
    origin = f"http://127.0.0.1:{client.server.port}"
    # The harness page has an inline script; the app's CSP would (rightly) refuse it.
    context = await browser.new_context(bypass_csp=True)
    await context.add_cookies([{"name": "test_session", "value": "ok", "url": origin}])
    tab = await context.new_page()
    await tab.goto(f"{origin}/test/page")
    await tab.wait_for_function("document.body.dataset.stream === 'live' && window.hellos === 1")

    first = await runtime.desk.ingest(inbound("+8613700000001", "空调不制冷"))
    await tab.wait_for_function(
        "n => window.frames_seen.some(f => f.type === 'MessageReceived' && f.data.number === n)",
        arg=first.number,
    )

    assert await app[STREAM].disconnect(staff.id, 1012, "restarting") == 1  # a network blip
    gap = await runtime.desk.ingest(inbound("+8613700000002", "热水器坏了"))
    await tab.wait_for_function(
        "n => window.hellos === 2 && window.frames_seen.some("
        "f => f.type === 'MessageReceived' && f.data.number === n)",
        arg=gap.number,
    )
    assert await tab.evaluate("document.body.dataset.stream") == "live"
    received = await tab.evaluate(
        "window.frames_seen.filter(f => f.type === 'MessageReceived').map(f => f.data.number)"
    )
    assert received.count(first.number) == 1 and received.count(gap.number) == 1
    order = await tab.evaluate(
        "window.frames_seen.filter(f => f.type === 'hello' || f.type === 'MessageReceived')"
        ".map(f => f.type === 'hello' ? 'hello' : f.data.number)"
    )
    # Written while the socket was down, it came back in the replay, before the hello.
    assert order == ["hello", first.number, gap.number, "hello"]
    await context.close()
