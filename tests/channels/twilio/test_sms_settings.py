"""SMS is on only with the whole Twilio account and a public URL; a partial set turns it
off with one log line and never breaks start-up."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.apphelpers import start_api
from tests.conftest import Stack
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, NUMBER
from tickets import Channel


async def test_a_partial_twilio_setup_disables_sms_with_one_log_line(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        api = await start_api(
            aiohttp_client,
            stack,
            redis_prefix,
            seed=False,
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_number=NUMBER,
        )
    assert [r.getMessage() for r in caplog.records if "Twilio SMS disabled" in r.getMessage()]
    assert AUTH_TOKEN not in caplog.text
    assert Channel.SMS not in api.runtime.senders.channels()
    response = await api.client.post("/webhooks/twilio/sms", data={"From": "+8613800138000"})
    assert response.status == 404
