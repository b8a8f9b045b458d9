"""The supervisor wallboard in a real browser (Debian's Chromium driven by Playwright):
the waiting count moves live as a chat is offered and accepted (through the socket), and
the screenshots in docs/screenshots/ with a day of demo traffic behind the charts."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from switchboard.app import RUNTIME, Runtime, create_app
from tests.conftest import Stack
from tests.e2e.test_widget import ARGS, CHROMIUM
from tests.helpers import Clock, auth, eventually, inbound, seed_with_tokens
from tickets import Channel
from tickets.staff import load_staff

try:
    from playwright.async_api import Browser, Page, async_playwright, expect
except ImportError:  # pragma: no cover - the test extra installs it
    async_playwright = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
REALTIME = ROOT / "agent_ui" / "static" / "realtime.js"

pytestmark = pytest.mark.skipif(
    async_playwright is None or not os.access(CHROMIUM, os.X_OK),
    reason=(
        f"needs Chromium at {CHROMIUM} and Playwright: `apt-get install -y chromium "
        "fonts-wqy-microhei` and `pip install -e '.[test]'` (never `playwright install`)"
    ),
)

# Tuesday 15:00 in Shanghai (the demo's business calendar): inside business hours, so
# the SLA list has tickets at risk as well as breached ones.
SCENE = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        await launched.close()


async def serve(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, clock: Any = None
) -> tuple[TestClient, dict[str, str]]:  # type: ignore[type-arg]
    tokens = await seed_with_tokens(stack.database_url)
    extra = {"clock": clock} if clock is not None else {}
    app = create_app(stack.settings(), redis_prefix=redis_prefix, **extra)
    return await aiohttp_client(app), tokens


def runtime(client: TestClient) -> Runtime:  # type: ignore[type-arg]
    assert client.app is not None
    found: Runtime = client.app[RUNTIME]
    return found


async def sign_in(page: Page, base: str, email: str, *, zh: bool = False) -> None:
    await page.goto(base + "/")
    await page.get_by_label("邮箱" if zh else "Email").fill(email)
    await page.get_by_label("密码" if zh else "Password").fill("demo")
    await page.get_by_role("button", name="登录" if zh else "Sign in").click()
    await page.wait_for_load_state()
    await page.goto(base + "/supervisor")


@pytest.mark.skipif(not REALTIME.exists(), reason="needs the stream")
async def test_the_waiting_count_rises_and_falls_live(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    client, tokens = await serve(aiohttp_client, stack, redis_prefix)
    base = f"http://127.0.0.1:{client.server.port}"
    agent = auth(tokens["agent1@example.com"])
    assert (await client.post("/api/v1/presence", json={"status": "online"}, headers=agent)).ok
    repairs = next(q.id for q in runtime(client).routing.queues.values() if q.name == "Repairs")

    board = await (await browser.new_context(locale="en")).new_page()
    await sign_in(board, base, "supervisor@example.com")
    waiting = board.locator(f'article[data-queue="{repairs}"] .wb-waiting')
    await expect(waiting).to_have_text("0")

    customer = await (await browser.new_context(locale="zh-CN")).new_page()
    await customer.goto(base + "/chat")
    await customer.locator("#name").fill("李雷")
    await customer.locator("#start").click()
    await customer.locator("#text").fill("空调不制冷了")
    await customer.locator("#text").press("Enter")
    await expect(waiting).to_have_text("1")  # offered, not yet accepted: still waiting

    async def offer() -> list[dict[str, Any]]:
        response = await client.get("/api/v1/offers", headers=agent)
        return (await response.json())["offers"]  # type: ignore[no-any-return]

    (made,) = await eventually(offer)
    assert (await client.post(f"/api/v1/offers/{made['id']}/accept", headers=agent)).ok
    await expect(waiting).to_have_text("0")
    await expect(board.locator('tr[data-agent="agent1@example.com"] .wb-load')).to_contain_text(
        "1/"
    )


_senders = itertools.count(1)
TEXTS = {
    "Repairs": ["空调不制冷了", "洗衣机漏水", "冰箱有异响", "热水器显示E21"],
    "Orders": ["我的订单什么时候发货", "退款什么时候到账", "请开发票", "物流一直没更新"],
}
"""Texts that routing's keywords put in that queue."""
DELAYS = [
    timedelta(seconds=40),
    timedelta(minutes=3),
    timedelta(minutes=8),
    timedelta(minutes=12),
    timedelta(minutes=25),
    timedelta(minutes=50),
    timedelta(hours=2),
    timedelta(hours=6),
]


AGENTS = {"Repairs": ("agent1", "agent2"), "Orders": ("agent3", "agent2")}


