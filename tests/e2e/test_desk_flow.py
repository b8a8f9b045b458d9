"""The README's walk-through in a real browser, end to end: an agent signs in on the login
page, goes online; a customer writes on /chat; the offer banner appears live; the agent
accepts, answers in the composer; the reply appears in the customer's chat; the customer's
next message appears in the agent's timeline without a reload. Nothing uses curl."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, expect

from tests.apphelpers import start_api
from tests.conftest import Stack
from tests.e2e.test_workspace import DESKTOP, browser, guard, origin, pytestmark, sign_in

__all__ = ["browser", "pytestmark"]


async def test_an_agent_takes_a_chat_and_answers_it_in_the_browser(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    base = origin(api)
    agent_context = await browser.new_context(locale="zh-CN", viewport=DESKTOP)
    agent = await agent_context.new_page()
    problems = await guard(agent)
    await agent.goto(base + "/")
    await expect(agent.get_by_label("邮箱")).to_be_visible()
    await sign_in(agent, base, "agent1@example.com")
    await agent.get_by_role("button", name="在线").click()
    await expect(agent.get_by_role("button", name="在线")).to_have_attribute("aria-pressed", "true")
    await expect(agent.locator("body")).to_have_attribute("data-stream", "live")

    customer = await (await browser.new_context(locale="zh-CN")).new_page()
    customer_problems = await guard(customer)
    await customer.goto(base + "/chat")
    await customer.locator("#name").fill("赵敏")
    await customer.locator("#start").click()
    await customer.locator("#text").fill("我家空调不制冷了")
    await customer.locator("#text").press("Enter")

    offer = agent.locator("#offers .offer")
    await expect(offer).to_contain_text("我家空调不制冷了", timeout=10_000)
    await agent.get_by_role("button", name="接受").click()
    await agent.wait_for_url(re.compile(r"/agent/tickets/SB-\d+$"))
    await expect(agent.locator(".timeline")).to_contain_text("我家空调不制冷了")

    reply = agent.get_by_label("回复", exact=True)
    note = agent.locator("#note-toggle")
    await agent.keyboard.press("i")  # the shortcut for an internal note
    await expect(note).to_be_checked()
    await expect(reply).to_be_focused()
    await agent.locator("h1").first.click()
    await agent.keyboard.press("r")  # and back to a reply
    await expect(note).not_to_be_checked()
    await expect(reply).to_be_focused()
    await reply.fill("您好，请问空调型号是多少？")
    await agent.get_by_role("button", name="发送").click()
    await expect(customer.locator(".msg.out")).to_contain_text(
        "您好，请问空调型号是多少？", timeout=10_000
    )

    await customer.locator("#text").fill("KFR-35GW")
    await customer.locator("#text").press("Enter")
    await expect(agent.locator(".timeline")).to_contain_text("KFR-35GW", timeout=10_000)
    assert [p for p in problems + customer_problems if p.startswith("dialog")] == []
    await agent_context.close()
