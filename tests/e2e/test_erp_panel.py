"""The ERP panel in a real browser (Debian's Chromium through Playwright): a ticket that
mentions an order and a serial shows the order's state with its tracking link and the
serial's warranty; the lookup box answers a part's stock per warehouse; reserving parts
from the panel notes it on the timeline. Screenshots for the README."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, expect

from tests.conftest import Stack
from tests.e2e.test_ticket_page import SHOTS, browser, open_as, pytestmark
from tests.erp.apphelpers import start_erp_api
from tests.helpers import eventually, inbound

__all__ = ["browser", "pytestmark"]


async def test_the_erp_panel_on_a_ticket_with_an_order_and_a_serial(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    api = await start_erp_api(aiohttp_client, stack, redis_prefix)
    result = await api.runtime.desk.ingest(
        inbound(
            "+8613800138000",
            "你好，我的订单 SO-2291 到哪了？另外空调 SN-AC-2026-0042 外机有异响。",
        )
    )

    async def attached() -> bool:
        data = await api.get(f"/api/v1/erp/tickets/{result.number}")
        return len(data["items"]) == 2

    await eventually(attached)
    page, watch = await open_as(
        browser, api, "supervisor@example.com", f"/agent/tickets/{result.number}"
    )
    panel = page.locator('[data-panel="erp"]')
    await expect(panel.locator("h2")).to_have_text("Parts, orders and warranty")
    order = panel.locator('.erp-order[data-ref="SO-2291"]')
    await expect(order.locator(".erp-state-shipped")).to_have_text("Shipped")
    link = order.locator(".erp-shipment a")
    await expect(link).to_have_text("SF1402388625331")
    assert (await link.get_attribute("href") or "").startswith("https://www.sf-express.com/")
    assert await link.get_attribute("rel") == "noopener noreferrer"
    serial = panel.locator('.erp-serial[data-ref="SN-AC-2026-0042"]')
    await expect(serial.locator(".erp-ok")).to_have_text("Under warranty")

    lookup = panel.locator("form.erp-lookup")
    await lookup.locator("select[name=kind]").select_option("part")
    await lookup.locator("input[name=q]").fill("CP-KFR35-01")
    await lookup.locator("button").click()
    answer = panel.locator(".erp-lookup-result .erp-part")
    await expect(answer.locator("tbody tr")).to_have_count(3)
    await expect(answer.locator("tbody tr").filter(has_text="Guangzhou")).to_contain_text("12")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await panel.screenshot(path=str(SHOTS / "erp-panel.png"))
    await page.reload()  # a screenshot leaves Playwright's caret style behind: a fresh page

    # The customer names a part: the panel shows it live (ErpFindingsUpdated on the stream).
    await api.runtime.desk.ingest(
        inbound("+8613800138000", "需要更换压缩机 CP-KFR35-01", external_id="more-1")
    )
    part = page.locator('[data-panel="erp"] .erp-part[data-ref="CP-KFR35-01"]')
    await expect(part).to_be_visible(timeout=10_000)
    await part.locator("select[name=warehouse]").select_option("Guangzhou")
    await part.locator("button", has_text="Reserve parts").click()
    await expect(page.locator(".timeline")).to_contain_text(
        "Reserved RSV-1: 1 × CP-KFR35-01 (Guangzhou)"
    )
    await expect(page.locator('[data-panel="erp"] form.erp-release')).to_contain_text(
        "Reserved for this ticket: 1 × CP-KFR35-01 (Guangzhou)"
    )
    assert watch.dialogs == [] and watch.csp == []
    await page.context.close()
