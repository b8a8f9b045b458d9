"""Contract tests of the Odoo adapter against a local Odoo fake, over JSON-RPC
(``execute_kw``; errors inside HTTP 200) and JSON-2 (Odoo 19+; errors as 4xx)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import aiohttp
import pytest

from erp.odoo import OdooErp
from erp.port import (
    ErpNotFound,
    ErpRejected,
    ErpTemporaryFailure,
    OrderState,
    ReservationLine,
    Unavailable,
)
from erp.resilience import Policy, ResilientErp
from tests.fakes.odoo import API_KEY, DB, USER, FakeOdoo, running, seed


@pytest.fixture
def fake() -> FakeOdoo:
    fake = FakeOdoo()
    seed(fake)
    return fake


@pytest.fixture(params=["jsonrpc", "json2"])
async def erp(request: pytest.FixtureRequest, fake: FakeOdoo) -> AsyncIterator[OdooErp]:
    async with running(fake) as url, aiohttp.ClientSession() as http:
        yield OdooErp(http, url, DB, USER, API_KEY, request.param)


async def test_part_with_stock_from_internal_quants(erp: OdooErp) -> None:
    part = await erp.part_availability("CP-KFR35-01")
    assert (part.name_zh, part.name_en) == ("变频压缩机", "Inverter compressor")
    levels = {s.warehouse: s for s in part.stock}
    assert set(levels) == {"Shanghai", "Guangzhou"}, "customer locations are not stock"
    assert levels["Guangzhou"].on_hand == 14 and levels["Guangzhou"].reserved == 2
    assert levels["Guangzhou"].available == 12 and levels["Shanghai"].available == 0
    assert part.price == Decimal("860.0") and part.currency == "CNY" and part.lead_time_days == 7
    assert (await erp.part_availability("KFR-35GW/BpTYC1")).part_number == "CP-KFR35-01"
    with pytest.raises(ErpNotFound):
        await erp.part_availability("XX-404")
    (fitting,) = await erp.parts_for_model("KFR-35GW/BpTYC1")
    assert fitting.part_number == "CP-KFR35-01" and fitting.stock
    with pytest.raises(ErpNotFound):
        await erp.parts_for_model("ZZZ-1")


async def test_orders_with_pickings_and_tracking(erp: OdooErp) -> None:
    order = await erp.order_status("S00042")
    assert order.state is OrderState.PARTIALLY_SHIPPED
    assert order.lines[0].part_number == "CP-KFR35-01" and order.lines[0].delivered == 1
    shipment = order.shipments[0]
    assert (shipment.carrier, shipment.tracking_number) == ("SF Express", "SF1402388625331")
    assert shipment.tracking_url and shipment.tracking_url.startswith("https://")
    assert order.promised_date == date(2026, 12, 6) and order.customer == "张伟"
    assert (await erp.order_status("S00043")).state is OrderState.CANCELLED
    with pytest.raises(ErpNotFound):
        await erp.order_status("S09999")


async def test_serials_from_lots(erp: OdooErp) -> None:
    warranty = await erp.warranty("SN-AC-2026-0042")
    assert warranty.model == "KFR-35GW/BpTYC1" and warranty.customer == "张伟"
    assert warranty.under_warranty(date(2026, 12, 4))
    with pytest.raises(ErpNotFound):
        await erp.warranty("SN-XX")


async def test_reservation_is_a_picking_found_again_by_its_origin(
    fake: FakeOdoo, erp: OdooErp
) -> None:
    first = await erp.reserve_parts("SB-1042", [ReservationLine("CP-KFR35-01", Decimal(2))])
    assert first.state == "reserved" and first.reference.startswith("WH/OUT/")
    again = await erp.reserve_parts("SB-1042", [ReservationLine("CP-KFR35-01", Decimal(2))])
    assert again.reference == first.reference and again.replayed
    assert again.lines[0].quantity == 2 and again.lines[0].part_number == "CP-KFR35-01"
    pickings = [p for p in fake.records["stock.picking"].values() if p.get("origin") == "SB-1042"]
    assert len(pickings) == 1 and pickings[0]["state"] == "assigned", "a retry never reserves twice"
    released = await erp.release_reservation("SB-1042")
    assert released is not None and released.state == "released"
    assert pickings[0]["state"] == "cancel"
    assert await erp.release_reservation("SB-1042") is None


async def test_an_odoo_user_error_is_rejected(erp: OdooErp) -> None:
    with pytest.raises(ErpRejected, match="Not enough CP-KFR35-01"):
        await erp.reserve_parts("SB-7", [ReservationLine("CP-KFR35-01", Decimal(99))])


async def test_jsonrpc_errors_arrive_inside_http_200(fake: FakeOdoo) -> None:
    async with running(fake) as url, aiohttp.ClientSession() as http:
        erp = OdooErp(http, url, DB, USER, API_KEY, "jsonrpc")
        await erp.order_status("S00042")  # logs in
        erp.secret = "stale-key"  # the key was revoked after login
        with pytest.raises(ErpTemporaryFailure, match=r"odoo\.exceptions\.AccessDenied"):
            await erp.order_status("S00042")
        refused = OdooErp(http, url, DB, USER, "wrong", "jsonrpc")
        with pytest.raises(ErpTemporaryFailure, match="refused the login"):
            await refused.warranty("SN-AC-2026-0042")


async def test_json2_auth_failure_is_a_401(fake: FakeOdoo) -> None:
    async with running(fake) as url, aiohttp.ClientSession() as http:
        erp = OdooErp(http, url, DB, None, "wrong", "json2")
        with pytest.raises(ErpTemporaryFailure, match="Unauthorized"):
            await erp.order_status("S00042")


async def test_a_slow_odoo_is_unavailable_past_the_timeout(fake: FakeOdoo) -> None:
    fake.delay_s = 0.5
    async with running(fake) as url, aiohttp.ClientSession() as http:
        erp = ResilientErp(
            OdooErp(http, url, DB, USER, API_KEY, "json2"),
            Policy(timeout_s=0.1, retry_base_s=0.0),
        )
        assert isinstance(await erp.part("CP-KFR35-01"), Unavailable)


def test_the_protocol_is_checked() -> None:
    with pytest.raises(ValueError, match="jsonrpc or json2"):
        OdooErp(None, "http://odoo", DB, USER, API_KEY, "xmlrpc")  # type: ignore[arg-type]
