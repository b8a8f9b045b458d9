"""The ERP panel on the ticket page: findings with warranty, tracking links and stock per
warehouse, "ERP unavailable since …", in Chinese for a Chinese user, the lookup box and
reserving parts from the page."""

from __future__ import annotations

import re
from typing import Any

from erp.panel import safe_url
from tests.agent_ui.webhelpers import sign_in
from tests.conftest import Stack
from tests.erp.apphelpers import erp_of, start_erp_api
from tests.erp.test_api import DownErp
from tests.helpers import eventually, inbound


async def _ticket_with_findings(api: Any, text: str) -> str:
    result = await api.runtime.desk.ingest(inbound("+8613800138009", text))

    async def attached() -> bool:
        data = await api.get(f"/api/v1/erp/tickets/{result.number}")
        return bool(data["items"])

    await eventually(attached)
    return str(result.number)


async def test_the_panel_shows_orders_serials_and_stock(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_erp_api(aiohttp_client, stack, redis_prefix)
    number = await _ticket_with_findings(
        api, "订单 SO-2291 还没到，洗衣机 SN-WM-2023-0001 漏水，要换 DS-XQG80-01 门封圈"
    )
    csrf = await sign_in(api.client, "supervisor@example.com")
    html = await (await api.client.get(f"/agent/tickets/{number}")).text()
    assert "<h2>Parts, orders and warranty</h2>" in html
    panel = html[html.index('class="erp-panel"') :]
    assert (
        'href="https://www.sf-express.com/chn/sc/waybill/waybill-detail/SF1402388625331"' in panel
    )
    assert 'rel="noopener noreferrer"' in panel
    assert "Shipped" in panel and "Out of warranty" in panel
    assert "<code>DS-XQG80-01</code> Door seal" in panel
    assert re.search(r"<td>Shanghai</td><td>36</td><td>40</td><td>4</td>", panel)
    assert "Reserve parts" in panel

    reserved = await api.client.post(
        f"/agent/tickets/{number}/erp/reserve",
        data={"part_number": "DS-XQG80-01", "quantity": "2", "warehouse": "Chengdu"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert reserved.status == 200, await reserved.text()
    assert reserved.headers["HX-Trigger"] == "ticket-changed"
    side = await (await api.client.get(f"/agent/tickets/{number}/side")).text()
    assert "Reserved for this ticket: 2 × DS-XQG80-01 (Chengdu)" in side
    assert re.search(r"<td>Chengdu</td><td>9</td><td>11</td><td>2</td>", side)
    refused = await api.client.post(
        f"/agent/tickets/{number}/erp/reserve",
        data={"part_number": "DP-XQG80-02", "quantity": "1", "warehouse": "Shanghai"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert refused.status == 409 and "release it first" in await refused.text()
    assert "Reserve parts" not in side, "one reservation per ticket: release before another"
    released = await api.client.post(
        f"/agent/tickets/{number}/erp/release",
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert released.status == 200
    refused = await api.client.post(
        f"/agent/tickets/{number}/erp/reserve",
        data={"part_number": "DP-XQG80-02", "quantity": "1", "warehouse": "Shanghai"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert refused.status == 409 and "only 0 available in Shanghai" in await refused.text()

    found = await api.client.get(
        f"/agent/tickets/{number}/erp/lookup", params={"kind": "serial", "q": "SN-AC-2026-0042"}
    )
    assert found.status == 200
    assert "Under warranty" in await found.text()
    missing = await api.client.get(
        f"/agent/tickets/{number}/erp/lookup", params={"kind": "order", "q": "SO-0000"}
    )
    assert "Not known to the ERP." in await missing.text()


async def test_the_panel_speaks_chinese_and_says_since_when_the_erp_is_down(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_erp_api(aiohttp_client, stack, redis_prefix)
    number = await _ticket_with_findings(api, "空调 SN-AC-2026-0042 不制冷")
    await api.send("PATCH", "/api/v1/me", {"locale": "zh_CN"}, who="agent1@example.com")
    await sign_in(api.client, "agent1@example.com")
    html = await (await api.client.get(f"/agent/tickets/{number}")).text()
    assert "<h2>备件、订单与保修</h2>" in html and "在保" in html

    erp_of(api).erp.adapter = DownErp()
    erp_of(api).erp.cache.clear()
    found = await api.client.get(
        f"/agent/tickets/{number}/erp/lookup", params={"kind": "order", "q": "SO-2291"}
    )
    assert "ERP 不可用，自" in await found.text()
    html = await (await api.client.get(f"/agent/tickets/{number}")).text()
    assert re.search(r"ERP 不可用，自 \d\d:\d\d 起", html)


def test_only_web_addresses_become_links() -> None:
    assert safe_url("https://track.example/1")
    assert not safe_url("javascript:alert(1)")
