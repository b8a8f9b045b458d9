"""The Twilio seam: signatures checked against the public URL, calls sent to the
configured base (a local fake here), and Twilio's errors mapped to retry or give up."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from channels.base import TemporaryFailure
from channels.twilio.sdk import ProviderError, TwilioApi, TwilioConfig, check_signature

SID, TOKEN = "AC" + "0" * 32, "secret-token"


def config(base: str | None = None) -> TwilioConfig:
    return TwilioConfig(SID, TOKEN, "+15005550006", "https://desk.example.com", base, 5.0)


def test_a_signature_is_checked_against_the_public_url() -> None:
    params = {"From": "+8613800138000", "Body": "空调坏了"}
    url = "https://desk.example.com/webhooks/twilio/sms?x=1"
    good = RequestValidator(TOKEN).compute_signature(url, params)
    assert check_signature(config(), "/webhooks/twilio/sms?x=1", params, good)
    assert not check_signature(config(), "/webhooks/twilio/sms", params, good)
    assert not check_signature(config(), "/webhooks/twilio/sms?x=1", {**params, "Body": "x"}, good)
    assert not check_signature(config(), "/webhooks/twilio/sms?x=1", params, None)


@pytest.fixture
async def fake(aiohttp_server: Any) -> Any:
    seen: list[dict[str, str]] = []

    async def messages(request: web.Request) -> web.Response:
        form = dict(await request.post())
        seen.append({k: str(v) for k, v in form.items()})
        if form["To"] == "+10000000000":
            return web.json_response(
                {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}, status=400
            )
        if form["To"] == "+19999999999":
            return web.json_response(
                {"code": 20429, "message": "Too many", "status": 429}, status=429
            )
        return web.json_response(
            {"sid": "SM" + "1" * 32, "status": "queued", "to": form["To"], "error_code": None},
            status=201,
        )

    app = web.Application()
    app.router.add_post(f"/2010-04-01/Accounts/{SID}/Messages.json", messages)
    server = await aiohttp_server(app)
    server.seen = seen
    return server


async def test_sms_goes_to_the_configured_base_and_errors_are_ours(fake: Any) -> None:
    api = TwilioApi(config(str(fake.make_url(""))))
    await api.start()
    try:
        sent = await api.send_sms("+8613800138000", "您好", status_callback="https://x/s")
        assert sent["sid"].startswith("SM") and sent["status"] == "queued"
        assert fake.seen[0]["Body"] == "您好" and fake.seen[0]["From"] == "+15005550006"
        assert fake.seen[0]["StatusCallback"] == "https://x/s"
        with pytest.raises(ProviderError) as bad:
            await api.send_sms("+10000000000", "x")
        assert bad.value.code == 21211 and bad.value.status == 400
        with pytest.raises(TemporaryFailure):
            await api.send_sms("+19999999999", "x")
    finally:
        await api.close()
