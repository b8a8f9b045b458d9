"""One phone number is one customer on SMS and voice (tickets.identity), through ingest on
both stores and the REST API, and migration 0004_ops folds existing SMS and voice
identities together."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.engine import Connection, make_url

from channels import SendResult
from switchboard import db
from tests.apphelpers import start_api
from tests.conftest import Stack, require_postgres
from tests.helpers import T0, inbound
from tickets import Channel, OutboundMessage


async def test_a_text_and_a_call_from_one_number_are_one_customer(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    for phone in (Channel.SMS, Channel.VOICE):  # the phone channels, as if configured
        api.runtime.senders.register(Accepting(phone))
    desk = api.runtime.desk
    texted = await desk.ingest(inbound("+86 138-0013-8000", "空调坏了", channel=Channel.SMS))
    called = await desk.ingest(inbound("13800138000", "来电", channel=Channel.VOICE))
    assert called.customer_id == texted.customer_id
    assert called.ticket_id != texted.ticket_id  # each ticket keeps its own channel

    customer = await api.get(f"/api/v1/customers/{texted.customer_id}")
    assert customer["identities"] == [
        {"channel": "phone", "address": "+8613800138000", "verified": True, "unreachable": None}
    ]
    for result, channel in ((texted, "sms"), (called, "voice")):
        detail = await api.get(f"/api/v1/tickets/{result.number}")
        assert detail["channel"] == channel
        sent = await api.send(
            "POST", f"/api/v1/tickets/{result.number}/replies", {"text": "好的"}, status=201
        )
        assert sent["channel"] == channel

    again = await desk.ingest(inbound("+8613800138000", "还是不行", channel=Channel.SMS))
    assert again.ticket_id == texted.ticket_id and not again.new_ticket


@dataclass
class Accepting:
    channel: Channel

    async def send(self, message: OutboundMessage) -> SendResult:
        return SendResult(external_id=f"fake-{message.message_id}")


AT = bindparam("now", type_=DateTime(timezone=True))


def _to(revision: str) -> Any:
    def run(connection: Connection) -> None:
        cfg = db._alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    return run


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    base = require_postgres()
    name = f"sb_mig_{uuid.uuid4().hex[:8]}"
    admin = db.create_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def test_migration_folds_sms_and_voice_identities(empty_url: str) -> None:
    engine = db.create_engine(empty_url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_to("0003"))
            await conn.commit()
        async with engine.begin() as conn:
            now = T0
            for cid in (1, 2, 3):
                await conn.execute(
                    text(
                        "INSERT INTO customers (id, name, tier, created_at) "
                        "VALUES (:id, :name, 'standard', :now)"
                    ).bindparams(AT),
                    {"id": cid, "name": f"c{cid}", "now": now},
                )
            for iid, cid, channel, address in (
                (1, 1, "sms", "+8613800138000"),
                (2, 2, "voice", "+8613800138000"),  # the same number, another customer
                (3, 2, "email", "li@example.com"),
                (4, 3, "voice", "+8613900139000"),
                (5, 3, "sms", "+8613900139000"),  # the same number, the same customer
            ):
                await conn.execute(
                    text(
                        "INSERT INTO customer_identities (id, customer_id, channel, address, "
                        "created_at) VALUES (:id, :cid, :channel, :address, :now)"
                    ).bindparams(AT),
                    {"id": iid, "cid": cid, "channel": channel, "address": address, "now": now},
                )
            await conn.execute(
                text(
                    "INSERT INTO tickets (id, subject, status, priority, channel, customer_id, "
                    "created_at, updated_at, sla) "
                    "VALUES (1, 'call', 'open', 'normal', 'voice', 2, :now, :now, '{}')"
                ).bindparams(AT),
                {"now": now},
            )
        await db.upgrade(engine)
        async with engine.connect() as conn:
            identities = (
                await conn.execute(
                    text(
                        "SELECT id, customer_id, channel, address FROM customer_identities "
                        "ORDER BY id"
                    )
                )
            ).all()
            ticket_owner = (
                await conn.execute(text("SELECT customer_id FROM tickets WHERE id = 1"))
            ).scalar()
            merged = (
                await conn.execute(text("SELECT merged_into_id FROM customers WHERE id = 2"))
            ).scalar()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in identities] == [
        (1, 1, "phone", "+8613800138000"),
        (3, 1, "email", "li@example.com"),
        (4, 3, "phone", "+8613900139000"),
    ]
    assert ticket_owner == 1 and merged == 1
