"""A local ERPNext (Frappe REST) for contract tests: the documented paths, token auth and
error bodies (``exc_type``, ``_server_messages`` as JSON of JSON strings), with documents
held in memory. Tests switch on failures: a status to answer (429 with Retry-After, 500),
a delay past the client's timeout."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

KEY, SECRET = "a1b2c3d4e5f6a7b", "0f9e8d7c6b5a4f3"


def frappe_error(status: int, exc_type: str, message: str, **headers: str) -> web.Response:
    """What Frappe answers for an exception: ``exc_type``, ``exception`` and the message
    twice JSON-encoded in ``_server_messages``."""
    inner = json.dumps({"message": message, "title": "Message", "indicator": "red"})
    body = {
        "exc_type": exc_type,
        "exception": f"frappe.exceptions.{exc_type}: {message}",
        "exc": json.dumps(["Traceback (most recent call last): ..."]),
        "_server_messages": json.dumps([inner]),
    }
    return web.json_response(body, status=status, headers=headers or None)


@dataclass
class FakeErpNext:
    docs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    delay_s: float = 0.0
    fail: tuple[int, str, str, dict[str, str]] | None = None
    counter: int = 0

    def add(self, doctype: str, name: str, **fields: Any) -> None:
        self.docs.setdefault(doctype, {})[name] = {"name": name, "docstatus": 0, **fields}

    def of(self, doctype: str) -> Iterator[dict[str, Any]]:
        yield from self.docs.get(doctype, {}).values()

    @web.middleware
    async def gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.calls.append((request.method, request.path))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if request.headers.get("Authorization") != f"token {KEY}:{SECRET}":
            return frappe_error(401, "AuthenticationError", "Invalid login credentials")
        if self.fail is not None:
            status, exc_type, message, headers = self.fail
            return frappe_error(status, exc_type, message, **headers)
        response: web.StreamResponse = await handler(request)
        return response

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.gate])
        app.router.add_get("/api/resource/{doctype}", self.list_docs)
        app.router.add_get("/api/resource/{doctype}/{name}", self.get_doc)
        app.router.add_post("/api/resource/{doctype}", self.insert)
        app.router.add_post("/api/method/frappe.client.cancel", self.cancel)
        return app

    async def get_doc(self, request: web.Request) -> web.Response:
        doctype, name = request.match_info["doctype"], request.match_info["name"]
        doc = self.docs.get(doctype, {}).get(name)
        if doc is None:
            return frappe_error(404, "DoesNotExistError", f"{doctype} {name} not found")
        return web.json_response({"data": doc})

    def _matches(self, doctype: str, doc: dict[str, Any], flt: list[Any]) -> bool:
        if len(flt) == 4:  # a child table's field: [child doctype, field, op, value]
            _child, fieldname, op, value = flt
            rows = doc.get("items") or []
            return any(self._test(row.get(fieldname), op, value) for row in rows)
        fieldname, op, value = flt
        return self._test(doc.get(fieldname), op, value)

    @staticmethod
    def _test(actual: Any, op: str, value: Any) -> bool:
        if op == "=":
            return bool(actual == value)
        if op == "like":
            needle = str(value).strip("%").lower()
            return needle in str(actual or "").lower()
        raise ValueError(op)

    async def list_docs(self, request: web.Request) -> web.Response:
        doctype = request.match_info["doctype"]
        filters = json.loads(request.query.get("filters", "[]"))
        fields = json.loads(request.query.get("fields", '["name"]'))
        limit = int(request.query.get("limit_page_length", "20"))
        rows = [d for d in self.of(doctype) if all(self._matches(doctype, d, f) for f in filters)]
        return web.json_response({"data": [{k: d.get(k) for k in fields} for d in rows[:limit]]})

    async def insert(self, request: web.Request) -> web.Response:
        doctype = request.match_info["doctype"]
        body = await request.json()
        if doctype == "Material Request":
            for item in body.get("items", []):
                bins = [
                    b
                    for b in self.of("Bin")
                    if b["item_code"] == item["item_code"] and b["warehouse"] == item["warehouse"]
                ]
                free = sum(b["actual_qty"] - b["reserved_qty"] for b in bins)
                if not bins or free < item["qty"]:
                    return frappe_error(
                        417,
                        "ValidationError",
                        f"Row #1: <b>{item['item_code']}</b> is short in {item['warehouse']}",
                    )
        self.counter += 1
        name = f"MAT-MR-2026-{self.counter:05d}"
        self.add(doctype, name, **body)
        return web.json_response({"data": self.docs[doctype][name]})

    async def cancel(self, request: web.Request) -> web.Response:
        body = await request.json()
        doc = self.docs.get(body["doctype"], {}).get(body["name"])
        if doc is None:
            return frappe_error(404, "DoesNotExistError", f"{body['name']} not found")
        doc["docstatus"] = 2
        return web.json_response({"message": doc})


def seed(fake: FakeErpNext) -> None:
    """The documents the contract tests read (shaped like ERPNext v15's)."""
    fake.add(
        "Item",
        "CP-KFR35-01",
        item_code="CP-KFR35-01",
        item_name="Inverter compressor",
        item_name_zh="变频压缩机",
        description="Compressor for KFR-35GW/BpTYC1 air conditioners",
        item_group="Spare Parts",
        stock_uom="Nos",
        lead_time_days=7,
        disabled=0,
    )
    for warehouse, actual, reserved, projected in (
        ("Shanghai - SB", 0.0, 0.0, 20.0),
        ("Guangzhou - SB", 14.0, 2.0, 12.0),
    ):
        fake.add(
            "Bin",
            f"bin-{warehouse}",
            item_code="CP-KFR35-01",
            warehouse=warehouse,
            actual_qty=actual,
            reserved_qty=reserved,
            projected_qty=projected,
        )
    fake.add(
        "Item Price",
        "ip-1",
        item_code="CP-KFR35-01",
        selling=1,
        price_list_rate=860.0,
        currency="CNY",
    )
    fake.add(
        "Sales Order",
        "SAL-ORD-2026-00042",
        docstatus=1,
        status="To Bill",
        per_delivered=100.0,
        delivery_date="2026-12-06",
        customer="CUST-0007",
        customer_name="张伟",
        items=[
            {
                "item_code": "CP-KFR35-01",
                "item_name": "Inverter compressor",
                "qty": 1.0,
                "delivered_qty": 1.0,
            }
        ],
    )
    fake.add(
        "Delivery Note",
        "MAT-DN-2026-00017",
        docstatus=1,
        transporter_name="SF Express",
        lr_no="SF1402388625331",
        lr_date="2026-12-03",
        posting_date="2026-12-03",
        items=[{"item_code": "CP-KFR35-01", "against_sales_order": "SAL-ORD-2026-00042"}],
    )
    fake.add(
        "Sales Order",
        "SAL-ORD-2026-00043",
        docstatus=2,
        status="Cancelled",
        per_delivered=0.0,
        items=[],
    )
    fake.add(
        "Serial No",
        "SN-AC-2026-0042",
        serial_no="SN-AC-2026-0042",
        item_code="KFR-35GW/BpTYC1",
        customer="张伟",
        purchase_date="2026-03-15",
        warranty_expiry_date="2029-03-14",
        amc_expiry_date=None,
    )


@asynccontextmanager
async def running(fake: FakeErpNext) -> Any:
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
