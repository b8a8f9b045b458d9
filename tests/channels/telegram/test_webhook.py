"""``POST /webhooks/telegram``: one test per documented update (through the real route,
checking the ticket the API shows), the secret token, re-delivery (also 20 at once), and
the updates the bot leaves alone."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.apphelpers import start_api
from tests.channels.telegram.conftest import CHAT, SECRET, TOKEN, Tg, fixture
from tests.conftest import Stack
from tests.fakes.telegram import FakeBotApi
from tests.helpers import inbound

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
PDF = b"%PDF-1.4\n" + b"1 0 obj\n" * 40
OGG = b"OggS\x00\x02" + b"\x00" * 300


async def only_ticket(tg: Tg) -> dict[str, Any]:
    listed = await tg.api.get("/api/v1/tickets?limit=10", who="admin@example.com")
    assert len(listed["tickets"]) == 1, listed
    number = listed["tickets"][0]["number"]
    ticket: dict[str, Any] = await tg.api.get(f"/api/v1/tickets/{number}", who="admin@example.com")
    return ticket


async def test_text_message_opens_a_telegram_ticket(tg: Tg) -> None:
    answer = await tg.deliver("message__text")
    assert answer["outcome"] == "ingested"
    ticket = await only_ticket(tg)
    assert ticket["channel"] == "telegram"
    assert ticket["customer"]["name"] == "Wei Zhang"
    assert {"channel": "telegram", "address": str(CHAT)} in [
        {"channel": i["channel"], "address": i["address"]} for i in ticket["customer"]["identities"]
    ]
    [message] = ticket["messages"]
    assert message["text"] == "我家空调不制冷了，型号 KFR-35GW"
    assert message["direction"] == "in" and message["author"] == "Wei Zhang"


async def test_photo_keeps_the_largest_size_as_an_attachment(tg: Tg) -> None:
    tg.bot.add_file("AgACAgIAAxkBAAIBbWd-large", PNG, "photos/file_7.png")
    tg.bot.add_file("AgACAgIAAxkBAAIBbWd-small", b"\xff\xd8\xffsmall", "photos/file_5.jpg")
    await tg.deliver("message__photo")
    [message] = (await only_ticket(tg))["messages"]
    assert message["text"] == "外机的铭牌"
    [attachment] = message["attachments"]
    assert attachment["content_type"] == "image/png" and attachment["size"] == len(PNG)
    fetched = [c.params["file_id"] for c in tg.bot.calls if c.method == "getFile"]
    assert fetched == ["AgACAgIAAxkBAAIBbWd-large"]
    download = await tg.api.client.get(
        f"/api/v1/attachments/{attachment['id']}", headers=tg.api.as_("admin@example.com")
    )
    assert download.status == 200 and await download.read() == PNG


async def test_document_keeps_its_name(tg: Tg) -> None:
    tg.bot.add_file("BQACAgIAAxkBAAIBbmd-doc", PDF, "documents/file_9.pdf")
    await tg.deliver("message__document")
    [message] = (await only_ticket(tg))["messages"]
    [attachment] = message["attachments"]
    assert attachment["name"] == "发票 invoice-2291.pdf"
    assert attachment["content_type"] == "application/pdf"


async def test_voice_note_is_stored_as_a_download(tg: Tg) -> None:
    tg.bot.add_file("AwACAgIAAxkBAAIBb2d-voice", OGG, "voice/file_3.oga")
    await tg.deliver("message__voice")
    [message] = (await only_ticket(tg))["messages"]
    [attachment] = message["attachments"]
    assert attachment["name"] == "voice.ogg"
    assert attachment["content_type"] == "application/octet-stream"
    assert attachment["size"] == len(OGG)


async def test_a_file_over_the_limit_is_named_not_downloaded(tg: Tg) -> None:
    tg.bot.add_file("BQACAgIAAxkBAAIBbmd-doc", PDF, "documents/file_9.pdf", declared=50 * 2**20)
    body = fixture("message__document")
    body["message"]["document"]["file_size"] = None
    await tg.post(body)
    [message] = (await only_ticket(tg))["messages"]
    assert message["attachments"] == []
    assert "not kept" in message["text"] and "发票 invoice-2291.pdf" in message["text"]
    assert [c.method for c in tg.bot.calls if c.method == "getFile"] == ["getFile"]


async def test_location_is_kept_with_its_coordinates(tg: Tg) -> None:
    await tg.deliver("message__location")
    [message] = (await only_ticket(tg))["messages"]
    assert message["text"] == "📍 31.230416, 121.473701"


async def test_own_contact_links_the_chat_to_the_customer_with_that_number(tg: Tg) -> None:
    sms = await tg.api.runtime.desk.ingest(inbound("+8613800138000", "短信：空调坏了"))
    await tg.deliver("message__text")
    await tg.deliver("message__contact")
    customer = await tg.api.get(f"/api/v1/customers/{sms.customer_id}", who="admin@example.com")
    addresses = {(i["channel"], i["address"]) for i in customer["identities"]}
    assert ("phone", "+8613800138000") in addresses and ("telegram", str(CHAT)) in addresses
    assert len(customer["tickets"]) == 2  # the SMS ticket and the Telegram one


async def test_someone_elses_contact_card_links_nothing(tg: Tg) -> None:
    await tg.deliver("message__text")
    body = fixture("message__contact")
    body["message"]["contact"]["user_id"] = 222222222
    await tg.post(body)
    ticket = await only_ticket(tg)
    channels = {i["channel"] for i in ticket["customer"]["identities"]}
    assert channels == {"telegram"}
    assert "📇 Wei Zhang 8613800138000" in ticket["messages"][-1]["text"]


async def test_edited_message_updates_the_text_and_is_no_second_message(tg: Tg) -> None:
    await tg.deliver("message__text")
    answer = await tg.deliver("edited_message__text")
    assert answer["outcome"] == "edited"
    [message] = (await only_ticket(tg))["messages"]
    assert message["text"] == "我家空调不制冷了，型号 KFR-35GW/BP3"
    again = await tg.deliver("edited_message__text")  # re-delivered edit
    assert again["outcome"] == "duplicate"


async def test_an_edit_of_a_message_never_received_becomes_that_message(tg: Tg) -> None:
    answer = await tg.deliver("edited_message__text")
    assert answer["outcome"] == "ingested:edited"
    [message] = (await only_ticket(tg))["messages"]
    assert message["text"].endswith("KFR-35GW/BP3")
    await tg.deliver("message__text")  # the original arriving late is a duplicate of it
    assert len((await only_ticket(tg))["messages"]) == 1


async def test_start_greets_in_the_users_language_and_opens_no_ticket(tg: Tg) -> None:
    answer = await tg.deliver("message__start")
    assert answer["outcome"] == "start"
    [greeting] = tg.bot.sent()
    assert int(greeting["chat_id"]) == CHAT and "您好" in greeting["text"]
    body = fixture("message__start")
    body["update_id"] += 100
    body["message"]["from"]["language_code"] = "en"
    await tg.post(body)
    assert tg.bot.sent()[-1]["text"].startswith("Hello")
    listed = await tg.api.get("/api/v1/tickets", who="admin@example.com")
    assert listed["tickets"] == []


async def test_group_messages_and_other_updates_get_200_and_are_ignored(tg: Tg) -> None:
    assert (await tg.deliver("message__group"))["outcome"] == "ignored:supergroup"
    assert (await tg.deliver("callback_query__button"))["outcome"] == "ignored:callback"
    assert (await tg.post({"update_id": 5, "poll": {"id": 1}})).status == 200
    listed = await tg.api.get("/api/v1/tickets", who="admin@example.com")
    assert listed["tickets"] == []


async def test_blocking_the_bot_marks_the_chat_unreachable_until_unblocked(tg: Tg) -> None:
    await tg.deliver("message__text")
    assert (await tg.deliver("my_chat_member__kicked"))["outcome"] == "blocked"
    identity = next(
        i for i in (await only_ticket(tg))["customer"]["identities"] if i["channel"] == "telegram"
    )
    assert "blocked the bot" in identity["unreachable"]
    assert (await tg.deliver("my_chat_member__member"))["outcome"] == "unblocked"
    identity = next(
        i for i in (await only_ticket(tg))["customer"]["identities"] if i["channel"] == "telegram"
    )
    assert identity["unreachable"] is None


async def test_secret_token_is_required(tg: Tg) -> None:
    body = fixture("message__text")
    assert (await tg.post(body, secret=None)).status == 403
    assert (await tg.post(body, secret="wrong")).status == 403
    assert (await tg.post(body, secret=SECRET_PREFIX_ONLY)).status == 403
    listed = await tg.api.get("/api/v1/tickets", who="admin@example.com")
    assert listed["tickets"] == []


SECRET_PREFIX_ONLY = "s3cret"


async def test_bad_bodies_get_400(tg: Tg) -> None:
    assert (await tg.post(None, raw=b"{not json")).status == 400
    assert (await tg.post({"message": {}})).status == 400
    assert (await tg.post([1, 2])).status == 400


async def test_twenty_concurrent_redeliveries_store_one_message(tg: Tg) -> None:
    tg.bot.add_file("AgACAgIAAxkBAAIBbWd-large", PNG, "photos/file_7.png")
    body = fixture("message__photo")
    responses = await asyncio.gather(*(tg.post(body) for _ in range(20)))
    assert [r.status for r in responses] == [200] * 20
    [message] = (await only_ticket(tg))["messages"]
    assert len(message["attachments"]) == 1
    again = await tg.post(body)
    assert (await again.json())["outcome"] == "duplicate"


async def test_a_sticker_is_named_in_the_message(tg: Tg) -> None:
    body = fixture("message__text")
    del body["message"]["text"]
    body["message"]["sticker"] = {
        "file_id": "CAACAgIAAxkBAAIBcGd-sticker",
        "file_unique_id": "AgADsticker",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": "👍",
    }
    await tg.post(body)
    [message] = (await only_ticket(tg))["messages"]
    assert message["text"] == "[sticker 👍]"


async def test_an_unreachable_bot_api_neither_stops_start_up_nor_loses_updates(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, tmp_path: Path
) -> None:
    api = await start_api(
        aiohttp_client,
        stack,
        redis_prefix,
        telegram_bot_token=TOKEN,
        telegram_secret_token=SECRET,
        telegram_api_base="http://127.0.0.1:9",  # nothing listens there
        blob_dir=str(tmp_path / "blobs"),
    )
    tg = Tg(api, FakeBotApi(TOKEN))
    assert (await tg.deliver("message__text"))["outcome"] == "ingested"
    photo = await tg.post(fixture("message__photo"))
    assert photo.status == 503  # the file cannot be fetched yet: Telegram re-delivers
    assert len((await only_ticket(tg))["messages"]) == 1


async def test_concurrent_redeliveries_of_start_greet_once(tg: Tg) -> None:
    body = fixture("message__start")
    responses = await asyncio.gather(*(tg.post(body) for _ in range(10)))
    outcomes = sorted([(await r.json())["outcome"] for r in responses])
    assert outcomes.count("start") == 1 and set(outcomes) == {"start", "duplicate"}
    assert len(tg.bot.sent()) == 1
