"""The voice call card in a real browser (Debian's Chromium through Playwright) with the
Chinese UI: a missed call's voicemail plays from the ticket page (player, transcript,
the owed call-back), the call-back button places the call through the fake Twilio API,
the timeline shows the call-back, and Twilio's report of its end redraws the open page
(outcome, duration, call-back settled), all under the page's CSP."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import pytest

import tickets
from tests.channels.voice.helpers import CALLER, Phone, call_params, local, start_phone
from tests.conftest import Stack
from tests.fakes.twilio_voice import ACCOUNT_SID

CHROMIUM = os.environ.get("SWITCHBOARD_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    from playwright.async_api import Browser, async_playwright, expect
except ImportError:  # pragma: no cover - the test extra installs it
    async_playwright = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(
    async_playwright is None or not os.access(CHROMIUM, os.X_OK),
    reason=(
        f"needs Chromium at {CHROMIUM} and Playwright: `apt-get install -y chromium "
        "fonts-wqy-microhei` and `pip install -e '.[test]'` (never `playwright install`)"
    ),
)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        await launched.close()


async def _missed_call_with_voicemail(phone: Phone) -> str:
    sid = "CA900"
    await phone.post("/webhooks/twilio/voice", call_params(sid))
    await phone.post("/webhooks/twilio/voice/menu?lang=zh", call_params(sid, Digits="2"))
    root = await phone.twiml(
        "/webhooks/twilio/voice/queue-done?lang=zh", call_params(sid, QueueResult="leave")
    )
    record = root.find("Record")
    assert record is not None
    recording = {
        **call_params(sid),
        "RecordingSid": "RE" + "9" * 32,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/"
        + "RE"
        + "9" * 32,
        "RecordingStatus": "completed",
        "RecordingDuration": "21",
    }
    await phone.post(local(record.get("recordingStatusCallback", "")), recording, status=204)
    await phone.post(
        local(record.get("transcribeCallback", "")),
        {
            **call_params(sid),
            "TranscriptionSid": "TR" + "9" * 32,
            "TranscriptionText": "洗衣机漏水，请回电。",
            "TranscriptionStatus": "completed",
            "RecordingSid": "RE" + "9" * 32,
        },
        status=204,
    )
    ticket_id = (await phone.call(sid)).ticket_id
    assert ticket_id is not None
    return tickets.format_number(ticket_id)


async def test_voicemail_card_and_call_back_button_in_chinese(
    aiohttp_client: Any, aiohttp_server: Any, stack: Stack, redis_prefix: str, browser: Browser
) -> None:
    phone = await start_phone(aiohttp_client, aiohttp_server, stack, redis_prefix)
    number = await _missed_call_with_voicemail(phone)
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    csp: list[str] = []
    page.on(
        "console",
        lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None,
    )
    origin = f"http://127.0.0.1:{phone.client.server.port}"
    path = f"/agent/tickets/{number}"
    await page.goto(origin + path)
    await page.locator("#email").fill("agent1@example.com")
    await page.locator("#password").fill("demo")
    await page.locator("button[type=submit]").click()
    await page.wait_for_url(f"**{path}")

    card = page.locator(".voice-voicemail")
    await expect(card).to_contain_text("语音留言")
    await expect(card.locator(".voice-transcript")).to_have_text("洗衣机漏水，请回电。")
    player = card.locator("audio.voice-recording")
    src = await player.get_attribute("src")
    assert src and src.startswith("/api/v1/attachments/")
    fetched = await page.evaluate(
        "async (src) => { const r = await fetch(src);"
        " return [r.status, r.headers.get('content-type')]; }",
        src,
    )
    assert fetched[0] == 200 and fetched[1].startswith("audio/mpeg")
    await expect(page.locator(".voice-call .voice-callback-due").first).to_have_text("待回拨")

    await page.get_by_role("button", name="回拨", exact=True).click()
    await expect(page.locator("#voice-callback-result")).to_contain_text(CALLER)
    (created,) = phone.fake.created
    assert created["To"].startswith("client:agent_")
    dialled = ET.fromstring(created["Twiml"]).find("Dial/Number")
    assert dialled is not None and dialled.text == CALLER
    out_card = page.locator(".voice-call.voice-out")
    await expect(out_card).to_contain_text("回拨电话")

    # Twilio reports the call-back's end: the open page redraws the card by itself.
    sid = await out_card.get_attribute("data-call")
    assert sid
    dial = ET.fromstring(created["Twiml"]).find("Dial")
    assert dial is not None
    await phone.post(
        local(dial.get("action", "")),
        {**call_params(sid), "DialCallStatus": "completed", "DialCallDuration": "48"},
    )
    await expect(out_card.locator(".voice-outcome")).to_have_text("已完成")
    await expect(out_card.locator(".voice-duration")).to_have_text("时长 0:48")
    await expect(page.locator(".voice-call.voice-in .voice-callback-done")).to_have_text("已回拨")
    assert csp == []
    await context.close()
