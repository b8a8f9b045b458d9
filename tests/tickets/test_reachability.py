"""An address the customer cannot be reached on (opted out, blocked the bot): replies to
it are refused with the reason, a message queued before the opt-out fails without a
provider call, the agent sees why, and re-subscribing makes it reachable again. The state
belongs to the address, so SMS and voice (one phone identity) share it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.agent_ui.webhelpers import sign_in
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import inbound
from tests.switchboard.test_dispatcher import (  # noqa: F401  (fixture)
    ScriptedSender,
    desk,
    dispatcher,
    queue_reply,
)
from tickets import reachability, services, staff
from tickets.contracts import Channel, DeliveryStatus
from tickets.desk import Desk
from tickets.errors import Invalid
from tickets.events import Event
from tickets.models import Message

PHONE = "+8613800138000"


async def set_reachable(desk: Desk, reachable: bool, channel: Channel = Channel.SMS) -> int:  # noqa: F811
    async def work(session: AsyncSession, now: datetime) -> tuple[int, list[Event]]:
        if reachable:
            return await reachability.mark_reachable(session, channel, PHONE), []
        return await reachability.mark_unreachable(
            session, channel, PHONE, "opted out (STOP)", now
        ), []

    return await desk.write(work)


async def try_reply(desk: Desk, number: str) -> int | None:  # noqa: F811
    async def work(session: AsyncSession, now: datetime) -> tuple[int | None, Any]:
        agent = await staff.load_staff(
            session, await staff.user_id_by_email(session, "agent1@example.com")
        )
        assert agent is not None
        written = await services.reply(session, agent, number, "明天上门", now)
        return written.message_id, written.events

    return await desk.write(work)


async def test_a_reply_to_an_opted_out_number_is_refused_with_the_reason(desk: Desk) -> None:  # noqa: F811
    ticket = await desk.ingest(inbound(PHONE, "空调坏了"))
    # Marked on the voice channel: the phone identity is shared, so SMS is blocked too.
    assert await set_reachable(desk, False, Channel.VOICE) == 1
    assert await set_reachable(desk, False) == 0  # already marked: first reason kept
    with pytest.raises(Invalid) as refused:
        await try_reply(desk, ticket.number)
    assert "opted out (STOP)" in str(refused.value) and "sms" in str(refused.value)

    assert await set_reachable(desk, True) == 1
    assert await try_reply(desk, ticket.number) is not None


async def test_a_message_queued_before_the_opt_out_fails_without_a_provider_call(
    desk: Desk,  # noqa: F811
) -> None:
    message_id = await queue_reply(desk)
    await set_reachable(desk, False)
    sender = ScriptedSender()
    worker = dispatcher(desk, sender)
    await worker.run_once()
    assert sender.sent == []

    async def stored(session: AsyncSession) -> Message | None:
        return (await session.execute(select(Message).where(Message.id == message_id))).scalar()

    msg = await desk.read(stored)
    assert msg is not None and msg.delivery_status == DeliveryStatus.FAILED.value
    assert "opted out (STOP)" in (msg.delivery_error or "")


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix)


async def test_the_agent_sees_why_on_the_ticket_page(api: Api) -> None:
    t = await api.runtime.desk.ingest(inbound(PHONE, "洗衣机漏水"))
    await sign_in(api.client, "agent1@example.com")
    before = await (await api.client.get(f"/agent/tickets/{t.number}")).text()
    assert "cannot be reached" not in before
    await set_reachable(api.runtime.desk, False)
    page = await (await api.client.get(f"/agent/tickets/{t.number}")).text()
    assert "cannot be reached" in page and "opted out (STOP)" in page
