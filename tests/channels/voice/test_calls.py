"""A call's life after the menu, through the real routes and the fake Twilio REST API:
a waiting caller is bridged to the agent who accepts the offer; nobody accepting leads
to voicemail, whose recording and transcription land on the ticket; an abandoned call
owes a call-back; the call-back button calls the agent, then the customer."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

import tickets
from tests.agent_ui.webhelpers import sign_in
from tests.channels.voice.helpers import CALLER, call_params, local, start_phone, texts
from tests.conftest import Stack
from tests.fakes.twilio_voice import ACCOUNT_SID, RECORDING_MP3
from tests.helpers import eventually

API = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}"


@pytest.fixture
async def phone(aiohttp_client: Any, aiohttp_server: Any, stack: Stack, redis_prefix: str) -> Any:
    return await start_phone(aiohttp_client, aiohttp_server, stack, redis_prefix)


async def _queued(phone: Any, sid: str, lang: str = "zh") -> None:
    await phone.post("/webhooks/twilio/voice", call_params(sid))
    root = await phone.twiml(
        f"/webhooks/twilio/voice/menu?lang={lang}", call_params(sid, Digits="2")
    )
    assert root.find("Enqueue") is not None


def _wait(sid: str, seconds: int, position: int = 1) -> dict[str, str]:
    return call_params(
        sid,
        QueueSid="QU" + "1" * 32,
        QueuePosition=str(position),
        QueueTime=str(seconds),
        AvgQueueTime="30",
        CurrentQueueSize=str(position),
    )


async def _user_id(phone: Any, email: str) -> int:
    found = await phone.runtime.desk.read(lambda s: tickets.user_id_by_email(s, email))
    assert found is not None
    return int(found)


async def test_a_caller_is_bridged_to_the_agent_who_accepts(phone: Any) -> None:
    agent = "agent1@example.com"
    await _queued(phone, "CA200")

    hold = await phone.twiml("/webhooks/twilio/voice/wait?lang=zh", _wait("CA200", 5, 2))
    assert "您前面还有 1 位客户" in texts(hold, "Say")[0]
    assert hold.find("Play") is not None and hold.find("Leave") is None
    again = await phone.twiml("/webhooks/twilio/voice/wait?lang=zh", _wait("CA200", 35, 1))
    assert again.find("Say") is None, "the position is announced once a minute"
    phone.clock.now = phone.clock.now.replace(minute=1, second=1)
    later = await phone.twiml("/webhooks/twilio/voice/wait?lang=zh", _wait("CA200", 65, 1))
    assert "您前面还有 0 位客户" in texts(later, "Say")[0]
    await phone.client.post("/api/v1/presence", json={"status": "online"}, headers=phone.as_(agent))

    async def offers() -> list[Any]:
        response = await phone.client.get("/api/v1/offers", headers=phone.as_(agent))
        return list((await response.json())["offers"])

    (offer,) = await eventually(offers)
    assert offer["channel"] == "voice"
    accepted = await phone.client.post(
        f"/api/v1/offers/{offer['id']}/accept", headers=phone.as_(agent)
    )
    assert accepted.status == 200, await accepted.text()

    await eventually(lambda: _ready(phone.fake.dequeued))
    ((queue, sid, form),) = phone.fake.dequeued
    agent_id = (await phone.call("CA200")).agent_id
    assert queue == "QU" + "1" * 32 and sid == "CA200" and form["Method"] == "POST"
    assert local(form["Url"]) == f"/webhooks/twilio/voice/bridge?lang=zh&agent={agent_id}"

    bridged = await phone.twiml(local(form["Url"]), call_params("CA200"))
    (dial,) = bridged.findall("Dial")
    assert [c.text for c in dial.iter("Client")] == [f"agent_{agent_id}"]
    whisper = local(dial.find("Client").get("url", ""))
    number = tickets.format_number((await phone.call("CA200")).ticket_id)
    heard = await phone.twiml(whisper, call_params("CA" + "e" * 32, Direction="outbound-dial"))
    assert texts(heard, "Say") == [f"来电工单 {number}。"]
    assert local(dial.get("action", "")) == "/webhooks/twilio/voice/dial-done?lang=zh"
    assert (await phone.call("CA200")).state == "bridged"

    done = await phone.twiml(
        "/webhooks/twilio/voice/dial-done?lang=zh",
        call_params("CA200", DialCallStatus="completed", DialCallDuration="95"),
    )
    assert done.find("Hangup") is not None
    await phone.post(
        "/webhooks/twilio/voice/status",
        call_params("CA200", CallStatus="completed", CallDuration="130"),
        status=204,
    )
    call = await phone.call("CA200")
    assert call.outcome == "completed" and call.duration_s == 130 and not call.callback_due
    await sign_in(phone.client, agent)
    page = await (await phone.client.get(f"/agent/tickets/{number}")).text()
    assert '<span class="voice-agent">Agent 王芳 Wang Fang</span>' in page
    assert '<span class="voice-duration">Duration 2:10</span>' in page


async def _ready(items: list[Any]) -> bool:
    return bool(items)


async def test_an_agent_with_a_phone_number_is_dialled_there(phone: Any) -> None:
    from channels.twilio import voice_store

    agent_id = await _user_id(phone, "agent2@example.com")
    await phone.runtime.desk.write(
        lambda s, now: _none(voice_store.set_agent_phone(s, agent_id, "+8613911112222"))
    )
    await _queued(phone, "CA201", "en")
    root = await phone.twiml(
        f"/webhooks/twilio/voice/bridge?lang=en&agent={agent_id}", call_params("CA201")
    )
    (dial,) = root.findall("Dial")
    assert [n.text for n in dial.iter("Number")] == ["+8613911112222"]
    assert dial.get("callerId") == "+15005550006"


async def _none(work: Any) -> tuple[None, list[Any]]:
    await work
    return None, []


async def test_nobody_accepting_leads_to_voicemail_with_recording_and_transcript(
    phone: Any,
) -> None:
    await _queued(phone, "CA202", "en")
    leave = await phone.twiml("/webhooks/twilio/voice/wait?lang=en", _wait("CA202", 301))
    assert leave.find("Leave") is not None
    root = await phone.twiml(
        "/webhooks/twilio/voice/queue-done?lang=en",
        call_params("CA202", QueueResult="leave", QueueTime="301", QueueSid="QU" + "1" * 32),
    )
    assert "all our agents are busy" in texts(root, "Say")[0]
    (record,) = root.findall("Record")
    assert record.get("transcribe") == "true" and record.get("playBeep") == "true"
    call = await phone.call("CA202")
    assert call.state == "voicemail" and call.callback_due

    recording = {
        **call_params("CA202"),
        "RecordingSid": "RE" + "2" * 32,
        "RecordingUrl": f"{API}/Recordings/RE{'2' * 32}",
        "RecordingStatus": "completed",
        "RecordingDuration": "14",
        "RecordingChannels": "1",
        "RecordingSource": "RecordVerb",
    }
    phone.fake.recording_failures = 1
    await phone.post(local(record.get("recordingStatusCallback", "")), recording, status=503)
    await phone.post(local(record.get("recordingStatusCallback", "")), recording, status=204)
    await phone.post(local(record.get("recordingStatusCallback", "")), recording, status=204)
    transcription = {
        **call_params("CA202"),
        "TranscriptionSid": "TR" + "3" * 32,
        "TranscriptionText": "My washing machine leaks, please call me back.",
        "TranscriptionStatus": "completed",
        "TranscriptionUrl": f"{API}/Transcriptions/TR{'3' * 32}",
        "RecordingSid": "RE" + "2" * 32,
        "RecordingUrl": recording["RecordingUrl"],
    }
    await phone.post(local(record.get("transcribeCallback", "")), transcription, status=204)
    thanks = await phone.twiml(local(record.get("action", "")), recording)
    assert thanks.find("Hangup") is not None

    call = await phone.call("CA202")
    assert call.recording_sid == "RE" + "2" * 32 and call.recording_duration_s == 14
    assert call.transcript == "My washing machine leaks, please call me back."
    number = tickets.format_number(call.ticket_id)
    ticket = await (
        await phone.client.get(
            f"/api/v1/tickets/{number}", headers=phone.as_("supervisor@example.com")
        )
    ).json()
    voicemail = next(m for m in ticket["messages"] if m["attachments"])
    (audio,) = voicemail["attachments"]
    assert audio["content_type"] == "audio/mpeg" and audio["size"] == len(RECORDING_MP3)
    assert len([m for m in ticket["messages"] if m["attachments"]]) == 1, "re-delivery is a no-op"
    assert any("washing machine leaks" in m["text"] for m in ticket["messages"])
    got = await phone.client.get(
        f"/api/v1/attachments/{audio['id']}", headers=phone.as_("supervisor@example.com")
    )
    assert await got.read() == RECORDING_MP3

    await sign_in(phone.client, "agent1@example.com")
    page = await (await phone.client.get(f"/agent/tickets/{number}")).text()
    assert f'src="/api/v1/attachments/{audio["id"]}"' in page and "<audio" in page
    assert "My washing machine leaks, please call me back." in page
    assert "Call-back owed" in page and 'hx-post="/agent/tickets/' in page


async def test_an_unanswered_agent_phone_sends_the_caller_to_voicemail(phone: Any) -> None:
    await _queued(phone, "CA203")
    root = await phone.twiml(
        "/webhooks/twilio/voice/dial-done?lang=zh", call_params("CA203", DialCallStatus="no-answer")
    )
    assert root.find("Record") is not None and "留言" in texts(root, "Say")[0]


async def test_a_caller_hanging_up_in_the_queue_owes_a_call_back(phone: Any) -> None:
    await _queued(phone, "CA204")
    await phone.twiml(
        "/webhooks/twilio/voice/queue-done?lang=zh", call_params("CA204", QueueResult="hangup")
    )
    await phone.post(
        "/webhooks/twilio/voice/status",
        call_params("CA204", CallStatus="completed", CallDuration="40"),
        status=204,
    )
    call = await phone.call("CA204")
    assert call.state == "abandoned" and call.callback_due and call.duration_s == 40


async def test_the_call_back_button_calls_the_agent_then_the_customer(phone: Any) -> None:
    await _queued(phone, "CA205")
    await phone.twiml(
        "/webhooks/twilio/voice/queue-done?lang=zh", call_params("CA205", QueueResult="hangup")
    )
    number = tickets.format_number((await phone.call("CA205")).ticket_id)
    csrf = await sign_in(phone.client, "agent1@example.com")
    refused = await phone.client.post(f"/agent/tickets/{number}/voice/call-back")
    assert refused.status == 403, "CSRF token required"
    placed = await phone.client.post(
        f"/agent/tickets/{number}/voice/call-back",
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert placed.status == 200, await placed.text()
    assert CALLER in await placed.text() and placed.headers["HX-Trigger"] == "ticket-timeline"

    (created,) = phone.fake.created
    agent_id = await _user_id(phone, "agent1@example.com")
    assert created["To"] == f"client:agent_{agent_id}" and created["From"] == "+15005550006"
    assert local(created["StatusCallback"]) == "/webhooks/twilio/voice/status"
    twiml = ET.fromstring(created["Twiml"])
    (dial,) = twiml.findall("Dial")
    assert [n.text for n in dial.iter("Number")] == [CALLER]
    assert dial.get("callerId") == "+15005550006"

    ticket = await (
        await phone.client.get(f"/api/v1/tickets/{number}", headers=phone.as_("agent1@example.com"))
    ).json()
    note = ticket["messages"][-1]
    assert note["direction"] == "note" and CALLER in note["text"]

    outbound_sid = next(c for c in [await _sid_of_note(phone, note["id"])] if c)
    await phone.twiml(
        local(dial.get("action", "")),
        {**call_params(outbound_sid), "DialCallStatus": "completed", "DialCallDuration": "61"},
    )
    await phone.post(
        "/webhooks/twilio/voice/status",
        call_params(
            outbound_sid, CallStatus="completed", CallDuration="75", Direction="outbound-api"
        ),
        status=204,
    )
    back = await phone.call(outbound_sid)
    assert back.direction == "out" and back.outcome == "completed" and back.duration_s == 75
    assert (await phone.call("CA205")).callback_done_at is not None
    page = await (await phone.client.get(f"/agent/tickets/{number}")).text()
    assert "No call-back owed." in page and "Called back" in page


async def _sid_of_note(phone: Any, message_id: int) -> str | None:
    from channels.twilio import voice_store

    call = await phone.runtime.desk.read(lambda s: voice_store.call_of_message(s, message_id))
    return None if call is None else call.call_sid


async def test_call_back_is_for_phone_tickets_the_agent_may_see(phone: Any) -> None:
    await _queued(phone, "CA206")
    number = tickets.format_number((await phone.call("CA206")).ticket_id)
    csrf = await sign_in(phone.client, "agent3@example.com")  # Orders only: not their ticket
    response = await phone.client.post(
        f"/agent/tickets/{number}/voice/call-back", headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 404
    assert phone.fake.created == []


async def test_a_withheld_number_is_told_and_no_ticket_is_made(phone: Any) -> None:
    params = call_params("CA207", From="+266696687", Caller="+266696687")
    await phone.post("/webhooks/twilio/voice", params)
    root = await phone.twiml("/webhooks/twilio/voice/menu?lang=en", {**params, "Digits": "2"})
    assert "hidden number" in texts(root, "Say")[0] and root.find("Hangup") is not None
    assert (await phone.call("CA207")).ticket_id is None


async def test_a_caller_of_an_assigned_ticket_is_bridged_at_once(phone: Any) -> None:
    await _queued(phone, "CA208")
    number = tickets.format_number((await phone.call("CA208")).ticket_id)
    agent = "agent1@example.com"
    taken = await phone.client.patch(
        f"/api/v1/tickets/{number}", json={"assignee": agent}, headers=phone.as_(agent)
    )
    assert taken.status == 200, await taken.text()
    await eventually(lambda: _ready(phone.fake.updated))
    ((sid, form),) = phone.fake.updated
    assert sid == "CA208" and "/webhooks/twilio/voice/bridge?lang=zh&agent=" in form["Url"]

    await phone.post(
        "/webhooks/twilio/voice/status", call_params("CA208", CallStatus="completed"), status=204
    )
    root = await phone.twiml(
        "/webhooks/twilio/voice/menu?lang=zh", call_params("CA209", Digits="2")
    )
    (dial,) = root.findall("Dial")
    assert root.find("Enqueue") is None, "the ticket's agent takes the new call directly"
    assert [c.text for c in dial.iter("Client")] == [f"agent_{await _user_id(phone, agent)}"]


async def test_a_caller_gone_before_the_bridge_is_not_retried(phone: Any) -> None:
    await _queued(phone, "CA210")
    phone.fake.ended_calls.add("CA210")
    agent = "agent1@example.com"
    number = tickets.format_number((await phone.call("CA210")).ticket_id)
    await phone.client.patch(
        f"/api/v1/tickets/{number}", json={"assignee": agent}, headers=phone.as_(agent)
    )
    await eventually(lambda: _ready(phone.fake.updated))
    await phone.post(
        "/webhooks/twilio/voice/status", call_params("CA210", CallStatus="canceled"), status=204
    )
    call = await phone.call("CA210")
    assert call.state == "abandoned" and call.outcome == "canceled" and call.callback_due
    assert len(phone.fake.updated) == 1


async def test_a_call_back_twilio_refuses_says_so_and_logs_nothing(phone: Any) -> None:
    from channels.twilio import voice_store

    await _queued(phone, "CA211")
    number = tickets.format_number((await phone.call("CA211")).ticket_id)
    agent_id = await _user_id(phone, "agent1@example.com")
    await phone.runtime.desk.write(
        lambda s, now: _none(voice_store.set_agent_phone(s, agent_id, "+10000000000"))
    )
    csrf = await sign_in(phone.client, "agent1@example.com")
    response = await phone.client.post(
        f"/agent/tickets/{number}/voice/call-back", headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 502 and "could not be placed" in await response.text()
    assert phone.fake.created[0]["To"] == "+10000000000"
    ticket = await (
        await phone.client.get(f"/api/v1/tickets/{number}", headers=phone.as_("agent1@example.com"))
    ).json()
    assert [m["direction"] for m in ticket["messages"]] == ["in"]


async def test_twenty_concurrent_redeliveries_store_one_call_and_one_voicemail(
    phone: Any,
) -> None:
    import asyncio

    params = call_params("CA212")
    await asyncio.gather(*(phone.post("/webhooks/twilio/voice", params) for _ in range(20)))
    await phone.post("/webhooks/twilio/voice/menu?lang=en", {**params, "Digits": "3"})
    await phone.post(
        "/webhooks/twilio/voice/queue-done?lang=en", {**params, "QueueResult": "leave"}
    )
    recording = {
        **params,
        "RecordingSid": "RE" + "4" * 32,
        "RecordingUrl": f"{API}/Recordings/RE{'4' * 32}",
        "RecordingStatus": "completed",
        "RecordingDuration": "9",
    }
    await asyncio.gather(
        *(
            phone.post("/webhooks/twilio/voice/recording?lang=en", recording, status=204)
            for _ in range(20)
        )
    )
    number = tickets.format_number((await phone.call("CA212")).ticket_id)
    ticket = await (
        await phone.client.get(
            f"/api/v1/tickets/{number}", headers=phone.as_("supervisor@example.com")
        )
    ).json()
    assert len(ticket["messages"]) == 2
    assert len([m for m in ticket["messages"] if m["attachments"]]) == 1


async def test_the_sweep_sends_a_caller_past_the_maximum_wait_to_voicemail(phone: Any) -> None:
    from datetime import timedelta

    await _queued(phone, "CA213", "en")
    await phone.post("/webhooks/twilio/voice/wait?lang=en", _wait("CA213", 0))
    assert await phone.voice.sweep() == 0, "still within the queue's maximum wait"
    phone.clock.now += timedelta(seconds=301)
    assert await phone.voice.sweep() == 1
    assert await phone.voice.sweep() == 0, "claimed once"
    ((queue, sid, form),) = phone.fake.dequeued
    assert queue == "QU" + "1" * 32 and sid == "CA213"
    assert local(form["Url"]) == "/webhooks/twilio/voice/queue-done?lang=en"
    assert (await phone.call("CA213")).state == "leaving"
    hold = await phone.twiml("/webhooks/twilio/voice/wait?lang=en", _wait("CA213", 40))
    assert hold.find("Leave") is not None
    root = await phone.twiml(local(form["Url"]), call_params("CA213"))
    assert root.find("Record") is not None
    assert (await phone.call("CA213")).state == "voicemail"


async def test_per_queue_maximum_wait(
    aiohttp_client: Any, aiohttp_server: Any, stack: Stack, redis_prefix: str
) -> None:
    phone = await start_phone(
        aiohttp_client, aiohttp_server, stack, redis_prefix, voice_queue_max_wait="Repairs=60"
    )
    await _queued(phone, "CA214", "en")
    stay = await phone.twiml("/webhooks/twilio/voice/wait?lang=en", _wait("CA214", 59))
    assert stay.find("Leave") is None
    leave = await phone.twiml("/webhooks/twilio/voice/wait?lang=en", _wait("CA214", 60))
    assert leave.find("Leave") is not None
