"""The ticket page in a real browser (Debian's Chromium driven by Playwright) against the
real server on a free port: hostile customer text runs nothing, a reply typed in the
composer reaches the customer's chat, the draft survives a reload, the customer's next
message appears live, two agents see each other (collision), merge and un-merge through
the customer card; screenshots for the README in English, Chinese and at phone width."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import tickets
from tests.apphelpers import Api, start_api
from tests.channels.chat import fresh_socket, next_frame, send_message
from tests.conftest import Stack
from tests.helpers import inbound

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
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
HAS_STREAM = (ROOT / "agent_ui" / "static" / "realtime.js").exists()
HAS_UNMERGE = hasattr(tickets, "unmerge_customers")

try:
    from playwright.async_api import Browser, Page, async_playwright, expect
except ImportError:  # pragma: no cover - the test extra installs it
    async_playwright = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(
    async_playwright is None or not os.access(CHROMIUM, os.X_OK),
    reason=(
        f"needs Chromium at {CHROMIUM} and Playwright: `apt-get install -y chromium "
        "fonts-wqy-microhei` and `pip install -e '.[test]'` (never `playwright install`)"
    ),
)

XSS_TEXT = (
    "<script>window.__xss='script';alert(1)</script>"
    "<img src=x onerror=\"window.__xss='img';alert(2)\">"
    "<a href=\"javascript:window.__xss='link'\">javascript:alert(3)</a>"
)
XSS_NAME = "<img src=x onerror=\"window.__xss='name';alert(4)\">"
XSS_HTML = (
    "<p>Hello</p><script>window.__xss='mail'</script>"
    '<img src=x onerror="window.__xss=\'mailimg\'"><a href="javascript:alert(5)">x</a>'
)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        await launched.close()


def origin(api: Api) -> str:
    return f"http://127.0.0.1:{api.client.server.port}"


class Watch:
    """Page-level hooks: every dialog and every CSP complaint on the console."""

    def __init__(self, page: Page) -> None:
        self.dialogs: list[str] = []
        self.csp: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", self._console)

    async def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.csp.append(message.text)


async def open_as(
    browser: Browser,
    api: Api,
    who: str,
    path: str,
    *,
    locale: str = "en-US",
    viewport: tuple[int, int] = (1366, 768),
) -> tuple[Page, Watch]:
    context = await browser.new_context(
        locale=locale, viewport={"width": viewport[0], "height": viewport[1]}
    )
    page = await context.new_page()
    watch = Watch(page)
    await page.goto(origin(api) + path)
    await page.locator("#email").fill(who)
    await page.locator("#password").fill("demo")
    await page.locator("button[type=submit]").click()
    await page.wait_for_url(f"**{path}")
    return page, watch


async def test_hostile_text_and_names_run_nothing(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    hostile = await api.runtime.desk.ingest(
        inbound("+8613800138000", XSS_TEXT, display_name=XSS_NAME)
    )
    await api.runtime.desk.ingest(
        tickets.InboundMessage(
            channel=tickets.Channel.EMAIL,
            external_id="<x1@example.com>",
            sender="li@example.com",
            display_name=XSS_NAME,
            subject="<script>alert(6)</script>",
            text="see html",
            html=XSS_HTML,
            received_at=inbound("x").received_at,
            thread=tickets.ThreadHints(message_id="<x1@example.com>"),
        )
    )
    page, watch = await open_as(
        browser, api, "agent1@example.com", f"/agent/tickets/{hostile.number}"
    )
    await expect(page.locator(".timeline .msg-in .msg-text")).to_have_text(XSS_TEXT)
    await expect(page.locator("#customer-h")).to_have_text(XSS_NAME)
    await page.get_by_text("javascript:alert(3)").hover()
    mail = (await api.get("/api/v1/tickets?status=new"))["tickets"]
    mail_number = next(t["number"] for t in mail if t["channel"] == "email")
    await page.goto(origin(api) + f"/agent/tickets/{mail_number}")
    frame = page.frame_locator("iframe.email-html")
    await expect(frame.locator("p").first).to_have_text("Hello")
    await page.wait_for_timeout(300)
    assert await page.evaluate("window.__xss") is None
    assert watch.dialogs == []
    assert watch.csp == [], "our own code never trips the CSP"
    await page.context.close()


async def test_a_reply_in_the_composer_reaches_the_customers_chat(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    ws = await fresh_socket(api)
    await ws.send_json({"type": "hello", "name": "李明"})
    ack = await send_message(ws, "我家空调不制冷了，能上门看看吗？", "c1")
    number = ack["ticket"]
    page, watch = await open_as(browser, api, "agent1@example.com", f"/agent/tickets/{number}")
    box = page.get_by_label("Reply", exact=True)
    await box.fill("草稿：请问")
    await page.reload()
    await expect(page.get_by_label("Reply", exact=True)).to_have_value("草稿：请问")
    await box.fill("您好，请问空调型号是多少？")
    await box.press("Control+Enter")
    await expect(page.locator(".timeline .msg-out .msg-text")).to_have_text(
        "您好，请问空调型号是多少？"
    )
    await expect(box).to_have_value("")
    pushed = await next_frame(ws, "message")
    while pushed["direction"] == "in":  # the echo of the customer's own message
        pushed = await next_frame(ws, "message")
    assert pushed["direction"] == "out" and pushed["text"] == "您好，请问空调型号是多少？"

    await page.get_by_label("Internal note").check()
    await box.fill("客户在保修期内，先安排上门。")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".timeline .msg-note")).to_contain_text("先安排上门")
    await page.reload()
    await expect(page.get_by_label("Reply", exact=True)).to_have_value("")
    await page.screenshot(path=str(SHOTS / "ticket-en.png"))
    assert watch.dialogs == [] and watch.csp == []

    zh, _ = await open_as(
        browser, api, "agent2@example.com", f"/agent/tickets/{number}", locale="zh-CN"
    )
    await expect(zh.get_by_role("button", name="发送")).to_be_visible()
    await expect(zh.get_by_label("回复", exact=True)).to_be_visible()
    await zh.screenshot(path=str(SHOTS / "ticket-zh.png"))
    phone, _ = await open_as(
        browser,
        api,
        "agent2@example.com",
        f"/agent/tickets/{number}",
        locale="zh-CN",
        viewport=(390, 844),
    )
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "no sideways scrolling at phone width"
    await phone.screenshot(path=str(SHOTS / "ticket-phone-zh.png"))
    await ws.close()


@pytest.mark.skipif(not HAS_STREAM, reason="needs the stream")
async def test_the_customers_next_message_appears_without_reload(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    ws = await fresh_socket(api)
    number = (await send_message(ws, "洗衣机漏水", "c1"))["ticket"]
    page, _ = await open_as(browser, api, "agent1@example.com", f"/agent/tickets/{number}")
    await expect(page.locator(".timeline .msg-in")).to_have_count(1)
    await page.wait_for_timeout(500)  # the socket connects
    await send_message(ws, "型号是 XQG100", "c2")
    await expect(page.locator(".timeline .msg-in").last).to_contain_text("XQG100")
    await ws.close()


@pytest.mark.skipif(not HAS_STREAM, reason="needs the stream")
async def test_two_agents_on_one_ticket_see_each_other(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    t = await api.runtime.desk.ingest(inbound("+8613800138000", "洗衣机漏水"))
    first, _ = await open_as(browser, api, "agent1@example.com", f"/agent/tickets/{t.number}")
    second, _ = await open_as(browser, api, "agent2@example.com", f"/agent/tickets/{t.number}")
    await expect(second.locator("#collision")).to_contain_text("is viewing this ticket")
    await expect(first.locator("#collision")).to_contain_text("is viewing this ticket")
    await second.get_by_label("Reply", exact=True).press_sequentially("您好", delay=50)
    await expect(first.locator("#collision")).to_contain_text("is typing a reply")


@pytest.mark.skipif(not HAS_UNMERGE, reason="needs wt/data's tickets.unmerge_customers")
async def test_merge_then_unmerge_from_the_customer_card(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    keep = await api.runtime.desk.ingest(
        inbound("+8613800138000", "空调不制冷", display_name="李明")
    )
    other = await api.runtime.desk.ingest(
        tickets.InboundMessage(
            channel=tickets.Channel.EMAIL,
            external_id="<dup@example.com>",
            sender="li.ming@example.com",
            display_name="Li Ming",
            subject="空调维修",
            text="上次的空调还是不行",
            received_at=inbound("x").received_at,
            thread=tickets.ThreadHints(message_id="<dup@example.com>"),
        )
    )
    page, watch = await open_as(
        browser, api, "supervisor@example.com", f"/agent/tickets/{keep.number}"
    )
    card = page.locator(".customer")
    await expect(card.locator(".past-tickets li")).to_have_count(1)
    await page.get_by_text("Merge a duplicate customer").click()
    await page.get_by_label("Find by email, phone or name").fill("li.ming@example.com")
    await page.get_by_role("button", name="Find", exact=True).click()
    await page.get_by_role("button", name="Merge into this customer").click()
    card = page.locator(".customer")
    await expect(card.locator(".identities")).to_contain_text("li.ming@example.com")
    await expect(card.locator(".past-tickets")).to_contain_text(other.number)
    await page.get_by_role("button", name="Un-merge").click()
    card = page.locator(".customer")
    await expect(card.locator(".past-tickets li")).to_have_count(1)
    await expect(card.locator(".identities")).not_to_contain_text("li.ming@example.com")
    detail = await api.get(f"/api/v1/tickets/{other.number}")
    assert any(i["address"] == "li.ming@example.com" for i in detail["customer"]["identities"])
    assert watch.dialogs == [] and watch.csp == []
