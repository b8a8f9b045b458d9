"""Order-status self-service beyond web chat: a Telegram customer asking where their
order is gets the status back on Telegram, in their language, recorded on the ticket as an
automatic reply (the same path serves SMS and email: ``tickets.reply`` on the ticket's
own channel)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tests.channels.telegram.conftest import (  # noqa: F401  (bot: the fake Bot API fixture)
    SECRET,
    TOKEN,
    Tg,
    bot,
    fixture,
)
from tests.conftest import Stack
from tests.erp.apphelpers import start_erp_api
from tests.fakes.telegram import FakeBotApi
from tests.helpers import eventually


async def test_a_telegram_order_question_is_answered_on_telegram(
    aiohttp_client: Any,
    stack: Stack,
    redis_prefix: str,
    bot: FakeBotApi,  # noqa: F811
    tmp_path: Path,
) -> None:
    api = await start_erp_api(
        aiohttp_client,
        stack,
        redis_prefix,
        erp_self_service="Orders=auto",
        telegram_bot_token=TOKEN,
        telegram_secret_token=SECRET,
        telegram_api_base=bot.base,
        outbox_base_delay_s=0.05,
        blob_dir=str(tmp_path / "blobs"),
    )
    tg = Tg(api, bot)
    update = copy.deepcopy(fixture("message__text"))
    update["message"]["text"] = "你好，我的订单SO-2291到哪了？"
    response = await tg.post(update)
    assert response.status == 200, await response.text()

    async def answered() -> Any:
        texts = [m["text"] for m in bot.sent() if "SO-2291" in m.get("text", "")]
        return texts or None

    [text] = await eventually(answered, timeout=15.0)
    assert text.startswith("您好！订单 SO-2291 已发货。")
    assert "运单号：SF1402388625331" in text

    listing = await api.get("/api/v1/tickets?status=")
    [ticket] = [t for t in listing["tickets"] if t["channel"] == "telegram"]
    detail = await api.get(f"/api/v1/tickets/{ticket['number']}")
    auto = [m for m in detail["messages"] if m["direction"] == "out"]
    assert len(auto) == 1 and auto[0]["author"] == "自动回复 Auto-reply"
    assert auto[0]["channel"] == "telegram"
