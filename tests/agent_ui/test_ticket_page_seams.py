"""The ticket page's seams and the retry service's edges: panels and per-channel timeline
renderings registered by other rooms show on the page (with the default rendering for
the rest), and a message the provider reported failed after it was sent is retried with
a new idempotency key (a dead-lettered one keeps its key)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from agent_ui.panels import PANELS, Panel, PanelContext
from tests.agent_ui.webhelpers import sign_in
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import inbound
from tickets.models import OutboxEntry


async def test_registered_panels_and_timeline_renderings_show(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    registry = api.client.app[PANELS]

    async def parts(ctx: PanelContext) -> str:
        return f"<p class='parts'>parts for {escape(ctx.ticket['number'])} ({ctx.language})</p>"

    async def sms(message: Any, ctx: PanelContext) -> str:
        return f"<div class='sms-bubble'>{escape(message['text'])}</div>"

    registry.add_panel(Panel("erp.parts", "Spare parts", parts))
    registry.add_timeline("sms", sms)
    t = await api.runtime.desk.ingest(inbound("+8613800138000", "<b>漏水</b>"))
    await sign_in(api.client, "agent1@example.com")
    html = await (await api.client.get(f"/agent/tickets/{t.number}")).text()
    assert f"<p class='parts'>parts for {t.number} (en)</p>" in html
    assert "<h2>Spare parts</h2>" in html
    assert "<div class='sms-bubble'>&lt;b&gt;漏水&lt;/b&gt;</div>" in html
    assert 'class="msg-text"' not in html, "the registered rendering replaces the default"


async def _reply_and_lease(
    api: Api, visitor: str
) -> tuple[str, tickets.OutboundMessage, str, tickets.RetryPolicy]:
    t = await api.runtime.desk.ingest(
        inbound(visitor, "洗衣机漏水", channel=tickets.Channel.WEBCHAT)
    )
    staff = await api.runtime.desk.read(lambda s: _staff(s, "agent1@example.com"))
    await api.runtime.desk.write(
        lambda s, now: _events(tickets.reply(s, staff, t.number, "型号？", now))
    )
    owner, policy = uuid.uuid4().hex, tickets.RetryPolicy()

    async def lease(s: AsyncSession, now: datetime) -> tuple[tickets.OutboundMessage, list[Any]]:
        (leased,) = await tickets.lease_due(s, now, policy, owner=owner)
        return leased, []

    return t.number, await api.runtime.desk.write(lease), owner, policy


async def _staff(s: AsyncSession, email: str) -> tickets.StaffUser:
    found = await tickets.staff_for_password(s, email, "demo")
    assert found is not None
    return found


async def _events(written: Any) -> tuple[None, tuple[tickets.Event, ...]]:
    return None, (await written).events


async def _entry(api: Api) -> OutboxEntry:
    async def work(s: AsyncSession) -> OutboxEntry:
        return (await s.execute(select(OutboxEntry))).scalar_one()

    return await api.runtime.desk.read(work)


@pytest.mark.parametrize("how", ["dead", "reported"])
async def test_retry_keeps_or_renews_the_idempotency_key(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, how: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix, run_workers=False)
    number, leased, owner, policy = await _reply_and_lease(api, f"visitor-{how}")
    message_id = leased.message_id

    async def fail(s: AsyncSession, now: datetime) -> tuple[None, list[tickets.Event]]:
        if how == "dead":
            events = await tickets.mark_failed(
                s, message_id, "rejected", now, policy, owner=owner, permanent=True
            )
        else:
            events = await tickets.mark_sent(s, message_id, "ext-1", owner=owner)
            events += await tickets.record_delivery(
                s, message_id, tickets.DeliveryStatus.FAILED, "30003: unreachable"
            )
        return None, events

    await api.runtime.desk.write(fail)
    before = (await _entry(api)).idempotency_key
    staff = await api.runtime.desk.read(lambda s: _staff(s, "agent1@example.com"))
    events = await api.runtime.desk.write(lambda s, now: _retry(s, staff, number, message_id, now))
    assert [type(e).__name__ for e in events] == ["DeliveryStatusChanged", "OutboxQueued"]
    entry = await _entry(api)
    assert entry.state == "pending" and entry.attempts == 0
    assert (entry.idempotency_key == before) is (how == "dead")
    other = await api.runtime.desk.read(lambda s: _staff(s, "agent3@example.com"))
    with pytest.raises(tickets.NotFound):
        await api.runtime.desk.write(lambda s, now: _retry(s, other, number, message_id, now))


async def _retry(
    s: AsyncSession, staff: tickets.StaffUser, number: str, message_id: int, now: datetime
) -> tuple[tuple[tickets.Event, ...], tuple[tickets.Event, ...]]:
    written = await tickets.retry_message(s, staff, number, message_id, now)
    return written.events, written.events
