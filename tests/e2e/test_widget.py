"""The embedded chat widget in a real browser (Debian's Chromium driven by Playwright), on
a shop page of another site: the chat server is ``127.0.0.1``, the shop is ``localhost``,
so the widget's frame is third-party there and the browser keeps no Lax cookie for it.
The widget must still keep its visitor across page loads."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.apphelpers import Api, start_api
from tests.conftest import Stack

CHROMIUM = os.environ.get("SWITCHBOARD_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    from playwright.async_api import Browser, FrameLocator, Page, async_playwright, expect
except ImportError:  # pragma: no cover - the test extra installs it
    async_playwright = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(
    async_playwright is None or not os.access(CHROMIUM, os.X_OK),
    reason=(
        f"needs Chromium at {CHROMIUM} and Playwright: `apt-get install -y chromium "
        "fonts-wqy-microhei` and `pip install -e '.[test]'` (never `playwright install`)"
    ),
)

SHOP = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>小家电商城</title>
</head><body><h1>小家电商城</h1><script src="{chat}/chat/widget.js"></script></body></html>"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        await launched.close()


async def shop_url(aiohttp_server: Any, chat_origin: str) -> str:
    async def shop(request: web.Request) -> web.Response:
        return web.Response(text=SHOP.format(chat=chat_origin), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", shop)
    server = await aiohttp_server(app, host="127.0.0.1")
    return f"http://localhost:{server.port}/"


async def open_widget(page: Page) -> FrameLocator:
    await page.get_by_role("button", name="Chat").click()
    return page.frame_locator("iframe[title=Chat]")


async def test_the_widget_keeps_its_visitor_across_page_loads_on_another_site(
    aiohttp_client: Any, aiohttp_server: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    api: Api = await start_api(aiohttp_client, stack, redis_prefix)
    chat_origin = f"http://127.0.0.1:{api.client.server.port}"
    shop = await shop_url(aiohttp_server, chat_origin)
    context = await browser.new_context(locale="zh-CN")
    page = await context.new_page()
    await page.goto(shop)
    chat = await open_widget(page)
    await chat.locator("#name").fill("李雷")
    await chat.locator("#start").click()
    await chat.locator("#text").fill("空调漏水了")
    await chat.locator("#text").press("Enter")
    await expect(chat.locator(".msg.in .meta")).to_contain_text("已发送")
    (ticket,) = (await api.get("/api/v1/tickets"))["tickets"]
    await api.send(
        "POST",
        f"/api/v1/tickets/{ticket['number']}/replies",
        {"text": "请问是哪个型号？"},
        who="agent1@example.com",
        status=201,
    )
    await expect(chat.locator(".msg.out")).to_contain_text("请问是哪个型号？")

    await page.reload()
    chat = await open_widget(page)
    await expect(chat.locator(".msg.in").first).to_contain_text("空调漏水了")
    await expect(chat.locator(".msg.out")).to_contain_text("请问是哪个型号？")
    await chat.locator("#text").fill("KFR-35GW")
    await chat.locator("#text").press("Enter")
    await expect(chat.locator(".msg.in .meta").last).to_contain_text("已发送")
    listing = (await api.get("/api/v1/tickets"))["tickets"]
    assert [t["number"] for t in listing] == [ticket["number"]]
    detail = await api.get(f"/api/v1/tickets/{ticket['number']}")
    assert [m["text"] for m in detail["messages"]] == ["空调漏水了", "请问是哪个型号？", "KFR-35GW"]

    stranger = await (await browser.new_context(locale="zh-CN")).new_page()
    await stranger.goto(shop)
    other = await open_widget(stranger)
    await expect(other.locator("#intro")).to_be_visible()
    await expect(other.locator(".msg")).to_have_count(0)
    await context.close()
