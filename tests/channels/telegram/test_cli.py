"""``switchboard telegram set-webhook`` / ``delete-webhook`` / ``info`` against the fake
Bot API, and the refusals that need no network."""

from __future__ import annotations

import pytest

from switchboard.cli import build_parser
from switchboard.cli_telegram import TelegramCliError, delete_webhook, info, set_webhook
from switchboard.settings import Settings
from tests.channels.telegram.conftest import SECRET, TOKEN
from tests.fakes.telegram import BOT_USERNAME, FakeBotApi


def settings(bot: FakeBotApi, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "telegram_bot_token": TOKEN,
        "telegram_secret_token": SECRET,
        "telegram_api_base": bot.base,
        "public_url": "https://support.example.com/",
    }
    values.update(overrides)
    return Settings.from_mapping(values)


async def test_set_webhook_registers_url_secret_and_updates(bot: FakeBotApi) -> None:
    said = await set_webhook(settings(bot))
    assert said.startswith("webhook set: https://support.example.com/webhooks/telegram")
    assert bot.webhook == {
        "url": "https://support.example.com/webhooks/telegram",
        "secret_token": SECRET,
        "allowed_updates": ["message", "edited_message", "my_chat_member", "callback_query"],
    }
    shown = await info(settings(bot))
    assert f"@{BOT_USERNAME}" in shown and "support.example.com/webhooks/telegram" in shown
    assert "long polling" in await delete_webhook(settings(bot))
    assert bot.webhook == {} and "(none: long polling)" in await info(settings(bot))


async def test_set_webhook_refuses_what_telegram_would_not_take(bot: FakeBotApi) -> None:
    with pytest.raises(TelegramCliError, match="https"):
        await set_webhook(settings(bot, public_url="http://localhost:8080"))
    with pytest.raises(TelegramCliError, match="SECRET_TOKEN"):
        await set_webhook(settings(bot, telegram_secret_token=None))
    with pytest.raises(TelegramCliError, match="A-Z a-z 0-9"):
        await set_webhook(settings(bot, telegram_secret_token="has spaces/and:colons"))
    with pytest.raises(TelegramCliError, match="PUBLIC_URL"):
        await set_webhook(settings(bot, public_url=None))
    with pytest.raises(TelegramCliError, match="BOT_TOKEN"):
        await set_webhook(settings(bot, telegram_bot_token=None))
    assert bot.calls == []


async def test_a_refused_token_is_one_clear_error_without_the_token(bot: FakeBotApi) -> None:
    with pytest.raises(TelegramCliError) as err:
        await set_webhook(settings(bot, telegram_bot_token="123:wrong-token-value"))
    assert "wrong-token-value" not in str(err.value)


def test_the_commands_are_wired() -> None:
    parser = build_parser()
    args = parser.parse_args(["telegram", "set-webhook", "--url", "https://x.example/h"])
    assert args.url == "https://x.example/h" and callable(args.run)
    assert parser.parse_args(["worker", "--telegram-polling"]).telegram_polling is True
