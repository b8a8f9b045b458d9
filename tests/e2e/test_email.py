"""An email ticket in a real browser: a hostile HTML mail arrives through the SMTP
receiver; on the ticket page no script runs and the remote image is never fetched (a
local "tracker" server counts requests), while from/to/cc, the threading reason, the
attachments with their Chinese names and "Show original" are there, in English and
Chinese; an auto-reply on the ticket is shown collapsed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiosmtplib
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright, expect

from tests.apphelpers import start_api
from tests.channels.email.test_parse import FIXTURES
from tests.conftest import Stack
from tests.e2e.test_ticket_page import ARGS, CHROMIUM, Watch, origin
from tests.e2e.test_ticket_page import pytestmark as browser_mark

pytestmark = browser_mark


async def test_hostile_html_mail_is_inert_and_the_mail_facts_show(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, tmp_path: Path
) -> None:
    hits: list[str] = []

    async def tracker(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=b"GIF89a", content_type="image/gif")

    remote = web.Application()
    remote.router.add_get("/{tail:.*}", tracker)
    server = TestServer(remote, host="127.0.0.1")
    await server.start_server()
    api = await start_api(
        aiohttp_client,
        stack,
        redis_prefix,
        support_address="service@example.com",
        email_queues="service@example.com=Repairs",
        smtp_listen="127.0.0.1:0",
        blob_dir=str(tmp_path / "blobs"),
    )
    assert api.runtime.email is not None and api.runtime.email.smtp_port
    image = f"http://127.0.0.1:{server.port}/pixel.gif"
    hostile = (
        "From: Mallory <mallory@evil.example>\r\nTo: service@example.com\r\n"
        "Cc: Friend <friend@evil.example>\r\nSubject: refund\r\n"
        "Message-ID: <e2e-hostile@evil.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="M"\r\n\r\n--M\r\n'
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        '<p id="hello">Hello</p><script>parent.__xss="script";alert(1)</script>'
        f'<img src="{image}"><img src=x onerror="parent.__xss=\'img\'">'
        '<a href="javascript:alert(2)">x</a><style>body{{background:url('
        f"{image}?css)}}</style>\r\n--M\r\n"
        "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename*=UTF-8''%E5%8F%91%E7%A5%A8.pdf\r\n\r\n"
        "JVBERi0xLjQKJSVFT0YK\r\n--M--\r\n"
    ).encode()
    port = api.runtime.email.smtp_port
    _errors, answer = await aiosmtplib.send(
        hostile,
        hostname="127.0.0.1",
        port=port,
        sender="m@evil.example",
        recipients=["service@example.com"],
    )
    number = answer.split()[-1]
    ooo = (
        (FIXTURES / "auto__out_of_office.eml")
        .read_bytes()
        .replace(b"traveller@example.com", b"mallory@evil.example")
        .replace(b"[#SB-1001]", f"[#{number}]".encode())
    )
    await aiosmtplib.send(
        ooo,
        hostname="127.0.0.1",
        port=port,
        sender="m@evil.example",
        recipients=["service@example.com"],
    )
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            for locale, labels in (
                (
                    "en-US",
                    (
                        "From",
                        "Cc",
                        "Show original",
                        "New ticket",
                        "Automatic reply",
                        "Participants",
                    ),
                ),
                ("zh-CN", ("发件人", "抄送", "查看原始邮件", "新工单", "自动回复", "参与人")),
            ):
                context = await browser.new_context(locale=locale)
                page = await context.new_page()
                watch = Watch(page)
                await page.goto(origin(api) + f"/agent/tickets/{number}")
                await page.locator("#email").fill("agent1@example.com")
                await page.locator("#password").fill("demo")
                await page.locator("button[type=submit]").click()
                await page.wait_for_url(f"**/agent/tickets/{number}")
                frame = page.frame_locator("iframe.email-html").first
                await expect(frame.locator("p").first).to_have_text("Hello")
                await page.wait_for_timeout(500)
                assert await page.evaluate("window.__xss") is None
                assert watch.dialogs == []
                head = page.locator(".email-head").first
                await expect(head).to_contain_text(labels[0])
                await expect(head).to_contain_text("mallory@evil.example")
                await expect(head).to_contain_text(labels[1])
                await expect(head).to_contain_text("friend@evil.example")
                await expect(page.locator(".thread-reason").first).to_contain_text(labels[3])
                await expect(page.locator(".attachments").first).to_contain_text("发票.pdf")
                original = page.locator(".email-original a").first
                await expect(original).to_have_text(labels[2])
                await expect(page.locator(".participants")).to_contain_text("friend@evil.example")
                await expect(page.get_by_text(labels[5]).first).to_be_visible()
                noise = page.locator("details.email-noise")
                await expect(noise).to_contain_text(labels[4])
                assert await noise.get_attribute("open") is None  # collapsed
                href = await original.get_attribute("href")
                assert href is not None
                raw = await page.request.get(origin(api) + href)
                assert raw.status == 200 and b"e2e-hostile@evil.example" in await raw.body()
                await context.close()
        finally:
            await browser.close()
    await asyncio.sleep(0.2)
    assert hits == [], f"the remote image was fetched: {hits}"
    await server.close()
