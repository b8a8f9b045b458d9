"""The knowledge base in a real browser: the public help center (search, an article, a
vote, Chinese, and a ``<script>`` in an article body that runs nothing), and "insert into
reply" from the ticket page's knowledge panel into the composer; screenshots for the
README."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, expect
from sqlalchemy import select

import knowledge
import tickets
from switchboard import db
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.e2e.test_ticket_page import SHOTS, Watch, browser, open_as, origin, pytestmark
from tests.helpers import T0, inbound

__all__ = ["browser", "pytestmark"]

HOSTILE = knowledge.ArticleInput(
    slug="hostile-article",
    title="Remote control batteries",
    body=(
        "Replace both batteries.\n\n<script>window.__xss='script'</script>\n\n"
        "<img src=x onerror=\"window.__xss='img'\">\n\n[click](javascript:window.__xss='link')"
    ),
    locale="en",
    visibility="public",
    category="Air conditioners",
)


async def _with_articles(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    engine = db.create_engine(stack.database_url)
    async with db.transaction(db.session_factory(engine)) as session:
        await knowledge.seed_articles(session, T0)
        await knowledge.save_article(session, HOSTILE, None, T0)
    await engine.dispose()
    return api


async def test_help_center_in_a_browser(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    api = await _with_articles(aiohttp_client, stack, redis_prefix)
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    watch = Watch(page)
    await page.goto(origin(api) + "/help")
    await page.get_by_placeholder("Search the help center").fill("leaking water")
    await page.get_by_role("button", name="Search").click()
    first = page.locator(".help-hits li a").first
    await expect(first).to_have_text("Air conditioner indoor unit is leaking water")
    await expect(page.locator(".help-hits mark").first).to_be_visible()
    await page.screenshot(path=str(SHOTS / "help-search-en.png"))
    await first.click()
    await expect(page.locator("h1")).to_have_text("Air conditioner indoor unit is leaking water")
    await page.get_by_role("button", name="Yes").click()
    await expect(page.get_by_role("status")).to_have_text("Thank you for your feedback.")

    await page.goto(origin(api) + "/help/articles/hostile-article")
    await expect(page.locator(".article-body")).to_contain_text("Replace both batteries.")
    await page.get_by_text("click").click()
    await page.wait_for_timeout(300)
    assert await page.evaluate("window.__xss") is None
    response = await page.goto(origin(api) + "/help/articles/internal-refund-approval-en")
    assert response is not None and response.status == 404

    await page.goto(origin(api) + "/help?lang=zh_CN&q=漏水")
    await expect(page.get_by_role("button", name="搜索")).to_be_visible()
    await expect(page.locator(".help-hits li a").first).to_contain_text("漏水")
    await page.screenshot(path=str(SHOTS / "help-search-zh.png"))
    assert watch.dialogs == [] and watch.csp == []
    await context.close()


async def test_insert_into_reply_from_the_knowledge_panel(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    api = await _with_articles(aiohttp_client, stack, redis_prefix)
    ticket = await api.runtime.desk.ingest(
        inbound("+8613800138000", "My washing machine XQG100-BD14 shows E21 and will not drain")
    )
    page, watch = await open_as(
        browser, api, "agent1@example.com", f"/agent/tickets/{ticket.number}"
    )
    panel = page.locator("[data-panel='kb.suggestions']")
    first = panel.locator(".kb-suggestion").first
    await expect(first.locator("a")).to_have_text("Washing machine shows E21: drain fault")
    box = page.get_by_label("Reply", exact=True)
    await box.fill("Hello,")
    await first.get_by_role("button", name="Insert into reply").click()
    await expect(first.get_by_role("button", name="Inserted")).to_be_disabled()
    value = await box.input_value()
    assert value.startswith("Hello,\nOn a front-loading washer, E21 means draining took too long")
    assert "**" not in value
    await page.screenshot(path=str(SHOTS / "kb-panel-en.png"), full_page=True)

    async def rows(session: Any) -> list[Any]:
        return list((await session.execute(select(knowledge.Insertion))).scalars())

    recorded = await api.runtime.desk.read(rows)
    assert [r.user_id is not None for r in recorded] == [True]

    async def macro(session: Any, now: Any) -> tuple[None, tuple[()]]:
        staff = await tickets.staff_for_token(session, api.tokens["agent1@example.com"])
        assert staff is not None
        await knowledge.add_macro(session, staff, "Visit booked", "{ticket.number}: booked.", now)
        return None, ()

    await api.runtime.desk.write(macro)
    await box.fill("Hi /vis")
    await page.locator("#kb-macro-picker").get_by_role("option", name="Visit booked").click()
    await expect(box).to_have_value(f"Hi {ticket.number}: booked.")
    assert watch.dialogs == [] and watch.csp == []
    await page.context.close()
