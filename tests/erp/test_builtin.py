"""The builtin adapter on the demo catalogue: the README's records, model lookups, and
reservations that a retry never takes twice."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest

from erp.builtin import BuiltinErp
from erp.demo import seed_erp_demo
from erp.port import ErpNotFound, ErpRejected, OrderState, Part, ReservationLine, StockLevel
from tests.helpers import T0
from tickets import Desk


def stock_of(part: Part, warehouse: str) -> StockLevel:
    return next(s for s in part.stock if s.warehouse == warehouse)


async def test_the_readme_records_exist(builtin: BuiltinErp) -> None:
    shipped = await builtin.order_status("SO-2291")
    assert shipped.state is OrderState.SHIPPED
    assert shipped.shipments[0].carrier and shipped.shipments[0].tracking_number
    assert (shipped.shipments[0].tracking_url or "").startswith("https://")
    assert (await builtin.order_status("so-2292")).state is OrderState.DELIVERED

    compressor = await builtin.part_availability("CP-KFR35-01")
    assert compressor.name_zh == "变频压缩机" and compressor.name_en == "Inverter compressor"
    assert "KFR-35GW/BpTYC1" in compressor.models
    shanghai = compressor.stock[[s.warehouse for s in compressor.stock].index("Shanghai")]
    assert shanghai.available == 0
    assert shanghai.incoming_date == T0.date() + timedelta(days=6)
    assert shanghai.projected == 20
    guangzhou = compressor.stock[[s.warehouse for s in compressor.stock].index("Guangzhou")]
    assert guangzhou.available == 12 and guangzhou.on_hand == 14 and guangzhou.reserved == 2
    assert compressor.price == Decimal("860.00") and compressor.currency == "CNY"
    assert compressor.lead_time_days == 7

    today = date(2026, 12, 4)
    assert (await builtin.warranty("SN-AC-2026-0042")).under_warranty(today)
    washer = await builtin.warranty("SN-WM-2023-0001")
    assert not washer.under_warranty(today)
    assert washer.model == "XQG80-BD14126"
    contract = await builtin.warranty("SN-RF-2024-0107")
    assert contract.under_warranty(today), "a service contract covers past the warranty"


async def test_a_model_or_its_series_finds_a_fitting_part(builtin: BuiltinErp) -> None:
    assert (await builtin.part_availability("KFR-35GW/BpFXC1")).models
    part = await builtin.part_availability("KFR-35GW")
    assert "KFR-35GW/BpTYC1" in part.models


async def test_unknown_references_are_not_found(builtin: BuiltinErp) -> None:
    for call, ref in (
        (builtin.part_availability, "XX-0"),
        (builtin.order_status, "SO-0000"),
        (builtin.warranty, "SN-NONE"),
        (builtin.part_availability, "%"),
    ):
        with pytest.raises(ErpNotFound):
            await call(ref)


async def test_seeding_twice_changes_nothing(builtin: BuiltinErp, desk: Desk) -> None:
    async with desk.sessions() as session, session.begin():
        assert not await seed_erp_demo(session, T0.date())


async def test_reservation_is_idempotent_by_ticket_and_release_gives_stock_back(
    builtin: BuiltinErp,
) -> None:
    line = ReservationLine("CP-KFR35-01", Decimal(2))
    first = await builtin.reserve_parts("SB-1042", [line])
    assert first.state == "reserved" and first.lines[0].warehouse == "Guangzhou"
    again = await builtin.reserve_parts("SB-1042", [line])
    assert again == first and again.replayed and not first.replayed
    part = await builtin.part_availability("CP-KFR35-01")
    assert stock_of(part, "Guangzhou").reserved == 4

    released = await builtin.release_reservation("SB-1042")
    assert released is not None and released.state == "released"
    assert await builtin.release_reservation("SB-1042") is None, "releasing twice is a no-op"
    part = await builtin.part_availability("CP-KFR35-01")
    assert stock_of(part, "Guangzhou").reserved == 2
    assert await builtin.release_reservation("SB-9999") is None


async def test_concurrent_retries_reserve_once(builtin: BuiltinErp) -> None:
    line = ReservationLine("DS-XQG80-01", Decimal(3), "Chengdu")
    results = await asyncio.gather(*(builtin.reserve_parts("SB-7", [line]) for _ in range(4)))
    assert len(set(results)) == 1
    part = await builtin.part_availability("DS-XQG80-01")
    assert stock_of(part, "Chengdu").reserved == 3


async def test_reserving_more_than_available_is_rejected(builtin: BuiltinErp) -> None:
    with pytest.raises(ErpRejected, match="only 0 available in Shanghai"):
        await builtin.reserve_parts(
            "SB-8", [ReservationLine("CP-KFR35-01", Decimal(1), "Shanghai")]
        )
    with pytest.raises(ErpRejected, match="whole number"):
        await builtin.reserve_parts("SB-8", [ReservationLine("CP-KFR35-01", Decimal("0.5"))])
    with pytest.raises(ErpNotFound):
        await builtin.reserve_parts("SB-8", [ReservationLine("NOPE", Decimal(1))])
    assert await builtin.release_reservation("SB-8") is None, "nothing was held"
