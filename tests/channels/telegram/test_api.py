"""The SDK edge on its own: parsing updates into our values, the error mapping (with the
token never shown) and cutting long texts."""

from __future__ import annotations

import datetime as dt

import pytest
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from channels.base import PermanentFailure, TemporaryFailure
from channels.telegram.api import Blocked, failure_of, parse_update
from channels.telegram.sender import split_text, utf16_len
from channels.telegram.types import FileKind, UpdateKind
from tests.channels.telegram.conftest import CHAT, fixture


def test_photo_update_keeps_the_largest_size_and_the_caption() -> None:
    update = parse_update(fixture("message__photo"))
    assert update.kind is UpdateKind.MESSAGE and update.message is not None
    msg = update.message
    assert (msg.chat_id, msg.message_id, msg.private) == (CHAT, 12, True)
    assert msg.text == "外机的铭牌"
    [photo] = msg.files
    assert photo.kind is FileKind.PHOTO and photo.file_id.endswith("-large")
    assert msg.date.tzinfo is not None
    assert msg.sender is not None and msg.sender.language_code == "zh-hans"


def test_voice_document_contact_location_edit_and_member_updates() -> None:
    voice = parse_update(fixture("message__voice")).message
    assert voice is not None and voice.files[0].kind is FileKind.VOICE
    assert voice.files[0].duration == 7
    doc = parse_update(fixture("message__document")).message
    assert doc is not None and doc.files[0].name == "发票 invoice-2291.pdf"
    contact = parse_update(fixture("message__contact")).message
    assert contact is not None and contact.contact is not None
    assert contact.contact.user_id == CHAT and contact.contact.phone_number == "8613800138000"
    location = parse_update(fixture("message__location")).message
    assert location is not None and location.location is not None
    assert location.location.latitude == pytest.approx(31.230416)
    edited = parse_update(fixture("edited_message__text"))
    assert edited.kind is UpdateKind.EDITED_MESSAGE and edited.message is not None
    assert edited.message.edit_date == dt.datetime(2025, 12, 4, 12, 1, 40, tzinfo=dt.UTC)
    member = parse_update(fixture("my_chat_member__kicked"))
    assert member.member is not None and member.member.new_status == "kicked"
    press = parse_update(fixture("callback_query__button"))
    assert press.kind is UpdateKind.CALLBACK_QUERY and press.callback is not None
    assert press.callback.data == "yes" and press.callback.chat_id is None
    assert press.callback.sender.id == 111111111


def test_commands_are_read_with_or_without_the_bot_name() -> None:
    body = fixture("message__start")
    assert parse_update(body).message.command == ("start", "")  # type: ignore[union-attr]
    body["message"]["text"] = "/start@switchboard_test_bot SB-1001"
    assert parse_update(body).message.command == ("start", "SB-1001")  # type: ignore[union-attr]


def test_not_an_update() -> None:
    with pytest.raises(ValueError):
        parse_update({"message": {}})
    with pytest.raises(ValueError):
        parse_update({"update_id": 1, "message": {"text": "no chat"}})


def test_errors_map_to_retry_or_give_up_without_the_token() -> None:
    token = "123456:SECRET-token"
    retry = failure_of(RetryAfter(7))
    assert isinstance(retry, TemporaryFailure) and retry.retry_after == 7.0
    assert isinstance(failure_of(Forbidden("Forbidden: bot was blocked by the user")), Blocked)
    assert isinstance(failure_of(BadRequest("Bad Request: chat not found")), PermanentFailure)
    assert type(failure_of(NetworkError("Bad Gateway"))) is TemporaryFailure
    assert type(failure_of(TimedOut())) is TemporaryFailure
    refused = failure_of(InvalidToken(f"The token `{token}` was rejected"), token)
    assert isinstance(refused, TemporaryFailure) and token not in str(refused)
    with pytest.raises(KeyError):
        failure_of(KeyError("not ours"))


def test_split_text_prefers_paragraphs_then_lines_then_spaces() -> None:
    assert split_text("  short  ") == ["short"]
    assert split_text("") == []
    text = "a" * 3000 + "\n\n" + "b" * 3000
    assert split_text(text) == ["a" * 3000, "b" * 3000]
    text = "a" * 3000 + "\n" + "b" * 3000
    assert split_text(text) == ["a" * 3000, "b" * 3000]
    words = " ".join(["word"] * 2000)  # 9,999 characters
    parts = split_text(words)
    assert all(len(p) <= 4096 for p in parts) and " ".join(parts) == words


def test_split_text_counts_utf16_units_and_never_splits_a_character() -> None:
    emoji = "😀" * 3000  # 6,000 UTF-16 units, no boundary to cut at
    parts = split_text(emoji)
    assert [utf16_len(p) for p in parts] == [4096, 6000 - 4096]
    assert "".join(parts) == emoji
    chinese = "空" * 5000
    assert [len(p) for p in split_text(chinese)] == [4096, 904]
