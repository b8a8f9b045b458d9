"""The app on each test stack with the Telegram channel pointed at a local fake Bot API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse

from channels.telegram import SECRET_HEADER
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.fakes.telegram import FakeBotApi

TOKEN = "7000000001:AAH-test-token-abcdefghijklmnopqrstu"
SECRET = "s3cret-Token_for-webhooks"
FIXTURES = Path(__file__).parent / "fixtures"
CHAT = 111111111


def fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    return body


@pytest.fixture
async def bot() -> AsyncIterator[FakeBotApi]:
    fake = await FakeBotApi(TOKEN).start()
    yield fake
    await fake.close()


@dataclass
class Tg:
    api: Api
    bot: FakeBotApi

    async def post(
        self, body: Any, secret: str | None = SECRET, raw: bytes | None = None
    ) -> ClientResponse:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        data = raw if raw is not None else json.dumps(body).encode()
        return await self.api.client.post("/webhooks/telegram", data=data, headers=headers)

    async def deliver(self, name: str) -> dict[str, Any]:
        response = await self.post(fixture(name))
        assert response.status == 200, await response.text()
        result: dict[str, Any] = await response.json()
        return result


async def start_tg(
    aiohttp_client: Any,
    stack: Stack,
    redis_prefix: str,
    bot: FakeBotApi,
    tmp_path: Path,
    **overrides: Any,
) -> Tg:
    """The app with the Telegram channel pointed at ``bot`` (plus any other settings)."""
    api = await start_api(
        aiohttp_client,
        stack,
        redis_prefix,
        telegram_bot_token=TOKEN,
        telegram_secret_token=SECRET,
        telegram_api_base=bot.base,
        outbox_base_delay_s=0.05,
        blob_dir=str(tmp_path / "blobs"),
        **overrides,
    )
    return Tg(api, bot)


@pytest.fixture
async def tg(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, bot: FakeBotApi, tmp_path: Path
) -> Tg:
    return await start_tg(aiohttp_client, stack, redis_prefix, bot, tmp_path)
