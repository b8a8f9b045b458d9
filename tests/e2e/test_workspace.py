"""The agent workspace in a real browser (Debian's Chromium driven by Playwright) against
the real server: an agent signs in, goes online, and the offer banner appears live when
a customer writes on /chat; the zh-CN UI shows Chinese labels and the English UI English
ones; the list, the shortcuts overlay and the phone layout work. Writes the screenshots
docs/screenshots/workspace-en.png, workspace-zh.png (1366x768) and
workspace-phone-zh.png (390x844)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.apphelpers import Api, start_api
from tests.channels.chat import fresh_socket, send_message
from tests.conftest import Stack
from tests.e2e.test_widget import ARGS, CHROMIUM
from tests.helpers import inbound
from tickets import Channel

try:
    from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect
except ImportError:  # pragma: no cover - the test extra installs it
    async_playwright = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(
    async_playwright is None or not Path(CHROMIUM).exists(),
    reason=(
        f"needs Chromium at {CHROMIUM} and Playwright: `apt-get install -y chromium "
        "fonts-wqy-microhei` and `pip install -e '.[test]'` (never `playwright install`)"
    ),
)

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
HAS_STREAM = importlib.util.find_spec("agent_ui.stream") is not None

CHATS = [
    ("王芳", "我家空调不制冷了，遥控器显示E5"),
    ("李雷", "洗衣机脱水的时候声音很大"),
    ("Emma Clark", "My dishwasher leaves the plates wet"),
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        await launched.close()


def origin(api: Api) -> str:
    return f"http://127.0.0.1:{api.client.server.port}"


async def write_chat(api: Api, name: str, text: str) -> None:
    """A customer writes on the chat socket, as the /chat page does."""
    ws = await fresh_socket(api)
    try:
        await ws.send_json({"type": "hello", "name": name})
        ack = await send_message(ws, text, f"c{len(name)}")
        assert ack["type"] == "ack", ack
    finally:
        await ws.close()


async def seed_demo(api: Api) -> None:
    for name, text in CHATS:
        await write_chat(api, name, text)
    desk = api.runtime.desk
    await desk.ingest(
        inbound(
            "+8613812345678", "冰箱不制冷，已经两天了", display_name="张伟", channel=Channel.SMS
        )
    )
    await desk.ingest(
        inbound(
            "chen.jing@example.com",
            "热水器漏水，请派师傅上门",
            display_name="陈静",
            channel=Channel.EMAIL,
        )
    )


async def sign_in(page: Page, base: str, email: str) -> None:
    await page.goto(base + "/")
    await page.locator("#email").fill(email)
    await page.locator("#password").fill("demo")
    await page.locator("button[type=submit]").click()
    await page.wait_for_url(re.compile(r"/agent$"))


async def guard(page: Page) -> list[str]:
    """Collects page errors and dialogs: a clean page has none."""
    seen: list[str] = []
    page.on("pageerror", lambda err: seen.append(f"error: {err}"))
    page.on("dialog", lambda d: seen.append(f"dialog: {d.message}"))
    return seen


@pytest.mark.skipif(not HAS_STREAM, reason="needs the stream (GET /api/v1/stream on main)")
async def test_agent_goes_online_and_the_offer_banner_appears_live(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    base = origin(api)
    context = await browser.new_context(locale="en-US", viewport=DESKTOP)
    page = await context.new_page()
    errors = await guard(page)
    await sign_in(page, base, "agent1@example.com")
    await expect(page.get_by_role("heading", name="All open")).to_be_visible()
    await page.get_by_role("button", name="Online").click()
    await expect(page.get_by_role("button", name="Online")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(page.locator("body")).to_have_attribute("data-stream", "live")

    customer = await (await browser.new_context(locale="zh-CN")).new_page()
    await customer.goto(base + "/chat")
    await customer.locator("#name").fill("赵敏")
    await customer.locator("#start").click()
    await customer.locator("#text").fill("空调外机漏水，能上门看看吗")
    await customer.locator("#text").press("Enter")

    offer = page.locator("#offers .offer")
    await expect(offer).to_contain_text("空调外机漏水", timeout=10_000)
    await expect(page.get_by_role("button", name="Accept")).to_be_visible()
    await expect(page.get_by_role("button", name="Reject")).to_be_visible()
    await expect(offer.locator(".countdown")).to_contain_text("left")
    await expect(page.locator("#ticket-list")).to_contain_text("空调外机漏水")
    await expect(page.locator("#views [data-count=unassigned]")).to_have_text("1")
    number = await offer.get_attribute("data-number")
    assert number

    await page.keyboard.press("a")
    await page.wait_for_url(re.compile(rf"/agent/tickets/{number}$"))
    ticket = await api.get(f"/api/v1/tickets/{number}")
    assert ticket["assignee"] == "agent1@example.com"
    assert [e for e in errors if not e.startswith("error")] == []
    await context.close()


async def test_chinese_and_english_workspace_list_shortcuts_and_phone_layout(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    base = origin(api)
    await seed_demo(api)

    english = await browser.new_context(locale="en-US", viewport=DESKTOP)
    page = await english.new_page()
    errors = await guard(page)
    await sign_in(page, base, "agent2@example.com")
    views = page.get_by_role("navigation", name="Views")
    await expect(views.get_by_role("link", name=re.compile("^All open"))).to_have_attribute(
        "aria-current", "page"
    )
    await expect(page.get_by_role("link", name="New ticket")).to_be_visible()
    await expect(page.locator("#ticket-list tr.ticket-row")).to_have_count(5)
    await expect(page.locator("#ticket-list")).to_contain_text("Web chat")
    await page.screenshot(path=str(SHOTS / "workspace-en.png"))
    await page.keyboard.press("j")
    await page.keyboard.press("j")
    await expect(page.locator("tr.ticket-row.selected")).to_have_count(1)
    second = await page.locator("tr.ticket-row").nth(1).get_attribute("data-number")
    assert await page.locator("tr.ticket-row.selected").get_attribute("data-number") == second
    await page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Next ticket in the list")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await page.keyboard.press("/")
    await expect(page.get_by_role("searchbox", name="Search tickets")).to_be_focused()
    await page.keyboard.type("空调")
    await page.keyboard.press("Enter")
    await expect(page.locator("#ticket-list tr.ticket-row")).to_have_count(1)
    await expect(page.locator("#ticket-list")).to_contain_text("我家空调不制冷了")
    await page.get_by_role("link", name="Clear search").click()
    await page.wait_for_url(re.compile(r"/agent\?view=open&sort=sla$"))
    await expect(page.locator("#ticket-list tr.ticket-row")).to_have_count(5)
    await page.keyboard.press("j")
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/agent/tickets/SB-\d+$"))
    await page.goto(base + "/agent")
    await expect(page.locator("#ticket-list tr.ticket-row")).to_have_count(5)
    await page.keyboard.press("n")
    await page.wait_for_url(re.compile(r"/agent/new$"))
    await expect(page.get_by_label("Phone", exact=True)).to_be_visible()
    assert not [e for e in errors if e.startswith("dialog")]
    await english.close()

    chinese = await browser.new_context(locale="zh-CN", viewport=DESKTOP)
    page = await chinese.new_page()
    await sign_in(page, base, "agent2@example.com")
    await expect(page.get_by_role("heading", name="全部未解决")).to_be_visible()
    await expect(page.get_by_role("link", name="新建工单")).to_be_visible()
    await expect(page.get_by_role("button", name="在线")).to_be_visible()
    await expect(page.get_by_role("searchbox", name="搜索工单")).to_be_visible()
    await expect(page.locator("#ticket-list")).to_contain_text("网页聊天")
    await expect(page.locator("body")).not_to_contain_text("All open")
    await page.screenshot(path=str(SHOTS / "workspace-zh.png"))
    await chinese.close()

    phone = await browser.new_context(
        locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    page = await phone.new_page()
    await sign_in(page, base, "agent2@example.com")
    rows = page.locator("#ticket-list tr.ticket-row")
    await expect(rows).to_have_count(5)
    box = await rows.first.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"], "a row fits the screen"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"no sideways scrolling (page is {width}px wide)"
    await page.screenshot(path=str(SHOTS / "workspace-phone-zh.png"))
    await phone.close()
