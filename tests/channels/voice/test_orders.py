"""Order status by phone answered from the ERP room (the builtin adapter with the demo
catalogue), through the real IVR route: the keyed digits find ``SO-2291``; the caller hears
its state and tracking in their language, never the customer's name; an unknown order or
an ERP that cannot answer becomes a call-back."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from channels.twilio.voice_orders import ErpOrderLookup, candidates, spoken
from erp import Answer, ErpNotFound, OrderState, OrderStatus, Shipment, Unavailable
from tests.channels.voice.helpers import call_params, start_phone, texts
from tests.conftest import Stack
from tests.erp.apphelpers import seed_catalogue


async def test_a_known_order_is_spoken_from_the_erp(
    aiohttp_client: Any, aiohttp_server: Any, stack: Stack, redis_prefix: str
) -> None:
    await seed_catalogue(stack.database_url)
    phone = await start_phone(aiohttp_client, aiohttp_server, stack, redis_prefix)
    root = await phone.twiml(
        "/webhooks/twilio/voice/order?lang=zh", call_params("CA300", Digits="2291#")
    )
    said = texts(root, "Say")
    assert said[0].startswith("订单 SO-2291 已发货") and "SF1402388625331" in said[0]
    assert "张伟" not in said[0], "no customer name to whoever keys a number"
    assert root.find("Hangup") is not None
    english = await phone.twiml(
        "/webhooks/twilio/voice/order?lang=en", call_params("CA301", Digits="2292#")
    )
    assert texts(english, "Say")[0] == "Order SO-2292 has been delivered."

    unknown = await phone.twiml(
        "/webhooks/twilio/voice/order?lang=en", call_params("CA302", Digits="9999#")
    )
    assert "An agent will call you back" in texts(unknown, "Say")[0]
    assert (await phone.call("CA302")).callback_due


def test_candidates_cover_the_adapters_numbering() -> None:
    assert candidates("2291") == ["SO-2291", "2291", "S02291"]
    assert candidates("202600042") == ["SO-202600042", "202600042", "SAL-ORD-2026-00042"]


class _Source:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def order(self, reference: str) -> Any:
        self.asked.append(reference)
        found = self.answers.get(reference)
        if found is None:
            raise ErpNotFound(reference)
        return found


NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


async def test_the_lookup_tries_each_numbering_and_gives_up_when_the_erp_is_down() -> None:
    order = OrderStatus(
        "S00042",
        OrderState.ORDERED,
        promised_date=date(2026, 12, 1),
        shipments=(Shipment("SF", None),),
    )
    source = _Source({"S00042": Answer(order, "odoo", NOW)})
    said = await ErpOrderLookup(source)("42", "en")
    assert said == "Order S00042 is confirmed and not shipped yet, expected by December 01, 2026."
    assert source.asked == ["SO-42", "42", "S00042"]
    assert await ErpOrderLookup(_Source({}))("42", "zh") is None
    down = _Source({"SO-42": Unavailable("odoo", "timeout", NOW)})
    assert await ErpOrderLookup(down)("42", "zh") is None


@pytest.mark.parametrize("state", list(OrderState))
def test_every_state_is_spoken_in_both_languages(state: OrderState) -> None:
    order = OrderStatus("SO-1", state, shipments=(Shipment("顺丰", "SF1"),))
    assert "SO-1" in spoken(order, "zh") and "SO-1" in spoken(order, "en")
