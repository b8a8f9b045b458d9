"""The one module that imports python-telegram-bot. Everything else in the channel sees
our own values (``channels.telegram.types``), ``BotApi`` (the Bot API calls Switchboard
makes) and our error classes.

- ``parse_update`` reads a webhook body (or a ``getUpdates`` result) with
  ``telegram.Update.de_json`` offline and keeps what the desk needs.
- ``BotApi`` wraps ``telegram.Bot`` pointed at ``SWITCHBOARD_TELEGRAM_API_BASE`` (default
  ``https://api.telegram.org``): ``{base}/bot{token}/{method}`` and
  ``{base}/file/bot{token}/{path}``. Its HTTP client lives from ``start()`` to ``close()``.
- ``failure_of`` maps the SDK's errors to ours in one place: 429 (``RetryAfter``) and
  network trouble or 5xx are ``TemporaryFailure`` (with Telegram's ``retry_after``), 403
  (the user blocked the bot, or deleted the account) is ``Blocked``, 400 (chat not found,
  bad request) is ``PermanentFailure``. The bot token never appears in an error or a log
  line (the SDK puts it in some messages).

httpx (inside the SDK) would log each request's URL, which holds the token: its loggers
are held at WARNING. PTB 22 deprecates integer durations; ``PTB_TIMEDELTA`` opts in to
``timedelta`` values now (the SDK's documented switch), so reading
``RetryAfter.retry_after`` warns of nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    ReplyParameters,
    Update,
)
from telegram import Message as PtbMessage
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from channels.base import PermanentFailure, TemporaryFailure
from channels.telegram.types import (
    FileKind,
    TgCallback,
    TgContact,
    TgFile,
    TgLocation,
    TgMemberChange,
    TgMessage,
    TgUpdate,
    TgUser,
    UpdateKind,
)

log = logging.getLogger(__name__)
# httpx logs every request URL at INFO, and a Bot API URL holds the bot token.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

DEFAULT_API_BASE = "https://api.telegram.org"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

__all__ = [
    "CAPTION_LIMIT",
    "DEFAULT_API_BASE",
    "TEXT_LIMIT",
    "Blocked",
    "BotApi",
    "BotConfig",
    "FileTooLarge",
    "Sent",
    "failure_of",
    "parse_update",
]


@dataclass(frozen=True, slots=True)
class BotConfig:
    token: str
    api_base: str | None = None
    timeout_s: float = 10.0

    @property
    def base(self) -> str:
        return (self.api_base or DEFAULT_API_BASE).rstrip("/")

    def __repr__(self) -> str:
        return f"BotConfig(api_base={self.base!r}, timeout_s={self.timeout_s})"


class Blocked(PermanentFailure):
    """403: the user blocked the bot (or deleted the account); sending again cannot help
    until they write to the bot again."""


class FileTooLarge(ValueError):
    def __init__(self, size: int | None, limit: int) -> None:
        super().__init__(f"the file is larger than {limit // (1024 * 1024) or 1} MB")
        self.size = size
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Sent:
    chat_id: int
    message_id: int


def failure_of(err: BaseException, token: str = "") -> TemporaryFailure | PermanentFailure:
    """Our error for anything a Bot API call raised (re-raises what is not the SDK's)."""

    def said(prefix: str) -> str:
        text = f"{prefix}: {err}" if str(err) else prefix
        return text.replace(token, "***") if token else text

    if isinstance(err, RetryAfter):
        wait = err.retry_after
        seconds = wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
        return TemporaryFailure(said("telegram 429"), retry_after=seconds)
    if isinstance(err, Forbidden):
        return Blocked(said("telegram 403"))
    if isinstance(err, BadRequest):  # before NetworkError: BadRequest subclasses it
        return PermanentFailure(said("telegram 400"))
    if isinstance(err, ChatMigrated):
        return PermanentFailure(said("telegram: the chat moved"))
    if isinstance(err, InvalidToken):
        return TemporaryFailure(said("telegram refused the bot token"))
    if isinstance(err, TimedOut | NetworkError):
        return TemporaryFailure(said("telegram unreachable"))
    if isinstance(err, TelegramError):
        return TemporaryFailure(said("telegram error"))
    raise err


# -- parsing -------------------------------------------------------------------------


def parse_update(payload: Mapping[str, Any]) -> TgUpdate:
    """One update as our own value; ``ValueError`` when it is not an update at all."""
    if not isinstance(payload.get("update_id"), int) or isinstance(payload["update_id"], bool):
        raise ValueError("an update needs an integer update_id")
    try:
        update = Update.de_json(dict(payload), None)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ValueError(f"not a Telegram update: {type(err).__name__}: {err}") from err
    if update is None:
        raise ValueError("empty update")
    if update.message is not None:
        return TgUpdate(update.update_id, UpdateKind.MESSAGE, message=_message(update.message))
    if update.edited_message is not None:
        return TgUpdate(
            update.update_id, UpdateKind.EDITED_MESSAGE, message=_message(update.edited_message)
        )
    if update.my_chat_member is not None:
        change = update.my_chat_member
        return TgUpdate(
            update.update_id,
            UpdateKind.MY_CHAT_MEMBER,
            member=TgMemberChange(
                change.chat.id,
                change.chat.type,
                change.old_chat_member.status,
                change.new_chat_member.status,
            ),
        )
    if update.callback_query is not None:
        return TgUpdate(
            update.update_id, UpdateKind.CALLBACK_QUERY, callback=_callback(update.callback_query)
        )
    other = tuple(sorted(k for k in payload if k != "update_id"))
    return TgUpdate(update.update_id, UpdateKind.OTHER, other=other)


def _user(user: Any) -> TgUser:
    return TgUser(
        user.id, user.first_name, user.last_name, user.username, user.language_code, user.is_bot
    )


def _callback(query: Any) -> TgCallback:
    """The button press; its message may be "inaccessible" (too old): then only the chat
    is known, and for a message Telegram no longer has, nothing."""
    message = query.message
    chat = getattr(message, "chat", None)
    return TgCallback(
        id=str(query.id),
        sender=_user(query.from_user),
        data=str(query.data or ""),
        chat_id=chat.id if chat is not None else None,
        chat_type=chat.type if chat is not None else None,
        message_id=getattr(message, "message_id", None),
    )


def _seconds(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return int(value.total_seconds())
    return int(value)


def _message(msg: PtbMessage) -> TgMessage:
    files: list[TgFile] = []
    if msg.photo:
        best = max(msg.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        files.append(
            TgFile(FileKind.PHOTO, best.file_id, best.file_unique_id, best.file_size, None)
        )
    for kind, item in (
        (FileKind.DOCUMENT, msg.document),
        (FileKind.VOICE, msg.voice),
        (FileKind.AUDIO, msg.audio),
        (FileKind.VIDEO, msg.video),
    ):
        if item is None:
            continue
        files.append(
            TgFile(
                kind,
                item.file_id,
                item.file_unique_id,
                item.file_size,
                getattr(item, "file_name", None),
                getattr(item, "mime_type", None),
                _seconds(getattr(item, "duration", None)),
            )
        )
    user = msg.from_user
    contact = msg.contact
    location = msg.location
    reply = msg.reply_to_message
    return TgMessage(
        chat_id=msg.chat.id,
        chat_type=msg.chat.type,
        message_id=msg.message_id,
        date=_aware(msg.date),
        sender=None if user is None else _user(user),
        text=msg.text or msg.caption or "",
        edit_date=_aware(msg.edit_date) if msg.edit_date else None,
        files=tuple(files),
        contact=None
        if contact is None
        else TgContact(
            contact.phone_number, contact.first_name, contact.last_name, contact.user_id
        ),
        location=None if location is None else TgLocation(location.latitude, location.longitude),
        reply_to_message_id=reply.message_id if reply is not None else None,
        other=_other_kind(msg),
    )


OTHER_KINDS = ("sticker", "animation", "video_note", "poll", "dice", "venue", "game", "story")


def _other_kind(msg: PtbMessage) -> str | None:
    for kind in OTHER_KINDS:
        value = getattr(msg, kind, None)
        if value:
            emoji = getattr(value, "emoji", None)
            return f"{kind} {emoji}" if emoji else kind
    return None


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


# -- calls ---------------------------------------------------------------------------


class BotApi:
    """The Bot API calls Switchboard makes, raising our errors. ``start()`` inside the
    running loop (it also checks the token with ``getMe``), ``close()`` on shutdown."""

    def __init__(self, config: BotConfig) -> None:
        self.config = config
        timeout = config.timeout_s
        self._bot = Bot(
            config.token,
            base_url=f"{config.base}/bot",
            base_file_url=f"{config.base}/file/bot",
            request=HTTPXRequest(
                connection_pool_size=16,
                read_timeout=timeout,
                write_timeout=timeout,
                connect_timeout=timeout,
                pool_timeout=timeout,
            ),
            # getUpdates holds its connection open for the long poll: its own pool, so a
            # poll never waits behind sends (or the other way round).
            get_updates_request=HTTPXRequest(
                connection_pool_size=1,
                read_timeout=timeout,
                write_timeout=timeout,
                connect_timeout=timeout,
                pool_timeout=timeout,
            ),
        )
        self.username: str | None = None

    async def start(self) -> None:
        """Opens the HTTP clients and asks ``getMe`` who the bot is."""
        try:
            await self._bot.initialize()
        except TelegramError as err:
            raise failure_of(err, self.config.token) from None
        self.username = self._bot.username

    async def close(self) -> None:
        try:
            await self._bot.shutdown()
        except TelegramError as err:  # pragma: no cover - shutdown only closes clients
            log.warning("telegram: closing the bot client failed: %s", failure_of(err))

    async def send_text(
        self,
        chat_id: int | str,
        text: str,
        reply_to: int | None = None,
        *,
        buttons: Sequence[tuple[str, str]] = (),
    ) -> Sent:
        """``buttons``: ``(label, callback_data)`` pairs, one inline button per row."""
        markup = (
            InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in buttons])
            if buttons
            else None
        )
        try:
            msg = await self._bot.send_message(
                chat_id,
                text,
                reply_parameters=_reply(reply_to),
                reply_markup=markup,
            )
        except TelegramError as err:
            raise failure_of(err, self.config.token) from None
        return Sent(msg.chat.id, msg.message_id)

    async def answer_callback(self, callback_id: str, text: str) -> None:
        """Stops the pressed button's spinner and shows ``text`` briefly."""
        try:
            await self._bot.answer_callback_query(callback_id, text=text[:200])
        except TelegramError as err:
            raise failure_of(err, self.config.token) from None

    async def clear_buttons(self, chat_id: int, message_id: int) -> None:
        """Removes the inline buttons from one of our messages (pressed once is enough)."""
        try:
            await self._bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
        except TelegramError as err:
            raise failure_of(err, self.config.token) from None

    async def send_file(
        self,
        chat_id: int | str,
        data: bytes,
        name: str,
        *,
        photo: bool,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> Sent:
        """``sendPhoto`` for an image Telegram can show, ``sendDocument`` otherwise."""
        upload = InputFile(data, filename=name)
        try:
            if photo:
                msg = await self._bot.send_photo(
                    chat_id, upload, caption=caption, reply_parameters=_reply(reply_to)
                )
            else:
                msg = await self._bot.send_document(
                    chat_id, upload, caption=caption, reply_parameters=_reply(reply_to)
                )
        except TelegramError as err:
            raise failure_of(err, self.config.token) from None
        return Sent(msg.chat.id, msg.message_id)

    async def download(self, file_id: str, max_bytes: int) -> bytes:
        """A file's bytes through ``getFile``; ``FileTooLarge`` before downloading when
        Telegram says it is too large, and after when it did not say."""
        try:
            found = await self._bot.get_file(file_id)
            if found.file_size is not None and found.file_size > max_bytes:
                raise FileTooLarge(found.file_size, max_bytes)
            data = bytes(await found.download_as_bytearray())
        except TelegramError as err:
            raise failure_of(err, self.config.token) from None
        if len(data) > max_bytes:
            raise FileTooLarge(len(data), max_bytes)
        return data

    async def set_webhook(
        self, url: str, secret_token: str, allowed_updates: Sequence[str]
    ) -> bool:
        try:
            return bool(
                await self._bot.set_webhook(
                    url, secret_token=secret_token, allowed_updates=list(allowed_updates)
                )
            )
        except TelegramError as err:
            raise failure_of(err, self.config.token) from None

    async def delete_webhook(self) -> bool:
        try:
            return bool(await self._bot.delete_webhook())
        except TelegramError as err:
            raise failure_of(err, self.config.token) from None

    async def webhook_info(self) -> dict[str, Any]:
        try:
            info = await self._bot.get_webhook_info()
        except TelegramError as err:
            raise failure_of(err, self.config.token) from None
        return dict(info.to_dict())

    async def get_updates(
        self, offset: int | None, timeout_s: int, allowed_updates: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The next updates as the JSON a webhook would have received (one handler for
        both modes)."""
        try:
            updates = await self._bot.get_updates(
                offset=offset,
                timeout=timeout_s,
                allowed_updates=list(allowed_updates),
                read_timeout=timeout_s + self.config.timeout_s,
            )
        except TelegramError as err:
            raise failure_of(err, self.config.token) from None
        return [u.to_dict() for u in updates]


def _reply(message_id: int | None) -> ReplyParameters | None:
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)
