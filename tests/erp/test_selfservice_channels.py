"""Order-status self-service beyond web chat: a Telegram or SMS customer asking where their
order is gets the status back on that channel, in their language, recorded on the ticket as an
automatic reply (email takes the same path: ``tickets.reply`` on the ticket's
own channel)."""

from __future__ import annotations

import copy
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.channels.email.test_smtp import Sink, send_raw, sink  # noqa: F401  (fixture)
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


async def test_an_email_order_question_is_answered_by_email_in_the_thread(
    aiohttp_client: Any,
    stack: Stack,
    redis_prefix: str,
    sink: Sink,  # noqa: F811
    tmp_path: Path,
) -> None:
    api = await start_erp_api(
        aiohttp_client,
        stack,
        redis_prefix,
        erp_self_service="Orders=auto",
        support_address="service@example.com",
        email_queues="service@example.com=Repairs,orders@example.com=Orders",
        smtp_listen="127.0.0.1:0",
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_tls=False,
        outbox_base_delay_s=0.05,
        blob_dir=str(tmp_path / "blobs"),
    )
    question = EmailMessage()
    question["From"] = "李明 <li.ming@example.cn>"
    question["To"] = "orders@example.com"
    question["Subject"] = "订单查询"
    question["Message-ID"] = "<q-2291@example.cn>"
    question.set_content("您好，我的订单 SO-2291 到哪了？谢谢")
    raw = question.as_bytes(policy=email.policy.SMTP)
    await send_raw(api, raw, to="orders@example.com")

    def text(mail: EmailMessage) -> str:
        body = mail.get_body(("plain",))
        return str(body.get_content()) if body is not None else ""

    async def answered() -> Any:
        return [m for _, m in sink.received if "SO-2291" in text(m)] or None

    [reply] = await eventually(answered, timeout=15.0)
    assert text(reply).startswith("您好！订单 SO-2291 已发货。")
    assert "运单号：SF1402388625331" in text(reply)
    assert reply["To"].addresses[0].addr_spec == "li.ming@example.cn"
    assert reply["In-Reply-To"] == "<q-2291@example.cn>"  # in the customer's thread
    assert reply["Subject"].startswith("Re: 订单查询")
