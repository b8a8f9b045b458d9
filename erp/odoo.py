"""The Odoo adapter, over either of Odoo's external APIs (``SWITCHBOARD_ERP_PROTOCOL``):

- ``jsonrpc`` (Odoo 14-18, the default): ``POST /jsonrpc`` calling ``common.login`` once
  for the uid, then ``object.execute_kw(db, uid, password, model, method, args, kwargs)``.
  Errors arrive as HTTP 200 with an ``error`` object (``data.name`` is the Python
  exception, e.g. ``odoo.exceptions.AccessDenied``);
- ``json2`` (Odoo 19+): ``POST /json/2/<model>/<method>`` with the named parameters as the
  JSON body, ``Authorization: bearer <api key>`` and ``X-Odoo-Database``. Errors are 4xx/5xx
  with ``{"name", "message", "arguments", "context", "debug"}``.

Where each answer comes from: parts from ``product.product`` (``default_code``; the
Chinese name read with ``lang=zh_CN``; ``sale_delay`` as lead time; ``list_price``), stock
from ``stock.quant`` in internal locations (quantity, reserved_quantity) summed per
warehouse; orders from ``sale.order`` (state, delivery_status, commitment_date), their
lines and outgoing ``stock.picking``s (carrier_id, carrier_tracking_ref,
carrier_tracking_url); serials from ``stock.lot`` (warranty dates from the ``x_`` fields a
service company adds, else the lot's expiration date). A reservation is an outgoing
picking whose ``origin`` is the ticket number, confirmed and assigned (Odoo reserves the
stock); a retry finds it by that origin, release cancels it."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import aiohttp

from erp.port import (
    ErpNotFound,
    ErpRejected,
    ErpTemporaryFailure,
    OrderLine,
    OrderState,
    OrderStatus,
    Part,
    Reservation,
    ReservationLine,
    Shipment,
    StockLevel,
    Warranty,
)
from erp.registry import AdapterContext

NOT_FOUND = {"odoo.exceptions.MissingError"}
REJECTED = {"odoo.exceptions.ValidationError", "odoo.exceptions.UserError", "ValueError"}
AUTH = {
    "odoo.exceptions.AccessDenied",
    "odoo.exceptions.AccessError",
    "werkzeug.exceptions.Unauthorized",
}
_CODE = re.compile(r"^\[(?P<code>[^\]]+)\]\s*(?P<name>.*)$")
_ids = itertools.count(1)


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, False) else 0))
    except ArithmeticError:
        return Decimal(0)


def _text(value: Any) -> str | None:
    """Odoo answers ``false`` for an empty field."""
    return None if value in (None, False, "") else str(value)


def _date(value: Any) -> date | None:
    raw = _text(value)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def _many2one(value: Any) -> tuple[int | None, str | None]:
    if isinstance(value, list) and len(value) == 2:
        return int(value[0]), str(value[1])
    return None, None


def _error(name: str, message: str, retry_after: float | None = None) -> Exception:
    if name in NOT_FOUND:
        return ErpNotFound(message)
    if name in AUTH:
        return ErpTemporaryFailure(f"Odoo refused the credentials ({name}): {message}")
    if name in REJECTED:
        return ErpRejected(message)
    return ErpTemporaryFailure(f"Odoo error {name}: {message}", retry_after=retry_after)


class OdooErp:
    name = "odoo"

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        database: str,
        username: str | None,
        secret: str,
        protocol: str = "jsonrpc",
    ) -> None:
        if protocol not in ("jsonrpc", "json2"):
            raise ValueError(f"SWITCHBOARD_ERP_PROTOCOL must be jsonrpc or json2, not {protocol!r}")
        self.http = http
        self.base = base_url.rstrip("/")
        self.database = database
        self.username = username
        self.secret = secret
        self.protocol = protocol
        self._uid: int | None = None
        self._login = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}

    # -- the two protocols ---------------------------------------------------------------

    async def _post(
        self, path: str, body: Any, headers: Mapping[str, str]
    ) -> tuple[int, Any, str | None]:
        try:
            async with self.http.post(self.base + path, json=body, headers=headers) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                try:
                    payload = await response.json(content_type=None)
                except ValueError:
                    payload = None
        except (aiohttp.ClientError, TimeoutError) as err:
            raise ErpTemporaryFailure(f"Odoo unreachable: {type(err).__name__}") from err
        return status, payload, retry_after

    async def _jsonrpc(self, service: str, method: str, args: list[Any]) -> Any:
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
            "id": next(_ids),
        }
        status, payload, retry_after = await self._post("/jsonrpc", body, {})
        wait = float(retry_after) if retry_after and retry_after.isdigit() else None
        if status >= 400 or not isinstance(payload, dict):
            raise ErpTemporaryFailure(f"Odoo answered HTTP {status}", retry_after=wait)
        error = payload.get("error")
        if isinstance(error, dict):  # errors come inside HTTP 200
            found = error.get("data")
            data: dict[str, Any] = found if isinstance(found, dict) else {}
            raise _error(
                str(data.get("name") or ""),
                str(data.get("message") or error.get("message") or "Odoo error"),
            )
        return payload.get("result")

    async def _uid_for_jsonrpc(self) -> int:
        async with self._login:
            if self._uid is None:
                uid = await self._jsonrpc(
                    "common", "login", [self.database, self.username or "", self.secret]
                )
                if not isinstance(uid, int) or isinstance(uid, bool):
                    raise ErpTemporaryFailure("Odoo refused the login (wrong user or API key)")
                self._uid = uid
            return self._uid

    async def _call(
        self, model: str, method: str, *, ids: list[int] | None = None, **params: Any
    ) -> Any:
        if self.protocol == "json2":
            headers = {
                "Authorization": f"bearer {self.secret}",
                "X-Odoo-Database": self.database,
            }
            body = {**params, **({"ids": ids} if ids is not None else {})}
            status, payload, retry_after = await self._post(
                f"/json/2/{model}/{method}", body, headers
            )
            if status < 400:
                return payload
            wait = float(retry_after) if retry_after and retry_after.isdigit() else None
            name = str(payload.get("name") or "") if isinstance(payload, dict) else ""
            message = str(payload.get("message") or "") if isinstance(payload, dict) else ""
            if status == 404 and not name:
                raise ErpNotFound(f"{model}.{method}: not found")
            if status == 429 or status >= 500:
                raise ErpTemporaryFailure(f"Odoo error {status} {name}: {message}", wait)
            raise _error(name or f"HTTP {status}", message or f"HTTP {status}", wait)
        uid = await self._uid_for_jsonrpc()
        args = [ids] if ids is not None else []
        return await self._jsonrpc(
            "object", "execute_kw", [self.database, uid, self.secret, model, method, args, params]
        )

    async def _search_read(
        self,
        model: str,
        domain: list[Any],
        fields: Sequence[str],
        *,
        limit: int | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"domain": domain, "fields": list(fields)}
        if limit is not None:
            params["limit"] = limit
        if context:
            params["context"] = dict(context)
        found = await self._call(model, "search_read", **params)
        return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []

    # -- the port ----------------------------------------------------------------------

    async def _product(self, query: str) -> dict[str, Any]:
        fields = [
            "id",
            "default_code",
            "name",
            "sale_delay",
            "list_price",
            "currency_id",
            "description_sale",
        ]
        found = await self._search_read(
            "product.product", [["default_code", "=", query]], fields, limit=1
        )
        if not found:
            found = await self._search_read(
                "product.product", [["description_sale", "ilike", query]], fields, limit=1
            )
        if not found:
            raise ErpNotFound(f"no product or model {query!r}")
        return found[0]

    async def part_availability(self, query: str) -> Part:
        product = await self._product(query)
        pid = int(product["id"])
        quants, chinese = await asyncio.gather(
            self._search_read(
                "stock.quant",
                [["product_id", "=", pid], ["location_id.usage", "=", "internal"]],
                ["warehouse_id", "location_id", "quantity", "reserved_quantity"],
            ),
            self._search_read(
                "product.product", [["id", "=", pid]], ["name"], context={"lang": "zh_CN"}
            ),
        )
        per: dict[str, list[Decimal]] = {}
        for quant in quants:
            _wid, warehouse = _many2one(quant.get("warehouse_id"))
            _lid, location = _many2one(quant.get("location_id"))
            key = warehouse or location or "?"
            totals = per.setdefault(key, [Decimal(0), Decimal(0)])
            totals[0] += _decimal(quant.get("quantity"))
            totals[1] += _decimal(quant.get("reserved_quantity"))
        stock = tuple(
            StockLevel(
                warehouse=name,
                on_hand=on_hand,
                reserved=reserved,
                available=max(Decimal(0), on_hand - reserved),
                projected=on_hand - reserved,
            )
            for name, (on_hand, reserved) in sorted(per.items())
        )
        _cid, currency = _many2one(product.get("currency_id"))
        name_en = str(product.get("name") or "")
        lead = product.get("sale_delay")
        return Part(
            part_number=str(product.get("default_code") or query),
            name_zh=str(chinese[0].get("name") or name_en) if chinese else name_en,
            name_en=name_en,
            models=(),
            stock=stock,
            lead_time_days=int(lead) if isinstance(lead, int | float) and lead else None,
            price=_decimal(product["list_price"]) if product.get("list_price") else None,
            currency=currency,
            extra={"odoo_id": pid},
        )

    async def parts_for_model(self, model: str) -> tuple[Part, ...]:
        """Products whose sales description names the model (at most ten)."""
        found = await self._search_read(
            "product.product", [["description_sale", "ilike", model]], ["default_code"], limit=10
        )
        codes = [str(f["default_code"]) for f in found if f.get("default_code")]
        if not codes:
            raise ErpNotFound(f"no product for model {model!r}")
        return tuple(await asyncio.gather(*(self.part_availability(c) for c in codes)))

    async def order_status(self, reference: str) -> OrderStatus:
        found = await self._search_read(
            "sale.order",
            [["name", "=", reference]],
            [
                "id",
                "name",
                "state",
                "delivery_status",
                "commitment_date",
                "expected_date",
                "partner_id",
            ],
            limit=1,
        )
        if not found:
            raise ErpNotFound(f"no sale order {reference!r}")
        order = found[0]
        oid = int(order["id"])
        lines, pickings = await asyncio.gather(
            self._search_read(
                "sale.order.line",
                [["order_id", "=", oid], ["display_type", "=", False]],
                ["product_id", "name", "product_uom_qty", "qty_delivered"],
            ),
            self._search_read(
                "stock.picking",
                [["sale_id", "=", oid], ["picking_type_code", "=", "outgoing"]],
                [
                    "name",
                    "state",
                    "carrier_id",
                    "carrier_tracking_ref",
                    "carrier_tracking_url",
                    "date_done",
                ],
            ),
        )
        _pid, partner = _many2one(order.get("partner_id"))
        return OrderStatus(
            reference=str(order["name"]),
            state=order_state(order, pickings),
            lines=tuple(_order_line(line) for line in lines),
            shipments=tuple(
                Shipment(
                    _many2one(p.get("carrier_id"))[1],
                    _text(p.get("carrier_tracking_ref")),
                    _text(p.get("carrier_tracking_url")),
                    _at(p.get("date_done")),
                )
                for p in pickings
                if p.get("state") == "done"
            ),
            promised_date=_date(order.get("commitment_date") or order.get("expected_date")),
            customer=partner,
        )

    async def warranty(self, serial: str) -> Warranty:
        found = await self._search_read("stock.lot", [["name", "=", serial]], [], limit=1)
        if not found:
            raise ErpNotFound(f"no serial number {serial!r}")
        lot = found[0]
        _pid, product = _many2one(lot.get("product_id"))
        model = product or ""
        matched = _CODE.match(model)
        return Warranty(
            serial=str(lot.get("name")),
            model=matched.group("code") if matched else model,
            customer=_text(lot.get("x_customer")) or _many2one(lot.get("partner_id"))[1],
            purchase_date=_date(lot.get("x_purchase_date")),
            warranty_end=_date(lot.get("x_warranty_end") or lot.get("expiration_date")),
            contract_end=_date(lot.get("x_contract_end")),
        )

    async def _held(self, ticket: str) -> dict[str, Any] | None:
        found = await self._search_read(
            "stock.picking",
            [["origin", "=", ticket], ["state", "not in", ["cancel", "done"]]],
            ["id", "name", "state", "picking_type_id", "move_ids"],
            limit=1,
        )
        return found[0] if found else None

    async def _lines_of(self, picking: Mapping[str, Any]) -> tuple[ReservationLine, ...]:
        moves = await self._search_read(
            "stock.move",
            [["picking_id", "=", int(picking["id"])]],
            ["product_id", "product_uom_qty", "warehouse_id"],
        )
        return tuple(
            ReservationLine(
                _order_code(m.get("product_id")),
                _decimal(m.get("product_uom_qty")),
                _many2one(m.get("warehouse_id"))[1],
            )
            for m in moves
        )

    async def reserve_parts(self, ticket: str, lines: Sequence[ReservationLine]) -> Reservation:
        async with self._locks.setdefault(ticket, asyncio.Lock()):
            held = await self._held(ticket)
            if held is not None:
                return Reservation(
                    ticket, str(held["name"]), "reserved", await self._lines_of(held), replayed=True
                )
            types = await self._search_read(
                "stock.picking.type",
                [["code", "=", "outgoing"]],
                ["id", "default_location_src_id", "default_location_dest_id", "warehouse_id"],
                limit=1,
            )
            if not types:
                raise ErpRejected("Odoo has no outgoing operation type to reserve from")
            kind = types[0]
            source, target = (
                _many2one(kind.get("default_location_src_id"))[0],
                _many2one(kind.get("default_location_dest_id"))[0],
            )
            moves = []
            for line in lines:
                product = await self._product(line.part_number)
                moves.append(
                    [
                        0,
                        0,
                        {
                            "name": f"{ticket}: {line.part_number}",
                            "product_id": int(product["id"]),
                            "product_uom_qty": float(line.quantity),
                            "location_id": source,
                            "location_dest_id": target,
                        },
                    ]
                )
            created = await self._call(
                "stock.picking",
                "create",
                vals_list=[
                    {
                        "origin": ticket,
                        "picking_type_id": int(kind["id"]),
                        "location_id": source,
                        "location_dest_id": target,
                        "move_ids": moves,
                    }
                ],
            )
            ids = [int(i) for i in (created if isinstance(created, list) else [created])]
            await self._call("stock.picking", "action_confirm", ids=ids)
            await self._call("stock.picking", "action_assign", ids=ids)
            picking = await self._held(ticket)
            if picking is None:
                raise ErpTemporaryFailure("Odoo lost the picking it just made")
            warehouse = _many2one(kind.get("warehouse_id"))[1]
            return Reservation(
                ticket,
                str(picking["name"]),
                "reserved",
                tuple(replace(line, warehouse=line.warehouse or warehouse) for line in lines),
            )

    async def release_reservation(self, ticket: str) -> Reservation | None:
        held = await self._held(ticket)
        if held is None:
            return None
        lines = await self._lines_of(held)
        await self._call("stock.picking", "action_cancel", ids=[int(held["id"])])
        return Reservation(ticket, str(held["name"]), "released", lines)

    async def close(self) -> None:
        return None  # the HTTP session is shared and closed by its owner


def _order_code(product: Any) -> str:
    _pid, display = _many2one(product)
    matched = _CODE.match(display or "")
    return matched.group("code") if matched else (display or "")


def _order_line(line: Mapping[str, Any]) -> OrderLine:
    _pid, display = _many2one(line.get("product_id"))
    matched = _CODE.match(display or "")
    return OrderLine(
        matched.group("code") if matched else (display or ""),
        matched.group("name") if matched else str(line.get("name") or ""),
        _decimal(line.get("product_uom_qty")),
        _decimal(line.get("qty_delivered")),
    )


def order_state(order: Mapping[str, Any], pickings: Sequence[Mapping[str, Any]]) -> OrderState:
    if order.get("state") == "cancel":
        return OrderState.CANCELLED
    delivery = order.get("delivery_status")
    if delivery == "full":
        return OrderState.DELIVERED
    if delivery == "partial":
        return OrderState.PARTIALLY_SHIPPED
    if any(p.get("state") == "done" for p in pickings):
        return OrderState.SHIPPED
    return OrderState.ORDERED


def _at(value: Any) -> datetime | None:
    raw = _text(value)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw.replace(" ", "T")).replace(tzinfo=UTC)
    except ValueError:
        return None


def make(context: AdapterContext) -> OdooErp:
    """The entry point (``switchboard.erp: odoo``)."""
    protocol = context.protocol or "jsonrpc"
    if not (context.url and context.database and context.api_key):
        raise ValueError(
            "SWITCHBOARD_ERP=odoo needs SWITCHBOARD_ERP_URL, SWITCHBOARD_ERP_DATABASE and "
            "SWITCHBOARD_ERP_API_KEY (and SWITCHBOARD_ERP_USERNAME for jsonrpc)"
        )
    if protocol == "jsonrpc" and not context.username:
        raise ValueError("SWITCHBOARD_ERP=odoo over jsonrpc needs SWITCHBOARD_ERP_USERNAME")
    return OdooErp(
        context.http, context.url, context.database, context.username, context.api_key, protocol
    )
