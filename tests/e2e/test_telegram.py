"""Telegram in a real browser: a customer's text and photo arrive through the webhook, the
agent sees the photo inline on the ticket page (no CSP complaint), answers in the composer,
and the fake Bot API receives ``sendMessage`` for that chat; the timeline says sent."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect

from tests.apphelpers import start_api
from tests.channels.telegram.conftest import CHAT, SECRET, TOKEN, Tg, bot, fixture  # noqa: F401
from tests.conftest import Stack
from tests.e2e.test_ticket_page import browser, open_as, pytestmark  # noqa: F401
from tests.fakes.telegram import FakeBotApi
from tests.helpers import eventually


def png(width: int, height: int) -> bytes:
    """A real (grey) PNG, so the browser decodes it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def test_telegram_photo_inline_and_reply_reaches_the_chat(
    aiohttp_client: Any,
    stack: Stack,
    redis_prefix: str,
    browser: Browser,  # noqa: F811
    bot: FakeBotApi,  # noqa: F811
    tmp_path: Path,
) -> None:
    api = await start_api(
        aiohttp_client,
        stack,
        redis_prefix,
        telegram_bot_token=TOKEN,
        telegram_secret_token=SECRET,
        telegram_api_base=bot.base,
        blob_dir=str(tmp_path / "blobs"),
    )
    tg = Tg(api, bot)
    bot.add_file("AgACAgIAAxkBAAIBbWd-large", png(64, 48), "photos/file_7.png")
    first = await tg.deliver("message__text")
    await tg.deliver("message__photo")
    listed = await api.get("/api/v1/tickets", who="admin@example.com")
    number = listed["tickets"][0]["number"]
    assert first["outcome"] == "ingested"

    page, watch = await open_as(browser, api, "agent1@example.com", f"/agent/tickets/{number}")
    photo = page.locator(".tg-photos img")
    await expect(photo).to_have_count(1)
    await expect(page.locator(".timeline .badge.channel-telegram").first).to_have_text("Telegram")
    box = page.get_by_label("Reply", exact=True)
    await box.fill("收到照片，师傅明天上午到。")
    await box.press("Control+Enter")
    await expect(page.locator(".timeline .msg-out .msg-text")).to_have_text(
        "收到照片，师傅明天上午到。"
    )

    async def sent() -> list[dict[str, Any]]:
        return [m for m in bot.sent() if m["text"] == "收到照片，师傅明天上午到。"]

    [message] = await eventually(sent, timeout=10.0)
    assert int(message["chat_id"]) == CHAT
    await page.reload()
    await expect(page.locator(".timeline .msg-out .delivery")).to_contain_text("Sent")
    await expect(page.locator(".tg-photos img")).to_have_count(1)
    assert await page.locator(".tg-photos img").evaluate("img => img.naturalWidth") == 64
    assert watch.dialogs == [] and watch.csp == []
