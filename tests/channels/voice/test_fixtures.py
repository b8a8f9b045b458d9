"""One test per webhook fixture (``fixtures/<event>__<variant>.json``, modelled on the
parameters Twilio documents for each request), posted through the real route after the
steps of the call that come before it, checking what it did to the call and the ticket."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import tickets
from tests.channels.voice.helpers import Phone, start_phone
from tests.conftest import Stack

FIXTURES = Path(__file__).parent / "fixtures"
PATHS = {
    "voice__incoming": "/webhooks/twilio/voice",
    "gather__language_digits": "/webhooks/twilio/voice/language",
    "gather__menu_speech": "/webhooks/twilio/voice/menu?lang=en",
    "gather__order_digits": "/webhooks/twilio/voice/order?lang=en",
    "queue__wait": "/webhooks/twilio/voice/wait?lang=en",
    "queue__leave": "/webhooks/twilio/voice/queue-done?lang=en",
    "dial__no_answer": "/webhooks/twilio/voice/dial-done?lang=en",
    "recording__completed": "/webhooks/twilio/voice/recording?lang=en",
    "transcription__completed": "/webhooks/twilio/voice/transcription?lang=en",
    "status__completed": "/webhooks/twilio/voice/status",
}
CHAIN = [
    "voice__incoming",
    "gather__language_digits",
    "gather__menu_speech",
    "queue__wait",
    "queue__leave",
    "recording__completed",
    "transcription__completed",
    "status__completed",
]
BEFORE = {
    "gather__order_digits": ["voice__incoming", "gather__language_digits"],
    "dial__no_answer": CHAIN[:3],
}


def load(name: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    return data


async def _ticket(phone: Phone, ticket_id: int | None) -> dict[str, Any]:
    assert ticket_id is not None
    response = await phone.client.get(
        f"/api/v1/tickets/{tickets.format_number(ticket_id)}",
        headers=phone.as_("supervisor@example.com"),
    )
    body: dict[str, Any] = await response.json()
    return body


async def incoming(phone: Phone, answer: str, sid: str) -> None:
    assert ET.fromstring(answer).find("Gather") is not None
    assert (await phone.call(sid)).state == "ivr"


async def language(phone: Phone, answer: str, sid: str) -> None:
    gather = ET.fromstring(answer).find("Gather")
    assert gather is not None and gather.get("language") == "en-US"
    assert (await phone.call(sid)).language == "en"


async def menu(phone: Phone, answer: str, sid: str) -> None:
    assert ET.fromstring(answer).findtext("Enqueue") == "Repairs"
    call = await phone.call(sid)
    ticket = await _ticket(phone, call.ticket_id)
    assert ticket["channel"] == "voice" and ticket["messages"][0]["text"].endswith("repair service")


async def order(phone: Phone, answer: str, sid: str) -> None:
    assert "20261124" in (ET.fromstring(answer).findtext("Say") or "")
    call = await phone.call(sid)
    assert call.callback_due
    ticket = await _ticket(phone, call.ticket_id)
    assert ticket["queue"] == "Orders"


async def wait(phone: Phone, answer: str, sid: str) -> None:
    root = ET.fromstring(answer)
    assert "number 2 in the queue" in (root.findtext("Say") or "")
    assert (await phone.call(sid)).queue_sid == "QU" + "a" * 32


async def leave(phone: Phone, answer: str, sid: str) -> None:
    assert ET.fromstring(answer).find("Record") is not None
    call = await phone.call(sid)
    assert call.state == "voicemail" and call.callback_due


async def no_answer(phone: Phone, answer: str, sid: str) -> None:
    assert ET.fromstring(answer).find("Record") is not None
    assert (await phone.call(sid)).callback_due


async def recording(phone: Phone, answer: str, sid: str) -> None:
    call = await phone.call(sid)
    assert call.recording_duration_s == 17 and phone.fake.downloads == ["RE" + "b" * 32]
    ticket = await _ticket(phone, call.ticket_id)
    (voicemail,) = [m for m in ticket["messages"] if m["attachments"]]
    assert voicemail["attachments"][0]["content_type"] == "audio/mpeg"


async def transcription(phone: Phone, answer: str, sid: str) -> None:
    call = await phone.call(sid)
    assert call.transcript == "Hello, my fridge stopped cooling, please call me back."
    ticket = await _ticket(phone, call.ticket_id)
    assert ticket["messages"][-1]["text"].endswith("please call me back.")


async def status(phone: Phone, answer: str, sid: str) -> None:
    call = await phone.call(sid)
    assert call.outcome == "completed" and call.duration_s == 42 and call.state == "voicemail"


CHECKS: dict[str, Callable[[Phone, str, str], Awaitable[None]]] = {
    "voice__incoming": incoming,
    "gather__language_digits": language,
    "gather__menu_speech": menu,
    "gather__order_digits": order,
    "queue__wait": wait,
    "queue__leave": leave,
    "dial__no_answer": no_answer,
    "recording__completed": recording,
    "transcription__completed": transcription,
    "status__completed": status,
}
STATUS = {"recording__completed": 204, "transcription__completed": 204, "status__completed": 204}


def test_every_fixture_has_a_test() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
async def test_fixture_through_its_route(
    aiohttp_client: Any, aiohttp_server: Any, stack: Stack, redis_prefix: str, name: str
) -> None:
    phone = await start_phone(aiohttp_client, aiohttp_server, stack, redis_prefix)
    steps = BEFORE.get(name, CHAIN[: CHAIN.index(name)] if name in CHAIN else [])
    for step in steps:
        await phone.post(PATHS[step], load(step), status=STATUS.get(step, 200))
    params = load(name)
    answer = await phone.post(PATHS[name], params, status=STATUS.get(name, 200))
    await CHECKS[name](phone, answer, params["CallSid"])
