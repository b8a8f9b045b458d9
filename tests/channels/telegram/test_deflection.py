"""Chat deflection on Telegram (issue 12): a new conversation's first message gets up to
three public articles with a "this solved it" button; the press solves the conversation as
self-served, only for the pressing chat's own ticket and only once; a queue with
deflection off gets none; failing to send the articles never loses the message."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

import knowledge
import tickets
from switchboard import db
from tests.channels.telegram.conftest import CHAT, Tg, fixture, start_tg
from tests.conftest import Stack
from tests.fakes.telegram import FakeBotApi
from tests.helpers import T0, eventually

PUBLIC = "https://help.example.com"
OTHER_CHAT = 222222222


@pytest.fixture
async def kb_tg(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, bot: FakeBotApi, tmp_path: Path
) -> Tg:
    tg = await start_tg(aiohttp_client, stack, redis_prefix, bot, tmp_path, public_url=PUBLIC)
    engine = db.create_engine(stack.database_url)
    async with db.transaction(db.session_factory(engine)) as session:
        await knowledge.seed_articles(session, T0)
    await engine.dispose()
    return tg


def message(update_id: int, message_id: int, text: str, chat: int = CHAT) -> dict[str, Any]:
    body = copy.deepcopy(fixture("message__text"))
    body["update_id"] = update_id
    body["message"].update(message_id=message_id, text=text)
    body["message"]["chat"]["id"] = chat
    body["message"]["from"]["id"] = chat
    return body


def press(update_id: int, data: str, on: dict[str, Any], chat: int = CHAT) -> dict[str, Any]:
    """A button press on the bot message ``on`` (as the fake Bot API returned it)."""
    body = copy.deepcopy(fixture("callback_query__button"))
    body["update_id"] = update_id
    body["callback_query"].update(id=f"cb-{update_id}", data=data)
    body["callback_query"]["from"]["id"] = chat
    body["callback_query"]["message"] = {
        "message_id": on["message_id"],
        "from": on["from"],
        "chat": {"id": chat, "first_name": "Wei", "type": "private"},
        "date": on["date"],
        "text": on["text"],
    }
    return body


async def deliver(tg: Tg, body: dict[str, Any]) -> str:
    response = await tg.post(body)
    assert response.status == 200, await response.text()
    outcome: str = (await response.json())["outcome"]
    return outcome


async def offered(tg: Tg) -> tuple[dict[str, Any], dict[str, Any]]:
    """The article message the bot sent (its parameters) and the message Telegram made."""

    async def found() -> list[dict[str, Any]]:
        return [
            c.params
            for c in tg.bot.calls
            if c.method == "sendMessage" and c.params.get("reply_markup")
        ]

    [params] = await eventually(found)
    sent = {
        "message_id": 4242,
        "from": {"id": 7000000001, "is_bot": True, "first_name": "Switchboard"},
        "date": 1764849700,
        "text": params["text"],
    }
    return params, sent


async def ticket_of(tg: Tg, ticket_id: int) -> dict[str, Any]:
    number = tickets.format_number(ticket_id)
    body: dict[str, Any] = await tg.api.get(f"/api/v1/tickets/{number}")
    return body


async def test_articles_then_this_solved_it_solves_the_conversation(kb_tg: Tg) -> None:
    tg = kb_tg
    assert await deliver(tg, message(1, 11, "洗衣机显示 E21，水排不出去")) == "ingested"
    params, sent = await offered(tg)
    assert int(params["chat_id"]) == CHAT
    assert params["text"].startswith("在等待客服的同时")
    assert f"{PUBLIC}/help/articles/washer-e21-zh" in params["text"]
    assert "internal" not in params["text"]
    [[button]] = params["reply_markup"]["inline_keyboard"]
    assert button["text"] == "✅ 问题已解决"
    ticket_id = int(button["callback_data"].removeprefix("solved:"))

    assert await deliver(tg, message(2, 12, "我先试试")) == "ingested"  # no second offer
    assert len([c for c in tg.bot.calls if c.params.get("reply_markup")]) == 1

    pressed = press(3, button["callback_data"], sent)
    assert await deliver(tg, pressed) == "self_served"
    ticket = await ticket_of(tg, ticket_id)
    assert ticket["status"] == "solved" and tickets.SELF_SERVED_TAG in ticket["tags"]
    [answer] = tg.bot.sent("answerCallbackQuery")
    assert answer["callback_query_id"] == "cb-3" and answer["text"] == "已标记为已解决，谢谢！"
    [cleared] = tg.bot.sent("editMessageReplyMarkup")
    assert int(cleared["message_id"]) == 4242
    assert tg.bot.sent()[-1]["text"].startswith("好的，这个问题已为您关闭")

    assert await deliver(tg, pressed) == "duplicate"  # Telegram re-delivers: nothing new
    assert await deliver(tg, press(4, button["callback_data"], sent)) == "refused:closed"
    assert tg.bot.sent("answerCallbackQuery")[-1]["text"] == "这个问题已经关闭了。"


async def test_a_press_from_another_chat_cannot_solve_someone_elses_ticket(kb_tg: Tg) -> None:
    tg = kb_tg
    await deliver(tg, message(1, 11, "洗衣机显示 E21，水排不出去"))
    params, sent = await offered(tg)
    data = params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    ticket_id = int(data.removeprefix("solved:"))
    await deliver(tg, message(2, 5, "hello", chat=OTHER_CHAT))  # a customer of their own
    assert await deliver(tg, press(3, data, sent, chat=OTHER_CHAT)) == "refused:not_found"
    assert (await ticket_of(tg, ticket_id))["status"] != "solved"
    assert await deliver(tg, press(4, "solved:abc", sent)) == "ignored:callback"
    assert await deliver(tg, press(5, "solved:99999999999999999999999", sent)) == (
        "ignored:callback"
    )


async def test_english_articles_for_an_english_question(kb_tg: Tg) -> None:
    tg = kb_tg
    await deliver(tg, message(1, 11, "My washing machine shows error E21 and will not drain"))
    params, _ = await offered(tg)
    assert params["text"].startswith("While you wait for an agent")
    assert f"{PUBLIC}/help/articles/washer-e21-en" in params["text"]
    assert params["reply_markup"]["inline_keyboard"][0][0]["text"] == "✅ This solved it"


async def test_no_articles_when_the_queue_has_deflection_off(kb_tg: Tg) -> None:
    tg = kb_tg
    engine = db.create_engine(tg.api.runtime.settings.database_url)
    async with db.transaction(db.session_factory(engine)) as session:
        for queue_id in (await knowledge.queue_names(session)).values():
            await knowledge.set_deflection(session, queue_id, False)
    await engine.dispose()
    assert await deliver(tg, message(1, 11, "洗衣机显示 E21，水排不出去")) == "ingested"
    listed = await tg.api.get("/api/v1/tickets", who="admin@example.com")
    assert len(listed["tickets"]) == 1
    assert not [c for c in tg.bot.calls if c.params.get("reply_markup")]


async def test_failing_to_send_the_articles_loses_nothing(kb_tg: Tg) -> None:
    tg = kb_tg
    tg.bot.fail_next("sendMessage", 500, "Internal Server Error")
    assert await deliver(tg, message(1, 11, "洗衣机显示 E21，水排不出去")) == "ingested"
    listed = await tg.api.get("/api/v1/tickets", who="admin@example.com")
    assert len(listed["tickets"]) == 1 and listed["tickets"][0]["status"] in ("new", "open")
