"""A running Switchboard with Twilio SMS configured against the fake Twilio REST API, on
both storage backends, and helpers to post signed webhooks through the real routes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, NUMBER, PUBLIC_URL, FakeTwilio, sign
from tickets.models import Attachment, Message, Ticket

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str, **changes: str) -> dict[str, str]:
    params: dict[str, str] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    params.update(changes)
    return params


@pytest.fixture
async def fake(aiohttp_server: Any) -> FakeTwilio:
    return await FakeTwilio().start(aiohttp_server)


@pytest.fixture
async def api(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, fake: FakeTwilio, tmp_path: Path
) -> Api:
    return await start_api(
        aiohttp_client,
        stack,
        redis_prefix,
        public_url=PUBLIC_URL,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_number=NUMBER,
        twilio_api_base=fake.base,
        blob_dir=str(tmp_path / "blobs"),
    )


async def post_signed(
    api: Api,
    path: str,
    params: dict[str, str],
    *,
    signed_path: str | None = None,
    signed_params: dict[str, str] | None = None,
    signature: str | None = None,
    headers: bool = True,
) -> ClientResponse:
    """Posts ``params`` to ``path`` as Twilio would: signed over the public URL of
    ``signed_path`` (default ``path``) and ``signed_params`` (default ``params``)."""
    sig = signature or sign(PUBLIC_URL + (signed_path or path), signed_params or params)
    return await api.client.post(
        path, data=params, headers={"X-Twilio-Signature": sig} if headers else {}
    )


async def sms_in(api: Api, params: dict[str, str]) -> ClientResponse:
    response = await post_signed(api, "/webhooks/twilio/sms", params)
    assert response.status == 200, await response.text()
    return response


async def stored_messages(api: Api) -> list[Message]:
    async def read(session: AsyncSession) -> list[Message]:
        rows = await session.execute(select(Message).order_by(Message.id))
        return list(rows.scalars().all())

    return await api.runtime.desk.read(read)


async def stored_tickets(api: Api) -> list[Ticket]:
    async def read(session: AsyncSession) -> list[Ticket]:
        return list((await session.execute(select(Ticket).order_by(Ticket.id))).scalars().all())

    return await api.runtime.desk.read(read)


async def stored_attachments(api: Api) -> list[Attachment]:
    async def read(session: AsyncSession) -> list[Attachment]:
        rows = await session.execute(select(Attachment).order_by(Attachment.id))
        return list(rows.scalars().all())

    return await api.runtime.desk.read(read)
