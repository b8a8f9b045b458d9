"""The IVR's order-status answer from the ERP room: a caller keys in the digits of an
order number; we try the numbering schemes the ERP adapters use (``SO-2291`` builtin,
``SAL-ORD-2026-00042`` ERPNext, ``S00042`` Odoo, or the digits as they are) and speak the
state of the first order found, in the caller's language.

Only the state, dates and tracking are spoken, never the customer's name or the order's
lines: an order number is all a caller proves. An unknown order, or an ERP that cannot
answer (``Unavailable``), gives None, and the IVR promises (and owes) a call-back.
"""

from __future__ import annotations

import logging
from typing import Protocol

from erp import Answer, ErpError, ErpNotFound, OrderState, OrderStatus, Unavailable

log = logging.getLogger(__name__)

SAYS = {
    OrderState.ORDERED: (
        "订单 {ref} 已确认，尚未发货{promise_zh}。",
        "Order {ref} is confirmed and not shipped yet{promise_en}.",
    ),
    OrderState.PARTIALLY_SHIPPED: (
        "订单 {ref} 已部分发货{tracking_zh}，其余商品{promise_zh}。",
        "Order {ref} is partly shipped{tracking_en}; the rest follows{promise_en}.",
    ),
    OrderState.SHIPPED: (
        "订单 {ref} 已发货{tracking_zh}。",
        "Order {ref} has shipped{tracking_en}.",
    ),
    OrderState.DELIVERED: ("订单 {ref} 已送达。", "Order {ref} has been delivered."),
    OrderState.CANCELLED: ("订单 {ref} 已取消。", "Order {ref} was cancelled."),
}


class OrderSource(Protocol):
    """What the ERP room's service offers (``erp.service.ErpService.order``)."""

    async def order(self, reference: str) -> Answer[OrderStatus] | Unavailable: ...


def candidates(digits: str) -> list[str]:
    """The order references the keyed digits may stand for, most likely first."""
    found = [f"SO-{digits}", digits]
    if len(digits) == 9:
        found.append(f"SAL-ORD-{digits[:4]}-{digits[4:]}")
    if len(digits) <= 5:
        found.append(f"S{digits.zfill(5)}")
    return list(dict.fromkeys(found))


def spoken(order: OrderStatus, language: str) -> str:
    """What the caller hears about ``order``."""
    zh_text, en_text = SAYS[order.state]
    shipment = next((s for s in reversed(order.shipments) if s.tracking_number), None)
    tracking_zh = tracking_en = ""
    if shipment is not None:
        carrier = shipment.carrier or ""
        tracking_zh = f"，{carrier}运单号 {shipment.tracking_number}"
        tracking_en = (
            f" with {carrier or 'the carrier'}, tracking number {shipment.tracking_number}"
        )
    promise_zh = promise_en = ""
    if order.promised_date is not None:
        promise_zh = f"，预计 {order.promised_date:%Y年%m月%d日} 发货"
        promise_en = f", expected by {order.promised_date:%B %d, %Y}"
    text = zh_text if language == "zh" else en_text
    return text.format(
        ref=order.reference,
        tracking_zh=tracking_zh,
        tracking_en=tracking_en,
        promise_zh=promise_zh,
        promise_en=promise_en,
    )


class ErpOrderLookup:
    """An ``OrderLookup`` for ``channels.twilio.voice.Voice`` backed by the ERP room."""

    def __init__(self, source: OrderSource) -> None:
        self.source = source

    async def __call__(self, order_number: str, language: str) -> str | None:
        for reference in candidates(order_number):
            try:
                answer = await self.source.order(reference)
            except ErpNotFound:
                continue
            except ErpError as err:
                log.info("the ERP refused order %s for a caller: %s", reference, err)
                return None
            if isinstance(answer, Unavailable):
                return None
            return spoken(answer.value, language)
        return None
