"""A running app with Twilio voice on: the fake Twilio REST server, signed webhook posts
as Twilio sends them, a settable clock (business hours matter), and TwiML parsing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.request_validator import RequestValidator

from channels.twilio.voice_models import VoiceCall
from switchboard.app import RUNTIME, VOICE, Runtime, create_app
from tests.conftest import Stack
from tests.fakes.twilio_voice import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioVoice
from tests.helpers import auth, seed_with_tokens

PUBLIC_URL = "http://desk.example.com"
OUR_NUMBER = "+15005550006"
CALLER = "+8613800138000"
# Tuesday 10:00 in Shanghai (the demo calendar's business hours) and 20:00 (closed).
OPEN = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
CLOSED = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Phone:
    client: TestClient  # type: ignore[type-arg]
    fake: FakeTwilioVoice
    tokens: dict[str, str]
    clock: Clock

    @property
    def runtime(self) -> Runtime:
        assert self.client.app is not None
        runtime: Runtime = self.client.app[RUNTIME]
        return runtime

    @property
    def voice(self) -> Any:
        assert self.client.app is not None
        return self.client.app[VOICE]

    def as_(self, email: str) -> dict[str, str]:
        return auth(self.tokens[email])

    async def post(
        self,
        path_qs: str,
        params: dict[str, str],
        *,
        signature: str | None = "sign",
        status: int = 200,
    ) -> str:
        """Posts ``params`` as Twilio would, signed over the public URL of ``path_qs``."""
        headers = {}
        if signature == "sign":
            signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + path_qs, params)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        response = await self.client.post(path_qs, data=params, headers=headers)
        text = await response.text()
        assert response.status == status, text
        return text

    async def twiml(self, path_qs: str, params: dict[str, str]) -> ET.Element:
        return ET.fromstring(await self.post(path_qs, params))

    async def call(self, sid: str) -> VoiceCall:
        async def read(session: AsyncSession) -> VoiceCall:
            return (
                await session.execute(select(VoiceCall).where(VoiceCall.call_sid == sid))
            ).scalar_one()

        return await self.runtime.desk.read(read)


def local(url: str) -> str:
    """The path and query of a public URL found in TwiML (what Twilio would request)."""
    assert url.startswith(PUBLIC_URL), url
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def call_params(sid: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "CallStatus": "in-progress",
        "Direction": "inbound",
        "From": CALLER,
        "To": OUR_NUMBER,
        "Caller": CALLER,
        "Called": OUR_NUMBER,
        "FromCountry": "CN",
        "ToCountry": "US",
        **extra,
    }


async def start_phone(
    aiohttp_client: Any,
    aiohttp_server: Any,
    stack: Stack,
    redis_prefix: str,
    *,
    now: datetime = OPEN,
    **overrides: Any,
) -> Phone:
    fake = FakeTwilioVoice()
    server = await aiohttp_server(fake.app())
    tokens = await seed_with_tokens(stack.database_url)
    clock = Clock(now)
    settings = stack.settings(
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_number=OUR_NUMBER,
        twilio_api_base=str(server.make_url("")).rstrip("/"),
        public_url=PUBLIC_URL,
        **overrides,
    )
    app = create_app(settings, redis_prefix=redis_prefix, clock=clock)
    client = await aiohttp_client(app)
    return Phone(client, fake, tokens, clock)


def texts(root: ET.Element, tag: str) -> list[str]:
    return [e.text or "" for e in root.iter(tag)]
