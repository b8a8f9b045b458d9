"""Contract tests of the ERPNext adapter against a local Frappe REST fake: the documented
paths, token auth, payloads and error shapes (auth failure, 404 serial, 417 validation,
429 with Retry-After, a response slower than the timeout)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import aiohttp
import pytest

from erp.erpnext import ErpNextErp, server_messages
from erp.port import (
    ErpNotFound,
    ErpRejected,
    ErpTemporaryFailure,
    OrderState,
    ReservationLine,
    Unavailable,
)
from erp.resilience import Policy, ResilientErp
from tests.fakes.erpnext import KEY, SECRET, FakeErpNext, running, seed


@pytest.fixture
async def fake() -> FakeErpNext:
    fake = FakeErpNext()
    seed(fake)
    return fake


@pytest.fixture
async def erp(fake: FakeErpNext) -> AsyncIterator[ErpNextErp]:
    async with running(fake) as url, aiohttp.ClientSession() as http:
        yield ErpNextErp(http, url, KEY, SECRET)


async def test_part_with_stock_per_warehouse_price_and_lead_time(erp: ErpNextErp) -> None:
    part = await erp.part_availability("CP-KFR35-01")
    assert (part.name_zh, part.name_en) == ("变频压缩机", "Inverter compressor")
    assert [s.warehouse for s in part.stock] == ["Guangzhou - SB", "Shanghai - SB"]
    levels = {s.warehouse: s for s in part.stock}
    assert levels["Guangzhou - SB"].available == 12 and levels["Guangzhou - SB"].on_hand == 14
    assert levels["Shanghai - SB"].available == 0 and levels["Shanghai - SB"].projected == 20
    assert part.price == Decimal("860.0") and part.currency == "CNY"
    assert part.lead_time_days == 7
    by_model = await erp.part_availability("KFR-35GW/BpTYC1")
    assert by_model.part_number == "CP-KFR35-01"
    with pytest.raises(ErpNotFound):
        await erp.part_availability("XX-404")
    (fitting,) = await erp.parts_for_model("KFR-35GW/BpTYC1")
    assert fitting.part_number == "CP-KFR35-01" and fitting.stock
    with pytest.raises(ErpNotFound):
        await erp.parts_for_model("ZZZ-1")


async def test_orders_with_delivery_notes(erp: ErpNextErp) -> None:
    order = await erp.order_status("SAL-ORD-2026-00042")
    assert order.state is OrderState.SHIPPED
    assert order.shipments[0].carrier == "SF Express"
    assert order.shipments[0].tracking_number == "SF1402388625331"
    assert order.promised_date == date(2026, 12, 6) and order.customer == "张伟"
    assert order.lines[0].delivered == 1
    assert (await erp.order_status("SAL-ORD-2026-00043")).state is OrderState.CANCELLED
    with pytest.raises(ErpNotFound, match="Sales Order SAL-ORD-2026-09999 not found"):
        await erp.order_status("SAL-ORD-2026-09999")


async def test_warranty_and_a_404_serial(erp: ErpNextErp) -> None:
    warranty = await erp.warranty("SN-AC-2026-0042")
    assert warranty.model == "KFR-35GW/BpTYC1"
    assert warranty.under_warranty(date(2026, 12, 4))
    with pytest.raises(ErpNotFound, match="Serial No SN-XX not found"):
        await erp.warranty("SN-XX")


async def test_auth_failure_is_temporary_and_names_the_error(fake: FakeErpNext) -> None:
    async with running(fake) as url, aiohttp.ClientSession() as http:
        erp = ErpNextErp(http, url, KEY, "wrong")
        with pytest.raises(ErpTemporaryFailure, match="401 AuthenticationError"):
            await erp.warranty("SN-AC-2026-0042")


async def test_rate_limit_carries_retry_after(fake: FakeErpNext, erp: ErpNextErp) -> None:
    fake.fail = (429, "TooManyRequestsError", "Too Many Requests", {"Retry-After": "7"})
    with pytest.raises(ErpTemporaryFailure) as caught:
        await erp.order_status("SAL-ORD-2026-00042")
    assert caught.value.retry_after == 7.0
    fake.fail = (500, "Exception", "boom", {})
    with pytest.raises(ErpTemporaryFailure, match="500"):
        await erp.order_status("SAL-ORD-2026-00042")


async def test_a_slow_erpnext_is_unavailable_past_the_timeout(fake: FakeErpNext) -> None:
    fake.delay_s = 0.5
    async with running(fake) as url, aiohttp.ClientSession() as http:
        erp = ResilientErp(
            ErpNextErp(http, url, KEY, SECRET), Policy(timeout_s=0.1, retry_base_s=0.0)
        )
        answer = await erp.order("SAL-ORD-2026-00042")
        assert isinstance(answer, Unavailable) and "0.1 s" in answer.reason


async def test_reservation_is_a_material_request_made_once(
    fake: FakeErpNext, erp: ErpNextErp
) -> None:
    line = ReservationLine("CP-KFR35-01", Decimal(2))
    first = await erp.reserve_parts("SB-1042", [line])
    assert first.reference == "MAT-MR-2026-00001" and first.state == "reserved"
    assert first.lines[0].warehouse == "Guangzhou - SB"
    again = await erp.reserve_parts("SB-1042", [line])
    assert again.reference == first.reference and again.replayed
    inserts = [c for c in fake.calls if c == ("POST", "/api/resource/Material Request")]
    assert len(inserts) == 1, "a retry never reserves twice"
    request = fake.docs["Material Request"][first.reference]
    assert request["title"] == "SB-1042" and request["material_request_type"] == "Material Issue"
    assert request["docstatus"] == 1

    released = await erp.release_reservation("SB-1042")
    assert released is not None and released.state == "released"
    assert fake.docs["Material Request"][first.reference]["docstatus"] == 2
    assert await erp.release_reservation("SB-1042") is None


async def test_a_417_validation_error_is_rejected_with_its_message(erp: ErpNextErp) -> None:
    short = ReservationLine("CP-KFR35-01", Decimal(1), "Shanghai - SB")
    with pytest.raises(ErpRejected, match="Row #1: CP-KFR35-01 is short in Shanghai - SB"):
        await erp.reserve_parts("SB-1043", [short])


def test_server_messages_are_decoded_twice() -> None:
    inner = json.dumps({"message": "<b>Item</b> is disabled"})
    assert server_messages({"_server_messages": json.dumps([inner])}) == ["Item is disabled"]
    assert server_messages({"exception": "frappe.exceptions.ValidationError: x"}) == [
        "frappe.exceptions.ValidationError: x"
    ]
    assert server_messages({"_server_messages": "not json"}) == []
