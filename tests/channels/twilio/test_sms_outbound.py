"""Agent replies on SMS through the outbox to the fake Twilio REST API, status callbacks,
opt-out and re-subscribe keywords, and Twilio's errors (21211 fails, 21610 opts the
number out, 429 and 5xx retry)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.apphelpers import Api
from tests.channels.twilio.conftest import fixture, post_signed, sms_in, stored_messages
from tests.fakes.twilio import NUMBER, PUBLIC_URL, FakeTwilio
from tests.helpers import eventually
from tickets.models import Message

CUSTOMER = "+8613800138000"
_sids = iter(range(10**6))


def sid() -> str:
    return f"SMf{next(_sids):031x}"  # never one of the fake's outbound SIDs


async def conversation(api: Api, sender: str = CUSTOMER, body: str = "空调不制冷") -> str:
    """A ticket opened by an SMS from ``sender``; returns its number."""
    await sms_in(api, fixture("sms__text", From=sender, Body=body, MessageSid=sid()))
    found = await api.get("/api/v1/tickets")
    return str(found["tickets"][0]["number"])


async def reply(api: Api, number: str, text: str = "师傅明天上午上门", status: int = 201) -> Any:
    path = f"/api/v1/tickets/{number}/replies"
    return await api.send("POST", path, {"text": text}, status=status)


async def outbound(api: Api, message_id: int, *states: str) -> Message:
    async def check() -> Message | None:
        found = [m for m in await stored_messages(api) if m.id == message_id]
        return found[0] if found and found[0].delivery_status in states else None

    result: Message = await eventually(check, timeout=10.0)
    return result


async def status_callback(
    api: Api, callback: str | int | None, status: str, message_sid: str, **extra: str
) -> int:
    """Posts a signed status callback to ``callback`` (the URL the send gave Twilio, or
    our message id, or None for a callback that names only the MessageSid)."""
    params = fixture("status__delivered", MessageStatus=status, SmsStatus=status)
    params.update(MessageSid=message_sid, SmsSid=message_sid, **extra)
    if isinstance(callback, str):
        path = callback.removeprefix(PUBLIC_URL)
    else:
        path = "/webhooks/twilio/status" + (f"?m={callback}" if callback is not None else "")
    response = await post_signed(api, path, params)
    return response.status


async def test_a_reply_reaches_twilio_and_the_receipt_marks_it_delivered(
    api: Api, fake: FakeTwilio
) -> None:
    number = await conversation(api)
    sent = await reply(api, number)
    msg = await outbound(api, sent["id"], "sent")
    [created] = fake.messages
    assert created["To"] == CUSTOMER and created["From"] == NUMBER
    assert created["Body"] == "师傅明天上午上门"
    assert created["StatusCallback"].startswith(
        f"{PUBLIC_URL}/webhooks/twilio/status?m={sent['id']}&k="
    )
    assert msg.external_id == created["Sid"]

    callback = created["StatusCallback"]
    assert await status_callback(api, callback, "sent", created["Sid"]) == 200
    assert await status_callback(api, callback, "delivered", created["Sid"]) == 200
    detail = await api.get(f"/api/v1/tickets/{number}")
    assert detail["messages"][-1]["delivery_status"] == "delivered"
    # Late and out of order: nothing moves a delivered message back.
    for late in ("queued", "sent", "undelivered", "failed"):
        code = await status_callback(api, callback, late, created["Sid"], ErrorCode="30003")
        assert code == 200
    msg = await outbound(api, sent["id"], "delivered")
    assert msg.delivery_error is None


async def test_a_callback_without_our_id_is_matched_by_the_message_sid(
    api: Api, fake: FakeTwilio
) -> None:
    number = await conversation(api)
    sent = await reply(api, number)
    await outbound(api, sent["id"], "sent")
    assert await status_callback(api, None, "delivered", fake.messages[0]["Sid"]) == 200
    await outbound(api, sent["id"], "delivered")


async def test_undelivered_records_the_error_code_explained(api: Api, fake: FakeTwilio) -> None:
    number = await conversation(api)
    sent = await reply(api, number)
    await outbound(api, sent["id"], "sent")
    params = fixture("status__undelivered", MessageSid=fake.messages[0]["Sid"])
    response = await post_signed(api, f"/webhooks/twilio/status?m={sent['id']}", params)
    assert response.status == 200
    msg = await outbound(api, sent["id"], "failed")
    assert msg.delivery_error is not None
    assert "undelivered" in msg.delivery_error and "30003" in msg.delivery_error
    assert "unreachable" in msg.delivery_error
    detail = await api.get(f"/api/v1/tickets/{number}")
    assert detail["messages"][-1]["delivery_status"] == "failed"


async def test_a_receipt_before_the_send_is_recorded_is_kept(api: Api, fake: FakeTwilio) -> None:
    """Twilio's "delivered" may beat the outbox's own record of the send: ours carries the
    message id, so the receipt is matched at once and the later "sent" does not undo it."""
    import tickets
    from tickets import Channel, DeliveryStatus

    number = await conversation(api)
    api.runtime.dispatcher.stop()  # hold the outbox: the send is "in flight"
    sent = await reply(api, number)
    assert await status_callback(api, sent["id"], "delivered", "SM" + "7" * 32) == 200

    async def late_sent(session: Any, now: Any) -> tuple[list[Any], list[Any]]:
        events = await tickets.record_provider_status(
            session, Channel.SMS, DeliveryStatus.SENT, message_id=sent["id"]
        )
        return events, events

    assert await api.runtime.desk.write(late_sent) == []
    msg = await outbound(api, sent["id"], "delivered")
    assert msg.external_id == "SM" + "7" * 32


async def test_a_status_callback_needs_a_valid_signature(api: Api, fake: FakeTwilio) -> None:
    number = await conversation(api)
    sent = await reply(api, number)
    await outbound(api, sent["id"], "sent")
    params = fixture("status__delivered", MessageSid=fake.messages[0]["Sid"])
    path = f"/webhooks/twilio/status?m={sent['id']}"
    other = f"/webhooks/twilio/status?m=1{sent['id']}"
    forged = await post_signed(api, path, params, signed_path=other)
    assert forged.status == 403
    assert (await outbound(api, sent["id"], "sent")).delivery_status == "sent"


async def test_an_invalid_number_fails_the_message_with_the_reason(
    api: Api, fake: FakeTwilio
) -> None:
    number = await conversation(api, "+15005550001")
    sent = await reply(api, number)
    msg = await outbound(api, sent["id"], "failed")
    assert msg.delivery_error is not None and "21211" in msg.delivery_error
    assert "not a valid phone number" in msg.delivery_error
    assert fake.messages == []


async def test_21610_marks_the_number_opted_out_and_blocks_further_replies(
    api: Api, fake: FakeTwilio
) -> None:
    number = await conversation(api, "+15005550004")
    sent = await reply(api, number)
    msg = await outbound(api, sent["id"], "failed")
    assert msg.delivery_error is not None and "21610" in msg.delivery_error
    refused = await reply(api, number, "还在吗", status=400)
    assert "21610" in refused["error"]["message"]
    detail = await api.get(f"/api/v1/tickets/{number}")
    [identity] = detail["customer"]["identities"]
    assert identity["unreachable"] and "opted out" in identity["unreachable"]


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (500, 20500), (503, 20503)])
async def test_rate_limits_and_server_errors_are_retried(
    api: Api, fake: FakeTwilio, status: int, code: int
) -> None:
    fake.fail_next(status, code, "try later")
    fake.fail_next(status, code, "try later")
    number = await conversation(api)
    sent = await reply(api, number)
    msg = await outbound(api, sent["id"], "sent")
    assert [m["To"] for m in fake.messages] == [CUSTOMER] and fake.scripted == []
    assert msg.external_id == fake.messages[0]["Sid"]


@pytest.mark.parametrize("word", ["STOP", "unsubscribe", "Cancel", "END", "quit", "退订", "TD"])
async def test_an_opt_out_keyword_blocks_replies_until_start(api: Api, word: str) -> None:
    number = await conversation(api)
    await sms_in(api, fixture("sms__text", Body=word, MessageSid=sid()))
    refused = await reply(api, number, status=400)
    assert f"opted out by SMS ({word.upper()})" in refused["error"]["message"]
    # The keyword itself is on the ticket, so the agent sees what the customer wrote.
    detail = await api.get(f"/api/v1/tickets/{number}")
    assert detail["messages"][-1]["text"] == word

    await sms_in(api, fixture("sms__text", Body="START", MessageSid=sid()))
    await reply(api, number)


async def test_the_chinese_opt_out_fixture_and_advanced_opt_out(api: Api) -> None:
    number = await conversation(api)
    await sms_in(api, fixture("sms__opt_out_chinese"))
    assert "退订" in (await reply(api, number, status=400))["error"]["message"]
    await sms_in(api, fixture("sms__text", Body="unstop", MessageSid=sid()))
    await reply(api, number)
    await sms_in(api, fixture("sms__opt_out_advanced"))
    await reply(api, number, status=400)


async def test_a_redelivered_old_stop_does_not_undo_a_newer_start(api: Api) -> None:
    number = await conversation(api)
    stop = fixture("sms__text", Body="STOP", MessageSid=sid())
    await sms_in(api, stop)
    await sms_in(api, fixture("sms__text", Body="START", MessageSid=sid()))
    await sms_in(api, stop)  # Twilio delivers the old STOP once more
    await reply(api, number)


async def test_a_queued_reply_to_a_number_that_then_opts_out_is_not_sent(
    api: Api, fake: FakeTwilio
) -> None:
    number = await conversation(api)
    api.runtime.dispatcher.stop()
    sent = await reply(api, number)
    await sms_in(api, fixture("sms__text", Body="退订", MessageSid=sid()))
    await api.runtime.dispatcher.run_once()
    msg = await outbound(api, sent["id"], "failed")
    assert "opted out" in (msg.delivery_error or "") and fake.messages == []


async def test_a_late_receipt_of_an_earlier_send_never_marks_the_retried_one(
    api: Api, fake: FakeTwilio
) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession

    import tickets
    from tickets import staff

    number = await conversation(api)
    sent = await reply(api, number)
    await outbound(api, sent["id"], "sent")
    first = fake.messages[0]
    code = await status_callback(api, first["StatusCallback"], "undelivered", first["Sid"])
    assert code == 200
    await outbound(api, sent["id"], "failed")

    async def retry(session: AsyncSession, now: Any) -> tuple[None, Any]:
        user_id = await staff.user_id_by_email(session, "supervisor@example.com")
        who = await staff.load_staff(session, user_id)
        assert who is not None
        written = await tickets.retry_message(session, who, number, sent["id"], now)
        return None, written.events

    await api.runtime.desk.write(retry)
    await eventually(lambda: _sends(fake, 2), timeout=10.0)
    second = fake.messages[1]
    assert second["StatusCallback"] != first["StatusCallback"]
    await outbound(api, sent["id"], "sent")
    # Twilio reports the first send once more, late: the retried send is not touched.
    assert await status_callback(api, first["StatusCallback"], "failed", first["Sid"]) == 200
    assert (await outbound(api, sent["id"], "sent")).delivery_error is None
    assert await status_callback(api, second["StatusCallback"], "delivered", second["Sid"]) == 200
    await outbound(api, sent["id"], "delivered")


async def _sends(fake: FakeTwilio, count: int) -> bool:
    return len(fake.messages) >= count


async def test_twenty_concurrent_deliveries_of_one_stop_store_it_once(api: Api) -> None:
    import asyncio

    number = await conversation(api)
    stop = fixture("sms__text", Body="退订", MessageSid=sid())
    responses = await asyncio.gather(
        *(post_signed(api, "/webhooks/twilio/sms", stop) for _ in range(20))
    )
    assert [r.status for r in responses] == [200] * 20
    texts = [m.text for m in await stored_messages(api)]
    assert texts.count("退订") == 1
    await reply(api, number, status=400)
