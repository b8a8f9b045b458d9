"""``switchboard telegram``: the bot's webhook registration.

- ``switchboard telegram set-webhook [--url URL]`` registers ``SWITCHBOARD_PUBLIC_URL`` +
  ``/webhooks/telegram`` (or ``--url``) with ``setWebhook``, with the secret token
  Telegram then sends in ``X-Telegram-Bot-Api-Secret-Token`` and the update kinds the bot
  handles (``allowed_updates``).
- ``switchboard telegram delete-webhook`` removes it (needed before long polling:
  ``switchboard worker --telegram-polling``).
- ``switchboard telegram info`` prints the bot's name and the webhook Telegram has.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

from channels.base import DeliveryError
from channels.telegram import ALLOWED_UPDATES
from channels.telegram.api import BotApi, BotConfig
from switchboard.settings import Settings

Common = Callable[[argparse.ArgumentParser], None]
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramCliError(Exception):
    pass


def add_parser(sub: Any, common: Common) -> None:
    p = sub.add_parser("telegram", help="the Telegram bot: webhook registration")
    tsub = p.add_subparsers(dest="telegram_command", required=True, metavar="SUBCOMMAND")
    q = tsub.add_parser(
        "set-webhook", help="register our webhook URL and secret token with Telegram"
    )
    q.add_argument("--url", help=f"default: SWITCHBOARD_PUBLIC_URL + {WEBHOOK_PATH}")
    common(q)
    q.set_defaults(run=cmd_set_webhook)
    q = tsub.add_parser("delete-webhook", help="remove the webhook (before long polling)")
    common(q)
    q.set_defaults(run=cmd_delete_webhook)
    q = tsub.add_parser("info", help="the bot's name and the webhook Telegram has")
    common(q)
    q.set_defaults(run=cmd_info)


def _api(settings: Settings) -> BotApi:
    if not settings.telegram_bot_token:
        raise TelegramCliError("set SWITCHBOARD_TELEGRAM_BOT_TOKEN (from @BotFather) first")
    return BotApi(BotConfig(settings.telegram_bot_token, settings.telegram_api_base))


def webhook_url(settings: Settings, url: str | None) -> str:
    if url:
        return url
    if not settings.public_url:
        raise TelegramCliError(
            "set SWITCHBOARD_PUBLIC_URL (the https URL Telegram can reach) or pass --url"
        )
    return settings.public_url.rstrip("/") + WEBHOOK_PATH


async def set_webhook(settings: Settings, url: str | None = None) -> str:
    target = webhook_url(settings, url)
    if not target.startswith("https://"):
        raise TelegramCliError(f"Telegram only calls https URLs, not {target}")
    if not settings.telegram_secret_token:
        raise TelegramCliError(
            "set SWITCHBOARD_TELEGRAM_SECRET_TOKEN (1-256 of A-Z a-z 0-9 _ -) first: "
            "the webhook refuses updates without it"
        )
    if not SECRET_TOKEN.fullmatch(settings.telegram_secret_token):
        raise TelegramCliError(
            "SWITCHBOARD_TELEGRAM_SECRET_TOKEN may only hold 1-256 of A-Z a-z 0-9 _ - "
            "(Telegram refuses anything else)"
        )
    api = _api(settings)
    try:
        await api.set_webhook(target, settings.telegram_secret_token, ALLOWED_UPDATES)
    except DeliveryError as err:
        raise TelegramCliError(f"setWebhook failed: {err}") from None
    finally:
        await api.close()
    return f"webhook set: {target} (updates: {', '.join(ALLOWED_UPDATES)})"


async def delete_webhook(settings: Settings) -> str:
    api = _api(settings)
    try:
        await api.delete_webhook()
    except DeliveryError as err:
        raise TelegramCliError(f"deleteWebhook failed: {err}") from None
    finally:
        await api.close()
    return "webhook deleted; long polling can start (switchboard worker --telegram-polling)"


async def info(settings: Settings) -> str:
    api = _api(settings)
    try:
        await api.start()
        hook = await api.webhook_info()
    except DeliveryError as err:
        raise TelegramCliError(f"the Bot API refused: {err}") from None
    finally:
        await api.close()
    url = hook.get("url") or "(none: long polling)"
    return (
        f"bot: @{api.username}\nwebhook: {url}\n"
        f"pending updates: {hook.get('pending_update_count', 0)}"
    )


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {"database_url": args.database_url} if args.database_url else {}
    return Settings.load(**overrides)


async def cmd_set_webhook(args: argparse.Namespace) -> None:
    print(await set_webhook(_settings(args), args.url))


async def cmd_delete_webhook(args: argparse.Namespace) -> None:
    print(await delete_webhook(_settings(args)))


async def cmd_info(args: argparse.Namespace) -> None:
    print(await info(_settings(args)))
