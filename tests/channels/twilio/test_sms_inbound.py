"""``POST /webhooks/twilio/sms`` through the real route: signatures, Twilio's documented
payloads (SMS, MMS with two images), media downloaded with the account's credentials,
idempotent re-delivery (also 20 at once), empty TwiML only after the commit and 5xx when
the message could not be stored."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest

from channels.twilio.sms import inbound_sms, opt_keyword
from tests.apphelpers import Api
from tests.channels.twilio.conftest import (
    fixture,
    post_signed,
    sms_in,
    stored_attachments,
    stored_messages,
    stored_tickets,
)
from tests.fakes.twilio import AUTH_TOKEN, FakeTwilio
from tickets import format_number

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


async def test_a_text_message_becomes_a_ticket_and_twilio_gets_empty_twiml(api: Api) -> None:
    params = fixture("sms__text")
    response = await sms_in(api, params)
    assert response.content_type == "text/xml"
    root = ElementTree.fromstring(await response.text())
    assert root.tag == "Response" and list(root) == []
    # Answered after the commit: the message is there the moment Twilio hears back.
    [msg] = await stored_messages(api)
    assert msg.external_id == params["MessageSid"] and msg.channel == "sms"
    assert msg.text == "我家空调不制冷了，能派人来修吗？" and msg.direction == "in"
    [ticket] = await stored_tickets(api)
    detail = await api.get(f"/api/v1/tickets/{format_number(ticket.id)}")
    assert detail["channel"] == "sms"
    assert {"channel": "phone", "address": "+8613800138000"}.items() <= detail["customer"][
        "identities"
    ][0].items()


def test_every_form_field_is_kept_and_unknown_ones_never_crash() -> None:
    params = fixture("sms__text", SomeFieldTwilioAddsLater="x", MediaUrl7="ignored")
    msg = inbound_sms(params, datetime(2026, 12, 4, tzinfo=UTC))
    assert msg.extra["SomeFieldTwilioAddsLater"] == "x" and msg.extra["FromCountry"] == "CN"
    assert msg.sender == "+8613800138000" and msg.external_id == params["MessageSid"]
    with pytest.raises(TypeError):
        msg.extra["Body"] = "changed"  # type: ignore[index]


async def test_unknown_parameters_and_a_bad_num_media_are_accepted(api: Api) -> None:
    await sms_in(api, fixture("sms__text", NumMedia="lots", AddOns='{"status":"successful"}'))
    assert len(await stored_messages(api)) == 1


@pytest.mark.parametrize("case", ["tampered body", "tampered url", "missing header", "wrong key"])
async def test_a_bad_signature_is_refused_and_logged_once_without_secrets(
    api: Api, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    params = fixture("sms__text")
    path = "/webhooks/twilio/sms"
    with caplog.at_level(logging.INFO):
        if case == "tampered body":
            response = await post_signed(
                api, path, {**params, "Body": "转账给我"}, signed_params=params
            )
        elif case == "tampered url":
            response = await post_signed(api, path, params, signed_path=path + "?x=1")
        elif case == "missing header":
            response = await post_signed(api, path, params, headers=False)
        else:
            from tests.fakes.twilio import PUBLIC_URL, sign

            response = await post_signed(
                api, path, params, signature=sign(PUBLIC_URL + path, params, "not-the-token")
            )
    assert response.status == 403
    assert await stored_messages(api) == []
    lines = [r.getMessage() for r in caplog.records if "X-Twilio-Signature" in r.getMessage()]
    assert len(lines) == 1
    assert AUTH_TOKEN not in caplog.text and params["Body"] not in caplog.text


async def test_a_signed_query_string_is_part_of_the_url(api: Api) -> None:
    params = fixture("sms__text")
    response = await post_signed(api, "/webhooks/twilio/sms?tenant=1", params)
    assert response.status == 200


async def test_mms_with_two_images_is_stored_with_both_files(api: Api, fake: FakeTwilio) -> None:
    params = fixture("sms__mms_two_images")
    fake.add_media(JPEG, "image/jpeg", params["MediaUrl0"])
    fake.add_media(PNG, "image/png", params["MediaUrl1"])
    await sms_in(api, params)
    [msg] = await stored_messages(api)
    assert msg.text == "Here is the broken part and the label"
    files = await stored_attachments(api)
    assert [(f.name, f.content_type, f.size) for f in files] == [
        ("mms-1.jpg", "image/jpeg", len(JPEG)),
        ("mms-2.png", "image/png", len(PNG)),
    ]
    assert all(f.message_id == msg.id for f in files)
    assert len(fake.media_fetches) == 2  # with the account's credentials (the fake checks)


async def test_media_is_typed_by_its_bytes_and_limited_in_size(api: Api, fake: FakeTwilio) -> None:
    lying = fake.add_media(b"<html><script>alert(1)</script></html>", "image/jpeg")
    huge = fake.add_media(JPEG + b"\x00" * (11 * 1024 * 1024), "image/jpeg")
    params = fixture(
        "sms__text",
        NumMedia="2",
        MediaUrl0=lying,
        MediaContentType0="image/jpeg",
        MediaUrl1=huge,
        MediaContentType1="image/jpeg",
    )
    await sms_in(api, params)
    [msg] = await stored_messages(api)
    [stored] = await stored_attachments(api)
    assert stored.content_type == "application/octet-stream" and stored.name == "mms-1"
    assert "attachment 2 not kept" in msg.text and "larger than" in msg.text


async def test_media_outage_answers_503_and_the_retry_stores_the_message_once(
    api: Api, fake: FakeTwilio
) -> None:
    params = fixture("sms__mms_two_images")
    fake.add_media(JPEG, "image/jpeg", params["MediaUrl0"])
    fake.add_media(PNG, "image/png", params["MediaUrl1"])
    fake.media_status = 503
    failed = await post_signed(api, "/webhooks/twilio/sms", params)
    assert failed.status == 503 and await stored_messages(api) == []
    fake.media_status = None
    await sms_in(api, params)
    await sms_in(api, params)
    assert len(await stored_messages(api)) == 1 and len(await stored_attachments(api)) == 2


async def test_a_redelivered_message_sid_is_a_no_op(api: Api) -> None:
    params = fixture("sms__text")
    first = await sms_in(api, params)
    again = await sms_in(api, params)
    assert await first.text() == await again.text()
    assert len(await stored_messages(api)) == 1 and len(await stored_tickets(api)) == 1


async def test_twenty_concurrent_redeliveries_store_one_message(api: Api) -> None:
    params = fixture("sms__text")
    responses = await asyncio.gather(
        *(post_signed(api, "/webhooks/twilio/sms", params) for _ in range(20))
    )
    assert [r.status for r in responses] == [200] * 20
    assert len(await stored_messages(api)) == 1 and len(await stored_tickets(api)) == 1


async def test_a_second_message_threads_into_the_open_ticket(api: Api) -> None:
    await sms_in(api, fixture("sms__text"))
    await sms_in(api, fixture("sms__text", MessageSid="SM" + "9" * 32, Body="还在吗"))
    assert len(await stored_messages(api)) == 2 and len(await stored_tickets(api)) == 1


async def test_a_database_failure_answers_5xx_so_twilio_delivers_again(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    desk = api.runtime.desk
    real = desk.ingest

    async def broken(*args: object, **kwargs: object) -> object:
        raise OperationalError("INSERT INTO messages", {}, Exception("disk I/O error"))

    monkeypatch.setattr(desk, "ingest", broken)
    params = fixture("sms__text")
    failed = await post_signed(api, "/webhooks/twilio/sms", params)
    assert failed.status >= 500 and "Response" not in await failed.text()
    monkeypatch.setattr(desk, "ingest", real)
    await sms_in(api, params)
    assert len(await stored_messages(api)) == 1


async def test_a_webhook_without_from_is_a_clear_400(api: Api) -> None:
    params = {k: v for k, v in fixture("sms__text").items() if k != "From"}
    response = await post_signed(api, "/webhooks/twilio/sms", params)
    assert response.status == 400 and "From" in await response.text()


@pytest.mark.parametrize(
    ("body", "opt_out_type", "expected"),
    [
        ("STOP", None, ("out", "STOP")),
        ("stop", None, ("out", "STOP")),
        (" Unsubscribe! ", None, ("out", "UNSUBSCRIBE")),
        ("cancel", None, ("out", "CANCEL")),
        ("End", None, ("out", "END")),
        ("quit.", None, ("out", "QUIT")),
        ("退订", None, ("out", "退订")),
        ("退订。", None, ("out", "退订")),
        ("td", None, ("out", "TD")),
        ("Stop sending me these", "STOP", ("out", "STOP SENDING ME THESE")),
        ("START", None, ("in", "START")),
        ("unstop", None, ("in", "UNSTOP")),
        ("please stop the noise", None, None),
        ("yes", None, None),
        ("我要退订单", None, None),
        ("HELP", "HELP", None),
    ],
)
def test_opt_keywords(
    body: str, opt_out_type: str | None, expected: tuple[str, str] | None
) -> None:
    assert opt_keyword(body, opt_out_type) == expected


async def test_an_mms_without_text_is_stored_with_its_picture(api: Api, fake: FakeTwilio) -> None:
    url = fake.add_media(PNG, "image/png")
    params = fixture(
        "sms__text", Body="", NumMedia="1", MediaUrl0=url, MediaContentType0="image/png"
    )
    await sms_in(api, params)
    [msg] = await stored_messages(api)
    [picture] = await stored_attachments(api)
    assert msg.text == "" and picture.message_id == msg.id and picture.content_type == "image/png"
    [ticket] = await stored_tickets(api)
    assert ticket.subject


async def test_media_outside_twilio_is_never_fetched_with_our_credentials() -> None:
    from channels.twilio.sdk import TwilioApi, TwilioConfig
    from channels.twilio.sms import TwilioSms

    config = TwilioConfig("AC1", "token", "+15005550006", "https://desk.example.com")
    sms = TwilioSms(desk=None, api=TwilioApi(config), blobs=None)  # type: ignore[arg-type]
    assert sms._trusted("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1")
    assert sms._trusted("https://media.twiliocdn.twilio.com/x")
    assert not sms._trusted("https://evil.example.com/api.twilio.com/x")
    assert not sms._trusted("http://api.twilio.com/x")
    assert not sms._trusted("https://api.twilio.com.evil.example.com/x")
    note = await sms._one(0, "https://evil.example.com/x")
    assert note == "[attachment 1 not fetched: not a Twilio URL]"
