"""The SMS round trip in a real browser: an SMS arrives through the signed webhook, the
agent answers in the composer (which counts characters and segments), the fake Twilio
API receives it with the right To/From, and the status callback shows it delivered in
the timeline; a customer who texts 退订 can no longer be answered by SMS, and the
composer says why."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("playwright.async_api", reason="pip install -e '.[test]' brings Playwright")

from playwright.async_api import Browser, expect

from switchboard.app import create_app
from tests.apphelpers import Api
from tests.conftest import Stack
from tests.e2e.test_ticket_page import browser, open_as, pytestmark  # noqa: F401
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, NUMBER, FakeTwilio, sign
from tests.helpers import eventually, seed_with_tokens

CUSTOMER = "+8613800138000"


async def start(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, fake: FakeTwilio, port: int, tmp: Any
) -> Api:
    """The app on a known port, so its public URL (what Twilio signs) is the real one."""
    tokens = await seed_with_tokens(stack.database_url)
    settings = stack.settings(
        public_url=f"http://127.0.0.1:{port}",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_number=NUMBER,
        twilio_api_base=fake.base,
        blob_dir=str(tmp / "blobs"),
    )
    app = create_app(settings, redis_prefix=redis_prefix)
    client = await aiohttp_client(app, server_kwargs={"port": port, "host": "127.0.0.1"})
    return Api(client, tokens)


async def sms(api: Api, body: str, sid: str) -> None:
    params = {"MessageSid": sid, "From": CUSTOMER, "To": NUMBER, "Body": body, "NumMedia": "0"}
    url = f"http://127.0.0.1:{api.client.server.port}/webhooks/twilio/sms"
    response = await api.client.post(
        "/webhooks/twilio/sms", data=params, headers={"X-Twilio-Signature": sign(url, params)}
    )
    assert response.status == 200, await response.text()


async def test_sms_in_reply_in_the_browser_delivered_then_opted_out(
    aiohttp_client: Any,
    aiohttp_server: Any,
    stack: Stack,
    redis_prefix: str,
    browser: Browser,  # noqa: F811
    unused_tcp_port: int,
    tmp_path: Any,
) -> None:
    fake = await FakeTwilio().start(aiohttp_server)
    api = await start(aiohttp_client, stack, redis_prefix, fake, unused_tcp_port, tmp_path)
    await sms(api, "我家空调不制冷了", "SM" + "1" * 32)
    number = (await api.get("/api/v1/tickets"))["tickets"][0]["number"]

    page, watch = await open_as(browser, api, "agent1@example.com", f"/agent/tickets/{number}")
    counter = page.locator("#sms-count")
    await page.locator("#reply-text").fill("Hello")
    await expect(counter).to_have_text("SMS: 5 characters, 1 segment(s), GSM-7")
    await page.locator("#reply-text").fill("师傅明天上午上门" * 10)
    await expect(counter).to_have_text("SMS: 80 characters, 2 segment(s), UCS-2")
    await page.locator("#composer button[type=submit]").click()

    sent = await eventually(lambda: _first(fake), timeout=10.0)
    assert sent["To"] == CUSTOMER and sent["From"] == NUMBER
    assert sent["Body"] == "师傅明天上午上门" * 10
    callback = sent["StatusCallback"]
    status = {"MessageSid": sent["Sid"], "MessageStatus": "delivered", "To": CUSTOMER}
    response = await api.client.post(
        callback.removeprefix(f"http://127.0.0.1:{unused_tcp_port}"),
        data=status,
        headers={"X-Twilio-Signature": sign(callback, status)},
    )
    assert response.status == 200
    await expect(page.locator(".timeline .delivery-delivered")).to_have_count(1, timeout=10000)

    await sms(api, "退订", "SM" + "2" * 32)
    await page.reload()
    await expect(page.locator(".composer-unreachable")).to_contain_text("opted out by SMS (退订)")
    await expect(page.locator("#via option[value=sms]")).to_be_disabled()
    assert watch.csp == []
    await page.context.close()


async def _first(fake: FakeTwilio) -> dict[str, str] | None:
    return fake.messages[0] if fake.messages else None
