"""A local Odoo for contract tests, speaking both external APIs: JSON-RPC (``/jsonrpc``:
``common.login`` and ``object.execute_kw``; errors inside HTTP 200) and JSON-2
(``/json/2/<model>/<method>``, bearer API key, ``X-Odoo-Database``; errors as 4xx/5xx with
``name``/``message``/``arguments``/``context``/``debug``). Records live in memory, with
many2one fields stored as Odoo reads them (``[id, display_name]``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

DB, USER, API_KEY, UID = "switchboard", "bot@example.com", "7c4f0e1d9a8b", 7


class OdooError(Exception):
    def __init__(self, name: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.name, self.message, self.status = name, message, status


def rpc_error(request_id: Any, name: str, message: str) -> web.Response:
    """JSON-RPC: an Odoo exception answered with HTTP 200."""
    return web.json_response(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "error": {
                "code": 200,
                "message": "Odoo Server Error",
                "data": {
                    "name": name,
                    "debug": "Traceback (most recent call last): ...",
                    "message": message,
                    "arguments": [message],
                    "context": {},
                },
            },
        }
    )


def json2_error(status: int, name: str, message: str) -> web.Response:
    return web.json_response(
        {
            "name": name,
            "message": message,
            "arguments": [message, status],
            "context": {},
            "debug": "Traceback (most recent call last): ...",
        },
        status=status,
    )


@dataclass
class FakeOdoo:
    records: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    delay_s: float = 0.0
    next_id: int = 100
    zh_names: dict[int, str] = field(default_factory=dict)

    def add(self, model: str, record_id: int, **values: Any) -> None:
        self.records.setdefault(model, {})[record_id] = {"id": record_id, **values}

    # -- a small ORM -------------------------------------------------------------------

    def _value(self, model: str, record: dict[str, Any], path: str) -> Any:
        if path == "location_id.usage":
            return record.get("location_usage")
        value = record.get(path)
        return (
            value[0]
            if isinstance(value, list) and len(value) == 2 and path.endswith("_id")
            else value
        )

    def _match(self, model: str, record: dict[str, Any], domain: list[Any]) -> bool:
        for fieldname, op, wanted in domain:
            actual = self._value(model, record, fieldname)
            if op == "=" and actual != wanted and not (wanted is False and not actual):
                return False
            if op == "ilike" and str(wanted).lower() not in str(actual or "").lower():
                return False
            if op == "not in" and actual in wanted:
                return False
        return True

    def search_read(
        self,
        model: str,
        domain: list[Any],
        fields: list[str],
        limit: int | None,
        context: dict[str, Any],
    ) -> list[dict[str, Any]]:
        rows = [r for r in self.records.get(model, {}).values() if self._match(model, r, domain)]
        out = []
        for row in rows[:limit] if limit else rows:
            shown = dict(row) if not fields else {f: row.get(f, False) for f in ["id", *fields]}
            if (
                model == "product.product"
                and context.get("lang") == "zh_CN"
                and row["id"] in self.zh_names
            ):
                shown["name"] = self.zh_names[row["id"]]
            out.append(shown)
        return out

    def execute(
        self, model: str, method: str, ids: list[int] | None, params: dict[str, Any]
    ) -> Any:
        if model not in self.records and method != "create":
            raise OdooError("builtins.KeyError", f"Object {model} doesn't exist", 404)
        if method == "search_read":
            return self.search_read(
                model,
                params.get("domain", []),
                params.get("fields", []),
                params.get("limit"),
                params.get("context", {}),
            )
        if method == "create":
            made = []
            for vals in params["vals_list"]:
                made.append(self._create(model, vals))
            return made
        if method in ("action_confirm", "action_assign", "action_cancel"):
            for record_id in ids or []:
                picking = self.records[model].get(record_id)
                if picking is None:
                    raise OdooError(
                        "odoo.exceptions.MissingError", "Record does not exist or has been deleted."
                    )
                picking["state"] = {
                    "action_confirm": "confirmed",
                    "action_assign": "assigned",
                    "action_cancel": "cancel",
                }[method]
            return True
        raise OdooError("builtins.AttributeError", f"The method '{method}' does not exist", 404)

    def _create(self, model: str, vals: dict[str, Any]) -> int:
        self.next_id += 1
        record_id = self.next_id
        if model == "stock.picking":
            for _zero, _zero2, move in vals.get("move_ids", []):
                product = self.records["product.product"][move["product_id"]]
                free = sum(
                    q["quantity"] - q["reserved_quantity"]
                    for q in self.records.get("stock.quant", {}).values()
                    if q["product_id"][0] == product["id"]
                )
                if free < move["product_uom_qty"]:
                    raise OdooError(
                        "odoo.exceptions.UserError",
                        f"Not enough {product['default_code']} in stock to reserve",
                    )
            for _zero, _zero2, move in vals.get("move_ids", []):
                product = self.records["product.product"][move["product_id"]]
                self.next_id += 1
                self.add(
                    "stock.move",
                    self.next_id,
                    picking_id=[record_id, f"WH/OUT/{record_id:05d}"],
                    product_id=[product["id"], f"[{product['default_code']}] {product['name']}"],
                    product_uom_qty=move["product_uom_qty"],
                    warehouse_id=[1, "Shanghai"],
                )
            self.add(
                model,
                record_id,
                name=f"WH/OUT/{record_id:05d}",
                origin=vals.get("origin"),
                state="draft",
                picking_type_id=[vals["picking_type_id"], "Shanghai: Delivery Orders"],
                move_ids=[],
            )
            return record_id
        self.add(model, record_id, **vals)
        return record_id

    # -- HTTP --------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/jsonrpc", self.jsonrpc)
        app.router.add_post("/json/2/{model}/{method}", self.json2)
        return app

    async def jsonrpc(self, request: web.Request) -> web.Response:
        body = await request.json()
        params, request_id = body["params"], body.get("id")
        self.calls.append((params["service"], params["method"]))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if params["service"] == "common" and params["method"] == "login":
            db, login, password = params["args"]
            ok = (db, login, password) == (DB, USER, API_KEY)
            return web.json_response(
                {"jsonrpc": "2.0", "id": request_id, "result": UID if ok else False}
            )
        db, uid, password, model, method, args, kwargs = params["args"]
        if (db, uid, password) != (DB, UID, API_KEY):
            return rpc_error(request_id, "odoo.exceptions.AccessDenied", "Access Denied")
        try:
            result = self.execute(model, method, args[0] if args else None, kwargs)
        except OdooError as err:
            return rpc_error(request_id, err.name, err.message)
        return web.json_response({"jsonrpc": "2.0", "id": request_id, "result": result})

    async def json2(self, request: web.Request) -> web.Response:
        model, method = request.match_info["model"], request.match_info["method"]
        self.calls.append((model, method))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if request.headers.get("Authorization") != f"bearer {API_KEY}":
            return json2_error(401, "werkzeug.exceptions.Unauthorized", "Invalid apikey")
        if request.headers.get("X-Odoo-Database") != DB:
            return json2_error(404, "werkzeug.exceptions.NotFound", "database not found")
        body = await request.json()
        ids = body.pop("ids", None)
        try:
            result = self.execute(model, method, ids, body)
        except OdooError as err:
            return json2_error(err.status, err.name, err.message)
        return web.json_response(result)


def seed(fake: FakeOdoo) -> None:
    fake.add(
        "product.product",
        11,
        default_code="CP-KFR35-01",
        name="Inverter compressor",
        description_sale="Compressor for KFR-35GW/BpTYC1",
        sale_delay=7,
        list_price=860.0,
        currency_id=[7, "CNY"],
    )
    fake.zh_names[11] = "变频压缩机"
    fake.add(
        "stock.quant",
        1,
        product_id=[11, "[CP-KFR35-01] Inverter compressor"],
        warehouse_id=[1, "Shanghai"],
        location_id=[8, "SH/Stock"],
        location_usage="internal",
        quantity=0.0,
        reserved_quantity=0.0,
    )
    fake.add(
        "stock.quant",
        2,
        product_id=[11, "[CP-KFR35-01] Inverter compressor"],
        warehouse_id=[2, "Guangzhou"],
        location_id=[18, "GZ/Stock"],
        location_usage="internal",
        quantity=10.0,
        reserved_quantity=1.0,
    )
    fake.add(
        "stock.quant",
        3,
        product_id=[11, "[CP-KFR35-01] Inverter compressor"],
        warehouse_id=[2, "Guangzhou"],
        location_id=[19, "GZ/Stock/Shelf 2"],
        location_usage="internal",
        quantity=4.0,
        reserved_quantity=1.0,
    )
    fake.add(
        "stock.quant",
        4,
        product_id=[11, "[CP-KFR35-01] Inverter compressor"],
        warehouse_id=False,
        location_id=[5, "Partners/Customers"],
        location_usage="customer",
        quantity=3.0,
        reserved_quantity=0.0,
    )
    fake.add(
        "sale.order",
        42,
        name="S00042",
        state="sale",
        delivery_status="partial",
        commitment_date="2026-12-06 10:00:00",
        expected_date=False,
        partner_id=[9, "张伟"],
    )
    fake.add(
        "sale.order.line",
        1,
        order_id=[42, "S00042"],
        display_type=False,
        product_id=[11, "[CP-KFR35-01] Inverter compressor"],
        name="[CP-KFR35-01] Inverter compressor",
        product_uom_qty=2.0,
        qty_delivered=1.0,
    )
    fake.add(
        "stock.picking",
        61,
        name="WH/OUT/00061",
        sale_id=[42, "S00042"],
        picking_type_code="outgoing",
        state="done",
        carrier_id=[3, "SF Express"],
        carrier_tracking_ref="SF1402388625331",
        carrier_tracking_url="https://www.sf-express.com/chn/sc/waybill/waybill-detail/SF1402388625331",
        date_done="2026-12-03 09:30:00",
        origin="S00042",
    )
    fake.add(
        "sale.order",
        43,
        name="S00043",
        state="cancel",
        delivery_status=False,
        commitment_date=False,
        expected_date=False,
        partner_id=False,
    )
    fake.add(
        "stock.lot",
        5,
        name="SN-AC-2026-0042",
        product_id=[11, "[KFR-35GW/BpTYC1] Air conditioner"],
        x_purchase_date="2026-03-15",
        x_warranty_end="2029-03-14",
        x_contract_end=False,
        x_customer="张伟",
        expiration_date=False,
    )
    fake.add(
        "stock.picking.type",
        2,
        code="outgoing",
        default_location_src_id=[8, "SH/Stock"],
        default_location_dest_id=[5, "Partners/Customers"],
        warehouse_id=[1, "Shanghai"],
    )
    fake.records.setdefault("stock.move", {})


@asynccontextmanager
async def running(fake: FakeOdoo) -> AsyncIterator[str]:
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
