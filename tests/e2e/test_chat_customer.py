"""The customer's chat page in a real browser (Debian's Chromium driven by Playwright)
under its own ``script-src 'self'`` policy: the agent's typing indicator, an uploaded
image shown inline, "seen" reported by the visible page, and the one-tap rating after the
ticket is solved. Any CSP violation or page error fails the test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.apphelpers import Api, start_api
from tests.channels.chat import PNG
from tests.conftest import Stack
from tests.e2e.test_widget import ARGS, CHROMIUM
from tests.helpers import eventually

try:
    from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect
except ImportError:  # pragma: no cover - the test extra installs it
    async_playwright = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(
    async_playwright is None or not os.access(CHROMIUM, os.X_OK),
    reason=f"needs Chromium at {CHROMIUM} and Playwright (see tests/e2e/test_widget.py)",
)

AGENT = "agent1@example.com"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        await launched.close()


async def open_chat(browser: Browser, api: Api, problems: list[str]) -> Page:
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()

    def console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"{msg.text} ({msg.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda err: problems.append(str(err)))
    await page.goto(f"http://127.0.0.1:{api.client.server.port}/chat")
    await page.get_by_label("Name").fill("Ada")
    await page.get_by_role("button", name="Start chat").click()
    await page.get_by_label("Message").fill("My fridge is warm")
    await page.get_by_label("Message").press("Enter")
    await expect(page.locator(".msg.in .meta")).to_contain_text("Sent")
    return page


async def the_ticket(api: Api) -> str:
    (ticket,) = (await api.get("/api/v1/tickets"))["tickets"]
    return str(ticket["number"])


async def test_typing_then_the_reply_with_the_agents_name_and_seen(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    problems: list[str] = []
    page = await open_chat(browser, api, problems)
    number = await the_ticket(api)
    typing = await api.client.post(f"/api/v1/tickets/{number}/typing", headers=api.as_(AGENT))
    assert typing.status == 204
    await expect(page.locator("#typing")).to_have_text("王芳 Wang Fang is typing…")
    reply = await api.send(
        "POST", f"/api/v1/tickets/{number}/replies", {"text": "Which model?"}, who=AGENT, status=201
    )
    await expect(page.locator(".msg.out .body")).to_have_text("Which model?")
    await expect(page.locator(".msg.out .meta")).to_contain_text("王芳 Wang Fang")
    await expect(page.locator("#typing")).to_have_text("")  # the reply ends the indicator

    async def seen() -> Any:
        detail = await api.get(f"/api/v1/tickets/{number}")
        return next(m["seen_at"] for m in detail["messages"] if m["id"] == reply["id"])

    await eventually(seen)
    assert problems == []


async def test_an_uploaded_image_is_shown_in_the_chat(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser, tmp_path: Path
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix, blob_dir=str(tmp_path / "blobs"))
    problems: list[str] = []
    page = await open_chat(browser, api, problems)
    photo = tmp_path / "leak.png"
    photo.write_bytes(PNG)
    await page.locator("#file").set_input_files(str(photo))
    image = page.locator(".msg.in img")
    await expect(image).to_have_attribute("alt", "leak.png")
    await expect(image).to_be_visible()
    loaded = await image.evaluate("img => img.complete && img.naturalWidth")
    assert loaded == 1
    detail = await api.get(f"/api/v1/tickets/{await the_ticket(api)}")
    assert detail["messages"][-1]["attachments"][0]["content_type"] == "image/png"
    assert problems == []


async def test_a_solved_chat_is_rated_with_one_tap(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    problems: list[str] = []
    page = await open_chat(browser, api, problems)
    number = await the_ticket(api)
    await expect(page.locator("#rating")).to_be_hidden()
    await api.send("PATCH", f"/api/v1/tickets/{number}", {"status": "solved"})
    await page.get_by_role("button", name="4 of 5").click()
    await expect(page.locator("#rating-thanks")).to_be_visible()
    await expect(page.get_by_role("button", name="4 of 5")).to_have_attribute(
        "aria-pressed", "true"
    )
    detail = await api.get(f"/api/v1/tickets/{number}")
    assert detail["rating"]["score"] == 4
    await page.get_by_label("Comment (optional)").fill("Quick and kind")
    await page.get_by_role("button", name="Send rating").click()

    async def commented() -> Any:
        return (await api.get(f"/api/v1/tickets/{number}"))["rating"]["comment"]

    assert await eventually(commented) == "Quick and kind"
    assert problems == []
