"""Long polling: the same handler as the webhook, the offset kept in the database (a new
worker resumes after the last update handled), and a webhook still set is reported."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from channels.base import TemporaryFailure
from channels.telegram import store as rows
from channels.telegram.polling import TelegramPoller
from tests.apphelpers import start_api
from tests.channels.telegram.conftest import SECRET, TOKEN, Tg, fixture
from tests.conftest import Stack
from tests.fakes.telegram import FakeBotApi
from tests.helpers import eventually


def offsets(bot: FakeBotApi) -> list[Any]:
    return [c.params.get("offset") for c in bot.calls if c.method == "getUpdates"]


async def test_updates_are_handled_and_the_offset_survives_a_restart(tg: Tg) -> None:
    telegram = tg.api.runtime.telegram
    assert telegram is not None
    tg.bot.push_update(fixture("message__text"))
    tg.bot.push_update(fixture("edited_message__text"))
    assert await telegram.poller.poll_once() == 2
    listed = await tg.api.get("/api/v1/tickets", who="admin@example.com")
    [ticket] = listed["tickets"]
    detail = await tg.api.get(f"/api/v1/tickets/{ticket['number']}", who="admin@example.com")
    assert [m["text"] for m in detail["messages"]] == ["我家空调不制冷了，型号 KFR-35GW/BP3"]
    assert offsets(tg.bot) == [None]  # nothing handled before: no offset

    # A new worker (a restart) confirms what was handled and gets only the new update.
    later = fixture("message__location") | {"update_id": 900000100}
    tg.bot.push_update(later)
    fresh = TelegramPoller(tg.api.runtime.desk, telegram.api, telegram.inbound, timeout_s=0)
    assert await fresh.poll_once() == 1
    assert offsets(tg.bot)[-1] == str(fixture("edited_message__text")["update_id"] + 1)
    detail = await tg.api.get(f"/api/v1/tickets/{ticket['number']}", who="admin@example.com")
    assert len(detail["messages"]) == 2


async def test_a_webhook_still_set_is_a_temporary_failure(tg: Tg) -> None:
    telegram = tg.api.runtime.telegram
    assert telegram is not None
    tg.bot.webhook = {"url": "https://example.com/webhooks/telegram"}
    with pytest.raises(TemporaryFailure) as err:
        await telegram.poller.poll_once()
    assert "webhook" in str(err.value).lower()


async def test_the_worker_polls_when_asked(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, bot: FakeBotApi, tmp_path: Path
) -> None:
    api = await start_api(
        aiohttp_client,
        stack,
        redis_prefix,
        telegram_bot_token=TOKEN,
        telegram_secret_token=SECRET,
        telegram_api_base=bot.base,
        telegram_polling=True,
        telegram_poll_timeout_s=1,
        blob_dir=str(tmp_path / "blobs"),
    )
    bot.push_update(fixture("message__text"))

    async def ticket() -> list[Any]:
        listed = await api.get("/api/v1/tickets", who="admin@example.com")
        found: list[Any] = listed["tickets"]
        return found

    [found] = await eventually(ticket, timeout=10.0)
    assert found["channel"] == "telegram"


async def test_old_update_ids_are_forgotten_but_the_offset_stays(tg: Tg) -> None:
    telegram = tg.api.runtime.telegram
    assert telegram is not None
    await tg.deliver("message__text")
    await tg.deliver("message__location")
    assert await telegram.prune(keep=timedelta(days=7)) == 0
    assert await telegram.prune(keep=timedelta(seconds=-1)) == 1  # all but the highest
    assert await tg.api.runtime.desk.read(rows.poll_offset) == 900000006
    assert (await tg.post(fixture("message__location"))).status == 200  # still a duplicate
    detail = await tg.api.get("/api/v1/tickets", who="admin@example.com")
    assert len(detail["tickets"]) == 1
