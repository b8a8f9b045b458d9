"""Order-status self-service beyond web chat: a Telegram or SMS customer asking where their
order is gets the status back on that channel, in their language, recorded on the ticket as an
automatic reply (email takes the same path: ``tickets.reply`` on the ticket's
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
from tests.channels.twilio.conftest import fixture as sms_fixture
from tests.channels.twilio.conftest import sms_in
from tests.conftest import Stack
from tests.erp.apphelpers import start_erp_api
from tests.fakes.telegram import FakeBotApi
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, NUMBER, PUBLIC_URL, FakeTwilio
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


async def test_an_sms_order_question_is_answered_by_sms(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, aiohttp_server: Any, tmp_path: Path
) -> None:
    fake = await FakeTwilio().start(aiohttp_server)
    api = await start_erp_api(
        aiohttp_client,
        stack,
        redis_prefix,
        erp_self_service="Orders=auto",
        public_url=PUBLIC_URL,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_number=NUMBER,
        twilio_api_base=fake.base,
        outbox_base_delay_s=0.05,
        blob_dir=str(tmp_path / "blobs"),
    )
    await sms_in(api, sms_fixture("sms__text", Body="Hi, where is my order SO-2292?"))

    async def answered() -> Any:
        texts = [m["Body"] for m in fake.messages if "SO-2292" in m.get("Body", "")]
        return texts or None

    [text] = await eventually(answered, timeout=15.0)
    assert "JDVA20871365512" in text
    assert text.startswith("Hello! Order SO-2292 was delivered.")  # English in, English out
    assert fake.messages[-1]["To"] == "+8613800138000"