async def arrive(
    client: TestClient,  # type: ignore[type-arg]
    clock: Clock,
    at: datetime,
    channel: Channel,
    queue: str,
    answer_after: timedelta | None,
    *,
    solve: bool = True,
) -> None:
    """A customer writes at ``at``; an agent of the queue answers after the delay and,
    when ``solve``, takes and solves the ticket ten minutes later."""
    desk = runtime(client).desk
    clock.now = at
    n = next(_senders)
    sender = {
        Channel.EMAIL: f"customer{n}@example.cn",
        Channel.WEBCHAT: f"visitor-{n}",
    }.get(channel, f"+86139{n:08d}")
    result = await desk.ingest(inbound(sender, TEXTS[queue][n % 4], channel=channel, at=at))
    if answer_after is None:
        return
    email = f"{AGENTS[queue][n % 2]}@example.com"

    async def answer(s: AsyncSession, now: datetime) -> tuple[None, Any]:
        agent = await load_staff(s, await tickets.user_id_by_email(s, email))
        assert agent is not None
        written = await tickets.reply(s, agent, result.number, "您好，我们来看一下。", now)
        return None, written.events

    def change(**fields: Any) -> Any:
        async def work(s: AsyncSession, now: datetime) -> tuple[None, Any]:
            agent = await load_staff(s, await tickets.user_id_by_email(s, email))
            assert agent is not None
            written = await tickets.update_ticket(
                s, agent, result.number, tickets.TicketChanges(**fields), now
            )
            return None, written.events

        return work

    clock.now = at + answer_after
    await desk.write(answer)
    if solve:
        # two writes: routing holds a ticket assigned in the same change that solves it
        await desk.write(change(assignee=email))
        clock.now += timedelta(minutes=10)
        await desk.write(change(status="solved"))
        if channel is not Channel.WEBCHAT and at >= SCENE - timedelta(hours=14) and n % 2:
            score = 5 - (n // 2) % 3

            async def rate(s: AsyncSession, now: datetime) -> tuple[None, Any]:
                rated = await tickets.rate_ticket(
                    s, channel.value, sender, result.ticket_id, score, None, now
                )
                return None, rated

            await desk.write(rate)


async def demo_traffic(client: TestClient, clock: Clock, tokens: dict[str, str]) -> None:  # type: ignore[type-arg]
    """A day of contacts (busier in Shanghai's working hours), answered and mostly
    solved; the last hours' still open, some waiting. Earlier days fill the histogram."""
    channels = [Channel.WEBCHAT, Channel.EMAIL, Channel.SMS, Channel.WEBCHAT, Channel.EMAIL]
    busy = [1, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4, 3, 2, 3, 4, 5, 4, 3, 2, 2, 3, 2, 1, 1]
    counter = itertools.count()
    for hours_back, count in enumerate(reversed(busy), start=1):
        for k in range(count):
            i = next(counter)
            queue = "Orders" if i % 3 == 0 else "Repairs"
            at = SCENE - timedelta(hours=hours_back) + timedelta(minutes=7 + 11 * k)
            recent = hours_back <= 3
            delay = None if recent and i % 2 else DELAYS[i % len(DELAYS)]
            if hours_back <= 8 and delay is not None and delay > timedelta(hours=1):
                delay = timedelta(minutes=15)
            await arrive(client, clock, at, channels[i % 5], queue, delay, solve=not recent)
    for day in range(2, 7):
        for k, delay in enumerate(DELAYS[: 3 + day % 4]):
            at = SCENE - timedelta(days=day, hours=k)
            await arrive(client, clock, at, channels[k % 5], "Repairs", delay)
    # breached: yesterday afternoon, never answered; at risk: 10:30 today in Shanghai
    # (four business hours, due at 15:30)
    await arrive(client, clock, SCENE - timedelta(hours=22), Channel.SMS, "Orders", None)
    risky = SCENE - timedelta(hours=4, minutes=30)
    await arrive(client, clock, risky, Channel.EMAIL, "Repairs", None)
    clock.now = SCENE
    for email, status in (("agent1", "online"), ("agent3", "online"), ("agent2", "away")):
        headers = auth(tokens[f"{email}@example.com"])
        response = await client.post("/api/v1/presence", json={"status": status}, headers=headers)
        assert response.ok


async def shoot(browser: Browser, base: str, name: str, locale: str, size: tuple[int, int]) -> Page:
    context = await browser.new_context(
        locale=locale, viewport={"width": size[0], "height": size[1]}
    )
    page = await context.new_page()
    await page.clock.set_fixed_time(SCENE)
    await sign_in(page, base, "supervisor@example.com", zh=locale.startswith("zh"))
    await expect(page.locator("body[data-charts-ready]")).to_have_count(1)
    await expect(page.locator("#wb-volume canvas")).to_have_count(1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / name))
    await page.screenshot(path=str(SHOTS.parent.parent / "build" / f"full-{name}"), full_page=True)
    return page


async def test_wallboard_screenshots_with_demo_traffic(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    if stack.name != "embedded":
        pytest.skip("screenshots are taken once, on the embedded default")
    clock = Clock(SCENE)
    client, tokens = await serve(aiohttp_client, stack, redis_prefix, clock)
    await demo_traffic(client, clock, tokens)
    base = f"http://127.0.0.1:{client.server.port}"

    async def routed() -> bool:
        admin = auth(tokens["admin@example.com"])
        agents = (await (await client.get("/api/v1/agents", headers=admin)).json())["agents"]
        return any(sum(a["load"].values()) for a in agents)

    await eventually(routed)

    page = await shoot(browser, base, "wallboard-en.png", "en", (1366, 768))
    await expect(page.locator(".wb-sla-breached").first).to_be_visible()
    await expect(page.locator(".wb-sla-warning")).not_to_have_count(0)
    await expect(page.get_by_role("heading", name="SLA at risk and breached")).to_be_visible()
    zh = await shoot(browser, base, "wallboard-zh.png", "zh-CN", (1366, 768))
    await expect(zh.get_by_role("heading", name="SLA 即将超时和已超时")).to_be_visible()
    await expect(zh.get_by_role("button", name="分配").first).to_be_visible()
    phone = await shoot(browser, base, "wallboard-phone-zh.png", "zh-CN", (390, 844))
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the phone layout scrolls sideways ({width}px)"
