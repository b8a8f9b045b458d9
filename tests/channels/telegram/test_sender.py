"""Agent replies to Telegram through the outbox and the fake Bot API: the round trip,
long texts in parts, reply threading, and each provider error doing what it should."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

from channels.base import PermanentFailure, TemporaryFailure
from channels.telegram import TelegramSender, split_text
from tests.channels.telegram.conftest import CHAT, TOKEN, Tg
from tests.helpers import eventually
from tickets import AttachmentRef, Channel, OutboundMessage


async def ticket_number(tg: Tg) -> str:
    await tg.deliver("message__text")
    listed = await tg.api.get("/api/v1/tickets", who="admin@example.com")
    number: str = listed["tickets"][0]["number"]
    return number


async def reply(tg: Tg, number: str, text: str, status: int = 201) -> dict[str, Any]:
    answer: dict[str, Any] = await tg.api.send(
        "POST",
        f"/api/v1/tickets/{number}/replies",
        {"text": text},
        who="admin@example.com",
        status=status,
    )
    return answer


async def delivery(tg: Tg, number: str, message_id: int, *statuses: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        ticket = await tg.api.get(f"/api/v1/tickets/{number}", who="admin@example.com")
        found: dict[str, Any] = next(m for m in ticket["messages"] if m["id"] == message_id)
        return found if found["delivery_status"] in statuses else None

    result: dict[str, Any] = await eventually(check, timeout=10.0)
    return result


def sender(tg: Tg) -> TelegramSender:
    telegram = tg.api.runtime.telegram
    assert telegram is not None
    return telegram.sender


def outbound(text: str, key: str, recipient: str = str(CHAT)) -> OutboundMessage:
    return OutboundMessage(
        message_id=1,
        ticket_number="SB-1001",
        channel=Channel.TELEGRAM,
        recipient=recipient,
        text=text,
        html=None,
        idempotency_key=key,
    )


async def test_round_trip_reply_reaches_the_chat_quoting_the_customer(tg: Tg) -> None:
    number = await ticket_number(tg)
    written = await reply(tg, number, "您好，明天上午师傅上门检查。")
    done = await delivery(tg, number, written["id"], "sent")
    [sent] = tg.bot.sent()
    assert int(sent["chat_id"]) == CHAT
    assert sent["text"] == "您好，明天上午师傅上门检查。"
    assert sent["reply_parameters"]["message_id"] == 11  # the customer's message
    assert sent["reply_parameters"]["allow_sending_without_reply"] is True
    assert done["delivery_error"] is None
    second = await reply(tg, number, "另外请准备好购买凭证。")
    await delivery(tg, number, second["id"], "sent")
    assert "reply_parameters" not in tg.bot.sent()[-1]  # quoted once only


async def test_a_long_reply_goes_out_in_parts_within_the_limit(tg: Tg) -> None:
    number = await ticket_number(tg)
    paragraph = "空调维修说明。" * 100  # 700 characters
    text = "\n\n".join([paragraph] * 12)  # about 8,400 characters
    written = await reply(tg, number, text)
    await delivery(tg, number, written["id"], "sent")
    parts = tg.bot.sent()
    assert len(parts) == 3
    assert all(len(p["text"]) <= 4096 for p in parts)
    assert "\n\n".join(p["text"] for p in parts) == text  # cut between paragraphs
    assert "reply_parameters" in parts[0] and all("reply_parameters" not in p for p in parts[1:])


async def test_429_waits_retry_after_then_sends(tg: Tg) -> None:
    tg.bot.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    with pytest.raises(TemporaryFailure) as err:
        await sender(tg).send(outbound("hi", "k-429"))
    assert err.value.retry_after == 1.0
    assert token_free(str(err.value))
    number = await ticket_number(tg)
    tg.bot.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    written = await reply(tg, number, "稍等")
    await delivery(tg, number, written["id"], "sent")
    attempts = [c for c in tg.bot.calls if c.method == "sendMessage"]
    assert len(attempts) == 3  # the direct send's 429, then the reply's 429 and its retry


def token_free(text: str) -> bool:
    return TOKEN not in text and TOKEN.split(":")[1] not in text


async def test_blocked_bot_fails_the_message_and_marks_the_chat_unreachable(tg: Tg) -> None:
    number = await ticket_number(tg)
    tg.bot.blocked.add(CHAT)
    written = await reply(tg, number, "您好")
    failed = await delivery(tg, number, written["id"], "failed")
    assert "blocked the bot" in failed["delivery_error"]
    ticket = await tg.api.get(f"/api/v1/tickets/{number}", who="admin@example.com")
    [identity] = [i for i in ticket["customer"]["identities"] if i["channel"] == "telegram"]
    assert "blocked the bot" in identity["unreachable"]
    refused = await reply(tg, number, "还在吗？", status=400)
    assert "blocked the bot" in refused["error"]["message"]
    # They write again: reachable again, and replies go out.
    tg.bot.blocked.clear()
    body = {
        "update_id": 900000050,
        "message": {
            "message_id": 30,
            "from": {"id": CHAT, "is_bot": False, "first_name": "Wei", "last_name": "Zhang"},
            "chat": {"id": CHAT, "type": "private", "first_name": "Wei"},
            "date": 1764850000,
            "text": "我解除屏蔽了",
        },
    }
    assert (await tg.post(body)).status == 200
    again = await reply(tg, number, "好的，收到")
    await delivery(tg, number, again["id"], "sent")


async def test_chat_not_found_fails_for_good(tg: Tg) -> None:
    number = await ticket_number(tg)
    tg.bot.unknown_chats.add(CHAT)
    written = await reply(tg, number, "您好")
    failed = await delivery(tg, number, written["id"], "failed")
    assert "chat not found" in failed["delivery_error"].lower()
    assert len(tg.bot.sent()) == 1  # tried once, never again
    with pytest.raises(PermanentFailure):
        await sender(tg).send(outbound("x", "k-400"))


async def test_a_retry_after_a_failure_midway_sends_only_the_missing_parts(tg: Tg) -> None:
    text = "\n\n".join(["第一段" * 1000, "第二段" * 1000, "第三段" * 1000])
    assert len(split_text(text)) == 3
    tg.bot.fail_next("sendMessage", 502, "Bad Gateway", skip=1)
    with pytest.raises(TemporaryFailure):
        await sender(tg).send(outbound(text, "k-midway"))
    result = await sender(tg).send(outbound(text, "k-midway"))
    texts = [p["text"] for p in tg.bot.sent()]
    assert texts == ["第一段" * 1000, "第二段" * 1000, "第二段" * 1000, "第三段" * 1000]
    assert result.external_id is not None and result.external_id.startswith(f"{CHAT}:")


async def test_a_bad_recipient_or_an_empty_reply_is_permanent(tg: Tg) -> None:
    with pytest.raises(PermanentFailure):
        await sender(tg).send(outbound("hello", "k-bad", recipient="@name"))
    with pytest.raises(PermanentFailure):
        await sender(tg).send(outbound("   ", "k-empty"))


async def test_files_go_out_as_photo_or_document(tg: Tg) -> None:
    telegram = tg.api.runtime.telegram
    assert telegram is not None and telegram.sender.blobs is not None
    blobs = telegram.sender.blobs
    png = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64
    pdf = b"%PDF-1.4\n" + b"\x02" * 64
    files = (
        AttachmentRef("铭牌.png", "image/png", len(png), await blobs.put(png, "image/png")),
        AttachmentRef(
            "报价.pdf", "application/pdf", len(pdf), await blobs.put(pdf, "application/pdf")
        ),
    )
    message = replace(outbound("请看附件", "k-files"), attachments=files)
    await sender(tg).send(message)
    [photo] = [c for c in tg.bot.calls if c.method == "sendPhoto"]
    [document] = [c for c in tg.bot.calls if c.method == "sendDocument"]
    assert photo.files["photo"] == ("铭牌.png", png)
    assert document.files["document"] == ("报价.pdf", pdf)
    assert [p["text"] for p in tg.bot.sent()] == ["请看附件"]
    await sender(tg).send(message)  # a retry of a message fully sent sends nothing again
    assert len([c for c in tg.bot.calls if c.method in ("sendPhoto", "sendDocument")]) == 2


async def test_the_bot_token_never_reaches_the_log(
    tg: Tg, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    number = await ticket_number(tg)
    tg.bot.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    written = await reply(tg, number, "您好")
    await delivery(tg, number, written["id"], "sent")
    assert caplog.records and all(token_free(r.getMessage()) for r in caplog.records)


async def test_a_photo_telegram_refuses_goes_out_as_a_document(tg: Tg) -> None:
    telegram = tg.api.runtime.telegram
    assert telegram is not None and telegram.sender.blobs is not None
    png = b"\x89PNG\r\n\x1a\n" + b"\x03" * 64
    ref = await telegram.sender.blobs.put(png, "image/png")
    tg.bot.fail_next("sendPhoto", 400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
    message = replace(
        outbound("", "k-photo"), attachments=(AttachmentRef("长图.png", "image/png", 72, ref),)
    )
    await sender(tg).send(message)
    [document] = [c for c in tg.bot.calls if c.method == "sendDocument"]
    assert document.files["document"] == ("长图.png", png)
