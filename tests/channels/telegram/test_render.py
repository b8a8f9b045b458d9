"""A Telegram message on the ticket page: photos inline, an edit marked with the original
kept, a map link for a location, labels in the agent's language, customer text escaped."""

from __future__ import annotations

from tests.agent_ui.webhelpers import sign_in
from tests.channels.telegram.conftest import CHAT, Tg, fixture
from tests.channels.telegram.test_webhook import PNG, only_ticket
from tests.helpers import eventually


async def page(tg: Tg, number: str, language: str = "en") -> str:
    await sign_in(tg.api.client, "admin@example.com")
    response = await tg.api.client.get(
        f"/agent/tickets/{number}", headers={"Accept-Language": language}
    )
    assert response.status == 200
    return await response.text()


async def test_photo_inline_and_edit_marked_with_the_original(tg: Tg) -> None:
    tg.bot.add_file("AgACAgIAAxkBAAIBbWd-large", PNG, "photos/file_7.png")
    await tg.deliver("message__text")
    await tg.deliver("edited_message__text")
    await tg.deliver("message__photo")
    ticket = await only_ticket(tg)
    photo_id = ticket["messages"][1]["attachments"][0]["id"]
    html = await page(tg, ticket["number"])
    assert f'<img src="/api/v1/attachments/{photo_id}"' in html
    assert ">edited<" in html and "Original text" in html
    assert "我家空调不制冷了，型号 KFR-35GW</div>" in html  # the original, kept
    assert "KFR-35GW/BP3" in html
    zh = await page(tg, ticket["number"], "zh-CN")
    assert ">已编辑<" in zh and "原文" in zh


async def test_location_link_and_escaped_text(tg: Tg) -> None:
    await tg.deliver("message__location")
    body = fixture("message__text")
    body["update_id"] += 1000
    body["message"]["message_id"] = 99
    body["message"]["text"] = '<script>alert("x")</script>'
    await tg.post(body)
    ticket = await only_ticket(tg)
    html = await page(tg, ticket["number"])
    assert "https://www.openstreetmap.org/?mlat=31.230416&amp;mlon=121.473701" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html


async def test_agent_answers_from_the_ticket_page_and_the_chat_gets_it(tg: Tg) -> None:
    await tg.deliver("message__text")
    number = (await only_ticket(tg))["number"]
    csrf = await sign_in(tg.api.client, "admin@example.com")
    replied = await tg.api.client.post(
        f"/agent/tickets/{number}/messages",
        data={"text": "师傅明天上午到", "channel": "telegram"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert replied.status == 200, await replied.text()

    async def sent() -> list[dict[str, object]]:
        return [m for m in tg.bot.sent() if m["text"] == "师傅明天上午到"]

    [message] = await eventually(sent, timeout=10.0)
    assert int(str(message["chat_id"])) == CHAT

    async def shown() -> bool:
        return ">Sent<" in await page(tg, number)

    assert await eventually(shown, timeout=10.0)


async def test_a_blocked_chat_shows_why_and_the_composer_refuses(tg: Tg) -> None:
    await tg.deliver("message__text")
    await tg.deliver("my_chat_member__kicked")
    number = (await only_ticket(tg))["number"]
    html = await page(tg, number)
    assert "cannot be reached" in html and "blocked the bot on Telegram" in html
