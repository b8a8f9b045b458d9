"""The IVR through the real webhook routes: TwiML for each branch in both languages
(asserted on the parsed XML), signatures, order status with and without an ERP answer,
and business hours."""

from __future__ import annotations

from typing import Any

import pytest

from tests.channels.voice.helpers import (
    CLOSED,
    PUBLIC_URL,
    call_params,
    local,
    start_phone,
    texts,
)
from tests.conftest import Stack


@pytest.fixture
async def phone(aiohttp_client: Any, aiohttp_server: Any, stack: Stack, redis_prefix: str) -> Any:
    return await start_phone(aiohttp_client, aiohttp_server, stack, redis_prefix)


async def test_greeting_offers_both_languages_by_key_and_voice(phone: Any) -> None:
    root = await phone.twiml("/webhooks/twilio/voice", call_params("CA100"))
    assert root.tag == "Response"
    (gather,) = root.findall("Gather")
    assert gather.get("input") == "dtmf speech" and gather.get("numDigits") == "1"
    assert local(gather.get("action", "")).startswith("/webhooks/twilio/voice/language")
    says = gather.findall("Say")
    assert [s.get("language") for s in says] == ["zh-CN", "en-US"]
    assert "按1" in (says[0].text or "") and "press 2" in (says[1].text or "")
    assert root.find("Redirect") is not None, "no input: asked again"
    call = await phone.call("CA100")
    assert call.state == "ivr" and call.caller == "+8613800138000"


@pytest.mark.parametrize(
    ("choice", "tts", "menu_words"),
    [
        ({"Digits": "1"}, "zh-CN", "维修服务请按2"),
        ({"Digits": "2"}, "en-US", "For repair service, press 2"),
        ({"SpeechResult": "English please", "Confidence": "0.9"}, "en-US", "press 3"),
        ({"SpeechResult": "中文", "Confidence": "0.8"}, "zh-CN", "订单状态请按1"),
    ],
)
async def test_language_choice_leads_to_the_menu_in_that_language(
    phone: Any, choice: dict[str, str], tts: str, menu_words: str
) -> None:
    await phone.post("/webhooks/twilio/voice", call_params("CA101"))
    root = await phone.twiml("/webhooks/twilio/voice/language", call_params("CA101", **choice))
    (gather,) = root.findall("Gather")
    assert gather.get("language") == tts and gather.get("input") == "dtmf speech"
    assert menu_words in (gather.find("Say").text or "")
    assert gather.find("Say").get("language") == tts
    lang = "zh" if tts == "zh-CN" else "en"
    assert local(gather.get("action", "")).startswith(f"/webhooks/twilio/voice/menu?lang={lang}")
    assert (await phone.call("CA101")).language == lang


async def test_no_language_chosen_asks_once_more_then_speaks_chinese(phone: Any) -> None:
    await phone.post("/webhooks/twilio/voice", call_params("CA102"))
    again = await phone.twiml("/webhooks/twilio/voice/language", call_params("CA102"))
    assert local(again.find("Redirect").text or "") == "/webhooks/twilio/voice?attempt=1"
    root = await phone.twiml(
        "/webhooks/twilio/voice/language?attempt=1", call_params("CA102", Digits="9")
    )
    assert root.find("Gather").get("language") == "zh-CN"


@pytest.mark.parametrize(
    ("lang", "tts", "words"), [("zh", "zh-CN", "订单号"), ("en", "en-US", "order number")]
)
async def test_order_status_asks_for_the_number(
    phone: Any, lang: str, tts: str, words: str
) -> None:
    await phone.post("/webhooks/twilio/voice", call_params("CA103"))
    root = await phone.twiml(
        f"/webhooks/twilio/voice/menu?lang={lang}", call_params("CA103", Digits="1")
    )
    (gather,) = root.findall("Gather")
    assert gather.get("input") == "dtmf" and gather.get("finishOnKey") == "#"
    assert local(gather.get("action", "")) == f"/webhooks/twilio/voice/order?lang={lang}"
    say = gather.find("Say")
    assert say is not None and say.get("language") == tts and words in (say.text or "")


async def test_order_status_without_erp_promises_and_owes_a_call_back(phone: Any) -> None:
    await phone.post("/webhooks/twilio/voice", call_params("CA104"))
    root = await phone.twiml(
        "/webhooks/twilio/voice/order?lang=en", call_params("CA104", Digits="20261124#")
    )
    (say,) = root.findall("Say")
    assert "An agent will call you back" in (say.text or "") and "20261124" in (say.text or "")
    assert root.find("Hangup") is not None
    call = await phone.call("CA104")
    assert call.ticket_id is not None and call.callback_due and call.callback_done_at is None
    tickets = await phone.client.get("/api/v1/tickets", headers=phone.as_("supervisor@example.com"))
    (ticket,) = (await tickets.json())["tickets"]
    assert ticket["channel"] == "voice" and ticket["queue"] == "Orders"
    assert ticket["customer"]["identities"][0]["address"] == "+8613800138000"


