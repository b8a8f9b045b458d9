"""The ERPNext adapter: Frappe's REST API (``/api/resource/<DocType>``, ``/api/method/...``)
with token authentication (``Authorization: token <api_key>:<api_secret>``).

Where each answer comes from:
- parts: ``Item`` (item_code, item_name, ``item_name_zh`` when the site has that custom
  field, lead_time_days), stock per warehouse from ``Bin`` (actual_qty, reserved_qty,
  projected_qty), the selling price from ``Item Price``. A product model is looked up as an
  item whose description mentions it;
- orders: ``Sales Order`` (status, per_delivered, delivery_date, items with delivered_qty)
  and its submitted ``Delivery Note``s (transporter_name, lr_no as the tracking number);
- warranty: ``Serial No`` (item_code, warranty_expiry_date, amc_expiry_date);
- reservations: a submitted ``Material Request`` (type Material Issue) titled with the
  ticket number, found again by that title so a retry never makes a second one; release
  cancels it (``frappe.client.cancel``).

Frappe's errors arrive as JSON with ``exc_type`` and ``_server_messages`` (a JSON list of
JSON-encoded message objects: decoded twice). They become our errors here: 404 →
``ErpNotFound``, 417 (ValidationError) → ``ErpRejected``, 401/403, 429 (with Retry-After)
and 5xx → ``ErpTemporaryFailure``. aiohttp is the only HTTP client; the session is shared."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

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

_TAGS = re.compile(r"<[^>]+>")


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value is not None else 0))
    except ArithmeticError:
        return Decimal(0)


def _date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def server_messages(body: Mapping[str, Any]) -> list[str]:
    """The human messages of a Frappe error body (``_server_messages`` is JSON of a list
    of JSON strings), else its ``exception`` / ``message``."""
    found: list[str] = []
    raw = body.get("_server_messages")
    if isinstance(raw, str):
        try:
            for item in json.loads(raw):
                decoded = json.loads(item) if isinstance(item, str) else item
                text = decoded.get("message") if isinstance(decoded, dict) else str(decoded)
                if text:
                    found.append(_TAGS.sub("", str(text)).strip())
        except (ValueError, TypeError, AttributeError):
            pass
    if not found:
        for key in ("exception", "message"):
            if isinstance(body.get(key), str) and body[key]:
                found.append(_TAGS.sub("", body[key]).strip())
                break
    return found


class ErpNextErp:
    name = "erpnext"

    def __init__(
        self, http: aiohttp.ClientSession, base_url: str, api_key: str, api_secret: str
    ) -> None:
        self.http = http
        self.base = base_url.rstrip("/")
        self._auth = f"token {api_key}:{api_secret}"
        self._locks: dict[str, asyncio.Lock] = {}

    # -- the protocol ------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        headers = {"Authorization": self._auth, "Accept": "application/json"}
        try:
            async with self.http.request(
                method, self.base + path, params=params, json=body, headers=headers
            ) as response:
                text = await response.text()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as err:
            raise ErpTemporaryFailure(f"ERPNext unreachable: {type(err).__name__}") from err
        try:
            payload = json.loads(text) if text else {}
        except ValueError:
            payload = {}
        if status < 400:
            return payload
        messages = server_messages(payload) if isinstance(payload, dict) else []
        kind = payload.get("exc_type") if isinstance(payload, dict) else None
        reason = "; ".join(messages) or f"HTTP {status}"
        if status == 404 or kind == "DoesNotExistError":
            raise ErpNotFound(reason)
        if status in (401, 403):
            raise ErpTemporaryFailure(f"ERPNext refused the API key ({status} {kind}): {reason}")
        if status == 429:
            try:
                wait = float(retry_after) if retry_after else None
            except ValueError:
                wait = None
            raise ErpTemporaryFailure(f"ERPNext rate limit: {reason}", retry_after=wait)
        if status >= 500:
            raise ErpTemporaryFailure(f"ERPNext error {status}: {reason}")
        raise ErpRejected(reason)

    def _resource(self, doctype: str, name: str | None = None) -> str:
        path = "/api/resource/" + quote(doctype, safe="")
        return path if name is None else path + "/" + quote(name, safe="")

    async def _doc(self, doctype: str, name: str) -> dict[str, Any]:
        payload = await self._call("GET", self._resource(doctype, name))
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            raise ErpNotFound(f"{doctype} {name} not found")
        return data

    async def _list(
        self,
        doctype: str,
        filters: list[list[Any]],
        fields: Sequence[str],
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        payload = await self._call(
            "GET",
            self._resource(doctype),
            params={
                "filters": json.dumps(filters),
                "fields": json.dumps(list(fields)),
                "limit_page_length": str(limit),
            },
        )
        data = payload.get("data") if isinstance(payload, dict) else None
        return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []

    # -- the port ----------------------------------------------------------------------

    async def _item(self, query: str) -> dict[str, Any]:
        try:
            return await self._doc("Item", query)
        except ErpNotFound:
            pattern = "%" + query.replace("%", "").replace("_", "") + "%"
            found = await self._list(
                "Item", [["description", "like", pattern], ["disabled", "=", 0]], ["name"], 1
            )
            if not found:
                raise ErpNotFound(f"no item or model {query!r}") from None
            return await self._doc("Item", str(found[0]["name"]))

    async def part_availability(self, query: str) -> Part:
        item = await self._item(query)
        code = str(item.get("item_code") or item["name"])
        bins, prices = await asyncio.gather(
            self._list(
                "Bin",
                [["item_code", "=", code]],
                ["warehouse", "actual_qty", "reserved_qty", "projected_qty"],
            ),
            self._list(
                "Item Price",
                [["item_code", "=", code], ["selling", "=", 1]],
                ["price_list_rate", "currency"],
                1,
            ),
        )
        stock = tuple(
            StockLevel(
                warehouse=str(b.get("warehouse")),
                on_hand=_decimal(b.get("actual_qty")),
                reserved=_decimal(b.get("reserved_qty")),
                available=max(
                    Decimal(0), _decimal(b.get("actual_qty")) - _decimal(b.get("reserved_qty"))
                ),
                projected=_decimal(b.get("projected_qty")),
            )
            for b in sorted(bins, key=lambda b: str(b.get("warehouse")))
        )
        price = prices[0] if prices else {}
        name = str(item.get("item_name") or code)
        lead = item.get("lead_time_days")
        return Part(
            part_number=code,
            name_zh=str(item.get("item_name_zh") or name),
            name_en=name,
            models=(),
            stock=stock,
            lead_time_days=int(lead) if isinstance(lead, int | float) and lead else None,
            price=_decimal(price["price_list_rate"]) if price.get("price_list_rate") else None,
            currency=price.get("currency") or None,
            extra={"item_group": item.get("item_group"), "stock_uom": item.get("stock_uom")},
        )

    async def parts_for_model(self, model: str) -> tuple[Part, ...]:
        """Items whose description names the model (at most ten)."""
        pattern = "%" + model.replace("%", "").replace("_", "") + "%"
        found = await self._list(
            "Item", [["description", "like", pattern], ["disabled", "=", 0]], ["name"], 10
        )
        if not found:
            raise ErpNotFound(f"no item for model {model!r}")
        return tuple(await asyncio.gather(*(self.part_availability(str(f["name"])) for f in found)))

    async def order_status(self, reference: str) -> OrderStatus:
        order = await self._doc("Sales Order", reference)
        notes = await self._list(
            "Delivery Note",
            [
                ["Delivery Note Item", "against_sales_order", "=", order["name"]],
                ["docstatus", "=", 1],
            ],
            ["name", "transporter_name", "lr_no", "lr_date", "posting_date"],
        )
        return OrderStatus(
            reference=str(order["name"]),
            state=order_state(order),
            lines=tuple(
                OrderLine(
                    str(i.get("item_code")),
                    str(i.get("item_name") or ""),
                    _decimal(i.get("qty")),
                    _decimal(i.get("delivered_qty")),
                )
                for i in order.get("items") or []
                if isinstance(i, dict)
            ),
            shipments=tuple(
                Shipment(
                    n.get("transporter_name") or None,
                    n.get("lr_no") or n.get("name"),
                    None,
                    _at(n.get("lr_date") or n.get("posting_date")),
                )
                for n in notes
            ),
            promised_date=_date(order.get("delivery_date")),
            customer=order.get("customer_name") or order.get("customer"),
        )

    async def warranty(self, serial: str) -> Warranty:
        doc = await self._doc("Serial No", serial)
        return Warranty(
            serial=str(doc.get("serial_no") or doc["name"]),
            model=str(doc.get("item_code") or ""),
            customer=doc.get("customer_name") or doc.get("customer"),
            purchase_date=_date(doc.get("purchase_date")),
            warranty_end=_date(doc.get("warranty_expiry_date")),
            contract_end=_date(doc.get("amc_expiry_date")),
        )

    async def _held(self, ticket: str) -> dict[str, Any] | None:
        found = await self._list(
            "Material Request", [["title", "=", ticket], ["docstatus", "=", 1]], ["name"], 1
        )
        return await self._doc("Material Request", str(found[0]["name"])) if found else None

    def _reservation(self, ticket: str, doc: Mapping[str, Any], state: str) -> Reservation:
        return Reservation(
            ticket=ticket,
            reference=str(doc["name"]),
            state=state,
            lines=tuple(
                ReservationLine(str(i.get("item_code")), _decimal(i.get("qty")), i.get("warehouse"))
                for i in doc.get("items") or []
                if isinstance(i, dict)
            ),
        )

    async def reserve_parts(self, ticket: str, lines: Sequence[ReservationLine]) -> Reservation:
        async with self._locks.setdefault(ticket, asyncio.Lock()):
            held = await self._held(ticket)
            if held is not None:
                return replace(self._reservation(ticket, held, "reserved"), replayed=True)
            today = datetime.now(UTC).date().isoformat()
            items = []
            for line in lines:
                warehouse = line.warehouse or await self._best_warehouse(line)
                items.append(
                    {
                        "item_code": line.part_number,
                        "qty": float(line.quantity),
                        "warehouse": warehouse,
                        "schedule_date": today,
                    }
                )
            payload = await self._call(
                "POST",
                self._resource("Material Request"),
                body={
                    "title": ticket,
                    "material_request_type": "Material Issue",
                    "transaction_date": today,
                    "schedule_date": today,
                    "docstatus": 1,
                    "items": items,
                },
            )
            return self._reservation(ticket, payload["data"], "reserved")

    async def _best_warehouse(self, line: ReservationLine) -> str:
        part = await self.part_availability(line.part_number)
        best = max(part.stock, key=lambda s: s.available, default=None)
        if best is None or best.available < line.quantity:
            raise ErpRejected(f"{line.part_number}: not enough in any warehouse")
        return best.warehouse

    async def release_reservation(self, ticket: str) -> Reservation | None:
        held = await self._held(ticket)
        if held is None:
            return None
        await self._call(
            "POST",
            "/api/method/frappe.client.cancel",
            body={"doctype": "Material Request", "name": held["name"]},
        )
        return self._reservation(ticket, held, "released")

    async def close(self) -> None:
        return None  # the HTTP session is shared and closed by its owner


def order_state(order: Mapping[str, Any]) -> OrderState:
    status = str(order.get("status") or "")
    delivered = _decimal(order.get("per_delivered"))
    if order.get("docstatus") == 2 or status == "Cancelled":
        return OrderState.CANCELLED
    if status in ("Completed", "Closed") and delivered >= 100:
        return OrderState.DELIVERED
    if delivered >= 100:
        return OrderState.SHIPPED
    if delivered > 0:
        return OrderState.PARTIALLY_SHIPPED
    return OrderState.ORDERED


def _at(value: Any) -> datetime | None:
    day = _date(value)
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


def make(context: AdapterContext) -> ErpNextErp:
    """The entry point (``switchboard.erp: erpnext``)."""
    if not (context.url and context.api_key and context.api_secret):
        raise ValueError(
            "SWITCHBOARD_ERP=erpnext needs SWITCHBOARD_ERP_URL, SWITCHBOARD_ERP_API_KEY and "
            "SWITCHBOARD_ERP_API_SECRET"
        )
    return ErpNextErp(context.http, context.url, context.api_key, context.api_secret)
