"""``/api/v1/erp/...`` on both stacks: lookups in the issue's JSON shapes, 404 and 503,
findings attached to tickets in the background, and reservations made once per ticket."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from erp.port import (
    ErpTemporaryFailure,
    OrderStatus,
    Part,
    Reservation,
    ReservationLine,
    Warranty,
)
from tests.conftest import Stack
from tests.erp.apphelpers import erp_of, start_erp_api
from tests.helpers import eventually, inbound


class DownErp:
    """An ERP that never answers in time (what a dead network looks like)."""

    name = "down"

    def __init__(self, hang_s: float = 0.0) -> None:
        self.hang_s = hang_s
        self.calls = 0

    async def _fail(self) -> Any:
        self.calls += 1
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        raise ErpTemporaryFailure("connection refused")

    async def part_availability(self, query: str) -> Part:
        return await self._fail()  # type: ignore[no-any-return]

    async def order_status(self, reference: str) -> OrderStatus:
        return await self._fail()  # type: ignore[no-any-return]

    async def warranty(self, serial: str) -> Warranty:
        return await self._fail()  # type: ignore[no-any-return]

    async def reserve_parts(self, ticket: str, lines: Sequence[ReservationLine]) -> Reservation:
        return await self._fail()  # type: ignore[no-any-return]

    async def release_reservation(self, ticket: str) -> Reservation | None:
        return await self._fail()  # type: ignore[no-any-return]

    async def close(self) -> None:
        return None


async def test_lookups_answer_in_the_documented_shapes(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_erp_api(aiohttp_client, stack, redis_prefix)
    part = await api.get("/api/v1/erp/parts/CP-KFR35-01", "agent1@example.com")
    assert part["names"] == {"zh": "变频压缩机", "en": "Inverter compressor"}
    assert part["source"] == "builtin" and part["fetched_at"] and part["stale"] is False
    by_house = {s["warehouse"]: s for s in part["stock"]}
    assert by_house["Shanghai"]["available"] == 0 and by_house["Shanghai"]["incoming_date"]
    assert by_house["Guangzhou"]["available"] == 12
    assert set(by_house["Guangzhou"]) == {
        "warehouse",
        "on_hand",
        "reserved",
        "available",
        "projected",
        "incoming_date",
    }
    assert part["price"] == 860 and part["currency"] == "CNY" and part["lead_time_days"] == 7

    by_model = await api.get("/api/v1/erp/parts/KFR-35GW%2FBpTYC1")
    assert "KFR-35GW/BpTYC1" in by_model["models"]
    order = await api.get("/api/v1/erp/orders/SO-2291")
    assert order["state"] == "shipped"
    assert order["shipments"][0]["tracking_number"] == "SF1402388625331"
    assert order["shipments"][0]["tracking_url"].endswith("SF1402388625331")
    assert order["lines"][0] == {
        "part_number": "CP-KFR35-01",
        "name": "变频压缩机 Inverter compressor",
        "ordered": 1,
        "delivered": 0,
    }
    assert order["promised_date"]
    warranty = await api.get("/api/v1/erp/warranty/SN-WM-2023-0001")
    assert warranty["under_warranty"] is False and warranty["warranty_end"] == "2025-05-19"
    old = await api.get("/api/v1/erp/warranty/SN-WM-2023-0001?on=2024-01-01")
    assert old["under_warranty"] is True and old["on"] == "2024-01-01"
    await api.get("/api/v1/erp/warranty/SN-WM-2023-0001?on=yesterday", status=400)
    warranty = await api.get("/api/v1/erp/warranty/SN-AC-2026-0042")
    assert warranty["under_warranty"] is True and warranty["model"] == "KFR-35GW/BpTYC1"

    missing = await api.get("/api/v1/erp/orders/SO-0001", status=404)
    assert missing["error"]["code"] == "not_found" and "SO-0001" in missing["error"]["message"]
    await api.get("/api/v1/erp/warranty/" + "X" * 200, status=404)
    response = await api.client.get("/api/v1/erp/parts/CP-KFR35-01")
    assert response.status == 401
    status = await api.get("/api/v1/erp/status")
    assert status["source"] == "builtin" and status["available"] is True


async def test_unavailable_is_a_503_with_the_last_good_time_or_a_stale_answer(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_erp_api(
        aiohttp_client, stack, redis_prefix, erp_cache_orders_s=0.0, erp_breaker_failures=2
    )
    good = await api.get("/api/v1/erp/orders/SO-2292")
    service = erp_of(api)
    service.erp.adapter = DownErp()
    stale = await api.get("/api/v1/erp/orders/SO-2292")
    assert stale["stale"] is True and stale["fetched_at"] == good["fetched_at"]
    assert stale["unavailable_since"] and stale["state"] == "delivered"
    response = await api.client.get(
        "/api/v1/erp/orders/SO-2291", headers=api.as_("supervisor@example.com")
    )
    assert response.status == 503 and response.headers["Retry-After"]
    error = (await response.json())["error"]
    assert error["code"] == "erp_unavailable"
    assert error["last_good_at"] == good["fetched_at"] and error["since"]
    status = await api.get("/api/v1/erp/status")
    assert status["available"] is False and status["breaker"] == "opened"


async def test_findings_are_attached_after_ingest(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_erp_api(aiohttp_client, stack, redis_prefix)
    result = await api.runtime.desk.ingest(
        inbound(
            "+8613800138000",
            "你好，订单SO-2291到哪了？空调序列号 SN-AC-2026-0042，型号 KFR-35GW/BpTYC1，"
            "还有 SN-XX-0000-0000",
        )
    )
    number = result.number

    async def findings() -> Any:
        data = await api.get(f"/api/v1/erp/tickets/{number}")
        return data if len(data["items"]) == 4 else None

    data = await eventually(findings)
    items = {(i["kind"], i["ref"]): i for i in data["items"]}
    assert items[("order", "SO-2291")]["data"]["state"] == "shipped"
    assert items[("serial", "SN-AC-2026-0042")]["data"]["under_warranty"] is True
    assert items[("serial", "SN-XX-0000-0000")]["status"] == "not_found"
    model = items[("model", "KFR-35GW/BpTYC1")]
    assert model["data"], model
    fitting = [p["part_number"] for p in model["data"]["parts"]]
    assert fitting == ["CB-KFR35-02", "CP-KFR35-01", "FM-KFR35-03"]
    assert [i["kind"] for i in data["items"]] == ["order", "serial", "serial", "model"]
    assert data["available"] is True
    await api.get(f"/api/v1/erp/tickets/{number}", "agent1@example.com", status=404)
    section = (await api.get(f"/api/v1/tickets/{number}"))["erp"]
    assert section["source"] == "builtin" and len(section["items"]) == 4


async def test_reservations_are_made_once_per_ticket_and_noted(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_erp_api(aiohttp_client, stack, redis_prefix)
    result = await api.runtime.desk.ingest(inbound("+8613800138001", "空调不制冷"))
    path = f"/api/v1/erp/tickets/{result.number}/reservation"
    body = {"lines": [{"part_number": "CP-KFR35-01", "quantity": 1}]}
    first = await api.send("POST", path, body, status=201)
    assert first["state"] == "reserved" and first["ticket"] == result.number
    assert first["lines"] == [
        {"part_number": "CP-KFR35-01", "quantity": 1, "warehouse": "Guangzhou"}
    ]
    again = await api.send("POST", path, body, status=201)
    assert again["reference"] == first["reference"]
    part = await api.get("/api/v1/erp/parts/CP-KFR35-01")
    assert {s["warehouse"]: s["reserved"] for s in part["stock"]}["Guangzhou"] == 3

    other = await api.runtime.desk.ingest(inbound("+8613800138002", "x"))
    too_many = await api.send(
        "POST",
        f"/api/v1/erp/tickets/{other.number}/reservation",
        {"lines": [{"part_number": "CP-KFR35-01", "quantity": 1, "warehouse": "Shanghai"}]},
        status=409,
    )
    assert too_many["error"]["code"] == "erp_rejected"
    bad = await api.send(
        "POST", path, {"lines": [{"part_number": "CP", "quantity": 0}]}, status=400
    )
    assert "quantity" in bad["error"]["message"]

    released = await api.send("DELETE", path, None)
    assert released["state"] == "released"
    await api.send("DELETE", path, None, status=404)
    ticket = await api.get(f"/api/v1/tickets/{result.number}")
    notes = [m["text"] for m in ticket["messages"] if m["direction"] == "note"]
    assert notes == [
        f"Reserved {first['reference']}: 1 × CP-KFR35-01 (Guangzhou)",
        f"Released reservation {first['reference']}: 1 × CP-KFR35-01 (Guangzhou)",
    ]


async def test_ingest_never_waits_on_a_dead_erp(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_erp_api(
        aiohttp_client, stack, redis_prefix, erp_timeout_s=0.2, erp_breaker_failures=3
    )
    down = DownErp(hang_s=30.0)
    erp_of(api).erp.adapter = down
    numbers = []
    for n in range(100):
        result = await api.runtime.desk.ingest(
            inbound(f"+86139{n:08d}", f"我的订单 SO-{3000 + n} 到哪了？")
        )
        numbers.append(result.number)

    async def all_marked() -> bool:
        for number in (numbers[0], numbers[-1]):
            data = await api.get(f"/api/v1/erp/tickets/{number}")
            if not data["items"] or data["items"][0]["status"] != "unavailable":
                return False
        return True

    await eventually(all_marked, timeout=30.0)
    for number in numbers:
        data = await api.get(f"/api/v1/erp/tickets/{number}")
        assert data["available"] is False and data["unavailable_since"]
        assert [i["status"] for i in data["items"]] == ["unavailable"], number
    assert down.calls <= 3 + 2, "the open breaker stops calls to the dead ERP"


async def test_two_workers_examining_one_ticket_at_once_both_succeed(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    """The background consumer and a second worker (or a re-delivery) examine the same new
    ticket together: the findings row is created once, neither fails."""
    api = await start_erp_api(aiohttp_client, stack, redis_prefix)
    service = erp_of(api)
    for n in range(5):
        result = await api.runtime.desk.ingest(
            inbound(f"+86138001381{n:02d}", f"订单 SO-2291 和 SO-2292，序列号 SN-AC-2026-0042 #{n}")
        )
        await asyncio.gather(
            *(service.examine(result.ticket_id, result.number, result.message_id) for _ in range(4))
        )
        section = (await api.get(f"/api/v1/tickets/{result.number}"))["erp"]
        assert {i["ref"] for i in section["items"]} >= {"SO-2291", "SO-2292", "SN-AC-2026-0042"}