async def test_order_status_answered_from_the_erp_hook(phone: Any) -> None:
    asked: list[tuple[str, str]] = []

    async def lookup(order_number: str, language: str) -> str | None:
        asked.append((order_number, language))
        return "您的订单已发货，预计明天送达。"

    phone.voice.orders = lookup
    root = await phone.twiml(
        "/webhooks/twilio/voice/order?lang=zh", call_params("CA105", Digits="8848#")
    )
    says = texts(root, "Say")
    assert says[0] == "您的订单已发货，预计明天送达。" and root.find("Hangup") is not None
    assert asked == [("8848", "zh")]
    assert all(s.get("language") == "zh-CN" for s in root.iter("Say"))


@pytest.mark.parametrize(("lang", "tts"), [("zh", "zh-CN"), ("en", "en-US")])
async def test_repair_enqueues_the_caller_with_a_ticket(phone: Any, lang: str, tts: str) -> None:
    sid = f"CA106{lang}"
    await phone.post("/webhooks/twilio/voice", call_params(sid))
    root = await phone.twiml(
        f"/webhooks/twilio/voice/menu?lang={lang}", call_params(sid, Digits="2")
    )
    assert root.find("Say").get("language") == tts
    (enqueue,) = root.findall("Enqueue")
    assert enqueue.text == "Repairs"
    assert local(enqueue.get("waitUrl", "")) == f"/webhooks/twilio/voice/wait?lang={lang}"
    assert local(enqueue.get("action", "")) == f"/webhooks/twilio/voice/queue-done?lang={lang}"
    call = await phone.call(sid)
    assert call.state == "queued" and call.queue_name == "Repairs" and call.ticket_id


async def test_other_by_voice_and_speech_in_english(phone: Any) -> None:
    root = await phone.twiml(
        "/webhooks/twilio/voice/menu?lang=en",
        call_params("CA107", SpeechResult="something else", Confidence="0.7"),
    )
    assert root.find("Enqueue") is not None


async def test_outside_business_hours_goes_straight_to_voicemail(
    aiohttp_client: Any, aiohttp_server: Any, stack: Stack, redis_prefix: str
) -> None:
    phone = await start_phone(aiohttp_client, aiohttp_server, stack, redis_prefix, now=CLOSED)
    root = await phone.twiml(
        "/webhooks/twilio/voice/menu?lang=en", call_params("CA108", Digits="2")
    )
    assert root.find("Enqueue") is None
    assert "closed" in texts(root, "Say")[0]
    (record,) = root.findall("Record")
    assert record.get("transcribe") == "true"
    assert (
        local(record.get("transcribeCallback", ""))
        == "/webhooks/twilio/voice/transcription?lang=en"
    )
    assert local(record.get("recordingStatusCallback", "")).startswith(
        "/webhooks/twilio/voice/recording"
    )
    call = await phone.call("CA108")
    assert call.state == "voicemail" and call.callback_due


async def test_signatures_are_checked_on_every_voice_webhook(phone: Any) -> None:
    params = call_params("CA109")
    await phone.post("/webhooks/twilio/voice", params, signature=None, status=403)
    await phone.post("/webhooks/twilio/voice", params, signature="bm90IGl0", status=403)
    from twilio.request_validator import RequestValidator

    from tests.fakes.twilio_voice import AUTH_TOKEN

    good = RequestValidator(AUTH_TOKEN).compute_signature(
        PUBLIC_URL + "/webhooks/twilio/voice", params
    )
    tampered = {**params, "From": "+8613900000000"}
    await phone.post("/webhooks/twilio/voice", tampered, signature=good, status=403)
    await phone.post("/webhooks/twilio/voice?attempt=1", params, signature=good, status=403)
    for path in ("/menu?lang=en", "/wait?lang=en", "/recording", "/transcription", "/status"):
        await phone.post(f"/webhooks/twilio/voice{path}", params, signature=None, status=403)
    await phone.post("/webhooks/twilio/voice", params, signature=good)


async def test_a_caller_is_the_same_customer_as_their_sms(phone: Any) -> None:
    from tests.helpers import inbound

    texted = await phone.runtime.desk.ingest(inbound("13800138000", "空调不制冷"))
    await phone.post("/webhooks/twilio/voice/menu?lang=zh", call_params("CA110", Digits="2"))
    call = await phone.call("CA110")
    assert call.ticket_id is not None and call.ticket_id != texted.ticket_id
    headers = phone.as_("supervisor@example.com")
    tickets = (await (await phone.client.get("/api/v1/tickets", headers=headers)).json())["tickets"]
    by_channel = {t["channel"]: t["customer"]["id"] for t in tickets}
    assert by_channel == {"sms": texted.customer_id, "voice": texted.customer_id}
