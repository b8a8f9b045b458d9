"""Telegram updates into tickets: the webhook ``POST /webhooks/telegram`` and the handler
the long-polling worker shares with it.

- The webhook checks ``X-Telegram-Bot-Api-Secret-Token`` against
  ``SWITCHBOARD_TELEGRAM_SECRET_TOKEN`` in constant time (403 otherwise, and always 403
  when no secret is configured), and answers 200 only after every commit; a failure of
  the desk is a 5xx, so Telegram delivers the update again.
- Every handled update id is remembered (``telegram_updates``): a re-delivery is a no-op.
  Concurrent twins that both pass that check are still harmless: the message is unique
  on ``(telegram, "chat:message")`` in ``tickets.ingest``, stored files are addressed by
  their content, and an edit that is already applied changes nothing.
- Private chats only: text, photos (the largest size), documents, voice notes, audio and
  video (downloaded through ``getFile``, at most ``SWITCHBOARD_ATTACHMENT_MAX_BYTES``; a
  larger file is named in the message, never a lost message), locations and contacts.
  A contact the user shared from their own account (``contact.user_id`` is the sender:
  Telegram verified that number) joins their Telegram identity to the customer owning
  the number (``tickets.linking``).
- ``edited_message`` replaces the stored text (``tickets.edits``) and keeps the original
  in ``telegram_edits``; never a second message. An edit of a message we never stored is
  ingested as that message.
- ``/start`` greets in the user's language (Chinese for ``zh*``, else English) and opens no
  ticket. ``my_chat_member`` tells us the user blocked the bot (``kicked``: the identity
  becomes unreachable, ``tickets.reachability``) or unblocked it (``member``); any message
  from the user makes the identity reachable again.
- The first message of a new conversation may get help-center articles with a "this
  solved it" button (``channels.telegram.deflection``); the press arrives as a
  ``callback_query`` and solves the conversation as self-served.
- Anything else (group and channel chats, bots, other update kinds) is recorded as
  ignored with 200: Telegram must not re-deliver what we decided not to handle.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from channels.attachments import DEFAULT_MAX_BYTES, AttachmentRefused, BlobStore, store
from channels.base import DeliveryError, PermanentFailure
from channels.telegram import deflection
from channels.telegram import store as rows
from channels.telegram.api import BotApi, FileTooLarge, parse_update
from channels.telegram.types import FileKind, TgFile, TgMessage, TgUpdate, UpdateKind
from tickets import (
    AttachmentRef,
    Channel,
    Conflict,
    Desk,
    Event,
    InboundMessage,
    IngestResult,
    InvalidAddress,
    NotFound,
    ThreadHints,
    Unavailable,
    solve_self_served,
)
from tickets.edits import edit_inbound
from tickets.linking import link_verified_phone
from tickets.reachability import mark_reachable, mark_unreachable

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "edited_message", "my_chat_member", "callback_query")
BLOCKED_REASON = "blocked the bot on Telegram"
MAX_BODY = 1024 * 1024
GREETINGS = {
    "zh": "您好！请直接在这里留言，我们的客服会尽快回复您。",
    "en": "Hello! Write your question here and one of our agents will answer you soon.",
}
DEFAULT_NAMES = {
    FileKind.PHOTO: "photo.jpg",
    FileKind.VOICE: "voice.ogg",
    FileKind.AUDIO: "audio",
    FileKind.VIDEO: "video.mp4",
    FileKind.DOCUMENT: "file",
}


Deflector = Callable[[IngestResult, str], Awaitable[dict[str, Any] | None]]
"""Articles for a new conversation's first message (``{"articles": [...]}``) or None."""


class BadUpdate(ValueError):
    """A body that is not a Telegram update (no integer ``update_id``)."""


@dataclass(frozen=True, slots=True)
class Handled:
    outcome: str
    ticket_number: str | None = None
    message_id: int | None = None
    ticket_id: int | None = None


def greeting(language_code: str | None) -> str:
    return GREETINGS["zh" if (language_code or "").lower().startswith("zh") else "en"]


def external_id(msg: TgMessage) -> str:
    return f"{msg.chat_id}:{msg.message_id}"


class TelegramInbound:
    """Handles updates from either mode; ``api`` downloads files and sends greetings."""

    def __init__(
        self,
        desk: Desk,
        api: BotApi | None,
        blobs: BlobStore | None,
        *,
        secret_token: str | None,
        max_file_bytes: int = DEFAULT_MAX_BYTES,
        deflector: Deflector | None = None,
        public_url: str | None = None,
    ) -> None:
        self.desk = desk
        self.api = api
        self.blobs = blobs
        self.max_file_bytes = max_file_bytes
        self.deflector = deflector
        self.public_url = public_url
        self._secret = (secret_token or "").encode()
        self._refusals = 0

    # -- the webhook ----------------------------------------------------------------

    def authentic(self, request: web.Request) -> bool:
        offered = request.headers.get(SECRET_HEADER, "").encode()
        return bool(self._secret) and hmac.compare_digest(offered, self._secret)

    async def webhook(self, request: web.Request) -> web.Response:
        if not self.authentic(request):
            self._refusals += 1
            if self._refusals == 1 or self._refusals % 100 == 0:
                log.warning(
                    "telegram webhook: refused %d request(s) without the right secret "
                    "token (latest from %s)",
                    self._refusals,
                    request.remote,
                )
            raise web.HTTPForbidden(text="bad secret token\n")
        body = await request.read()
        if len(body) > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(body))
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            raise web.HTTPBadRequest(text="the body is not JSON\n") from None
        try:
            handled = await self.handle(payload)
        except BadUpdate as err:
            raise web.HTTPBadRequest(text=f"{err}\n") from None
        except Unavailable as err:
            log.warning("telegram webhook: desk unavailable (%s); Telegram will retry", err)
            raise web.HTTPServiceUnavailable(
                text="busy, retry\n", headers={"Retry-After": str(int(err.retry_after) + 1)}
            ) from None
        except DeliveryError as err:
            log.warning("telegram webhook: a file could not be fetched (%s); will retry", err)
            raise web.HTTPServiceUnavailable(text="retry\n") from None
        return web.json_response({"ok": True, "outcome": handled.outcome})

    # -- one update, from either mode ---------------------------------------------

    async def handle(self, payload: Any) -> Handled:
        if not isinstance(payload, dict):
            raise BadUpdate("an update is a JSON object")
        update_id = payload.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise BadUpdate("an update needs an integer update_id")
        try:
            update = parse_update(payload)
        except ValueError as err:
            if await self.desk.read(lambda s: rows.seen(s, update_id)):
                return Handled("duplicate")
            log.info("telegram: update %s is not one we can read: %s", update_id, err)
            await self._remember(update_id, "unreadable", "ignored:unreadable")
            return Handled("ignored:unreadable")
        # A plain text message needs no look-up first: ingest itself knows a re-delivered
        # message (unique external id). Everything else is checked before any work.
        if not _plain(update) and await self.desk.read(lambda s: rows.seen(s, update_id)):
            return Handled("duplicate")
        if update.kind is UpdateKind.MY_CHAT_MEMBER:
            return await self._member(update)
        if update.kind is UpdateKind.CALLBACK_QUERY:
            return await self._pressed(update)
        if update.message is None:
            await self._remember(update_id, update.kind.value, "ignored:kind")
            return Handled("ignored:kind")
        msg = update.message
        if not msg.private:
            await self._remember(update_id, update.kind.value, f"ignored:{msg.chat_type}"[:40])
            return Handled(f"ignored:{msg.chat_type}")
        if msg.sender is None or msg.sender.is_bot:
            await self._remember(update_id, update.kind.value, "ignored:bot")
            return Handled("ignored:bot")
        if update.kind is UpdateKind.EDITED_MESSAGE:
            return await self._edited(update, msg)
        command = msg.command
        if command is not None and command[0] == "start" and not msg.files:
            return await self._start(update, msg)
        return await self._message(update, msg)

    async def _remember(
        self,
        update_id: int,
        kind: str,
        outcome: str,
        *,
        chat_id: int | None = None,
        message_id: int | None = None,
        ticket_id: int | None = None,
    ) -> None:
        async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            await rows.remember(
                session,
                update_id,
                kind,
                outcome,
                now,
                chat_id=chat_id,
                message_id=message_id,
                ticket_id=ticket_id,
            )
            return None, []

        await self.desk.write(work)

    async def _start(self, update: TgUpdate, msg: TgMessage) -> Handled:
        """Claims the update first, then greets: a greeting is sent at most once, even to
        concurrent re-deliveries (a lost greeting is better than two)."""
        assert msg.sender is not None

        async def work(session: AsyncSession, now: datetime) -> tuple[bool, list[Event]]:
            await mark_reachable(session, Channel.TELEGRAM, str(msg.chat_id))
            claimed = await rows.remember(
                session,
                update.update_id,
                update.kind.value,
                "start",
                now,
                chat_id=msg.chat_id,
                message_id=msg.message_id,
            )
            return claimed, []

        if not await self.desk.write(work):
            return Handled("duplicate")
        if self.api is not None:
            try:
                await self.api.send_text(msg.chat_id, greeting(msg.sender.language_code))
            except DeliveryError as err:
                log.warning("telegram: the /start greeting was not sent: %s", err)
        return Handled("start")

    async def _member(self, update: TgUpdate) -> Handled:
        change = update.member
        assert change is not None
        outcome = "ignored:member"
        if change.chat_type == "private" and change.new_status in ("kicked", "member"):
            outcome = "blocked" if change.new_status == "kicked" else "unblocked"
        address = str(change.chat_id)

        async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            if outcome == "blocked":
                await mark_unreachable(session, Channel.TELEGRAM, address, BLOCKED_REASON, now)
            elif outcome == "unblocked":
                await mark_reachable(session, Channel.TELEGRAM, address)
            await rows.remember(
                session, update.update_id, update.kind.value, outcome, now, chat_id=change.chat_id
            )
            return None, []

        await self.desk.write(work)
        return Handled(outcome)

    async def _message(
        self, update: TgUpdate, msg: TgMessage, outcome: str = "ingested"
    ) -> Handled:
        assert msg.sender is not None
        sender = msg.sender
        attachments, notes = await self._files(msg)
        result = await self.desk.ingest(
            InboundMessage(
                channel=Channel.TELEGRAM,
                external_id=external_id(msg),
                sender=str(msg.chat_id),
                display_name=sender.display_name,
                text=compose_text(msg, notes),
                received_at=msg.date,
                attachments=attachments,
                thread=ThreadHints(conversation_id=str(msg.chat_id)),
                extra=_extra(msg),
            )
        )
        contact = msg.contact
        own_number = contact is not None and contact.user_id == sender.id

        async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            events: list[Event] = []
            await mark_reachable(session, Channel.TELEGRAM, str(msg.chat_id))
            if own_number and contact is not None:
                try:
                    linked = await link_verified_phone(
                        session,
                        Channel.TELEGRAM,
                        str(msg.chat_id),
                        _e164(contact.phone_number),
                        now,
                    )
                except InvalidAddress:
                    linked = None
                if linked is not None:
                    events.extend(linked.events)
            await rows.remember(
                session,
                update.update_id,
                "message",
                outcome,
                now,
                chat_id=msg.chat_id,
                message_id=msg.message_id,
                ticket_id=result.ticket_id,
            )
            return None, events

        await self.desk.write(work)
        if result.new_ticket and not result.duplicate:
            await self._offer_articles(msg, result)
        return Handled(
            "duplicate" if result.duplicate else outcome, result.number, result.message_id
        )

    async def _offer_articles(self, msg: TgMessage, result: IngestResult) -> None:
        if self.deflector is None or self.api is None or not msg.text:
            return
        try:
            found = await self.deflector(result, msg.text)
            if not found or not found.get("articles"):
                return
            language = deflection.language_of(
                msg.text, msg.sender.language_code if msg.sender else None
            )
            text, button = deflection.offer(found["articles"], language, self.public_url)
            await self.api.send_text(
                msg.chat_id,
                text,
                buttons=[(button, deflection.solved_data(result.ticket_id))],
            )
        except Exception:
            log.warning(
                "telegram: no articles for %s's first message", result.number, exc_info=True
            )

    async def _pressed(self, update: TgUpdate) -> Handled:
        """A "this solved it" press: the pressing chat's own open conversation becomes
        solved as self-served; any other press is answered and ignored."""
        press = update.callback
        assert press is not None
        kind = update.kind.value
        ticket_id = deflection.parse_solved(press.data)
        chat_id = press.chat_id
        if ticket_id is None or chat_id is None or press.chat_type != "private":
            await self._remember(update.update_id, kind, "ignored:callback", chat_id=chat_id)
            await self._answer(press.id, None)
            return Handled("ignored:callback")
        language = "zh" if (press.sender.language_code or "").startswith("zh") else "en"

        async def work(session: AsyncSession, now: datetime) -> tuple[bool, list[Event]]:
            claimed = await rows.remember(
                session,
                update.update_id,
                kind,
                "self_served",
                now,
                chat_id=chat_id,
                message_id=press.message_id,
                ticket_id=ticket_id,
            )
            if not claimed:
                return False, []
            events = await solve_self_served(
                session, Channel.TELEGRAM, str(chat_id), ticket_id, now
            )
            return True, events

        try:
            if not await self.desk.write(work):
                return Handled("duplicate")
        except (NotFound, Conflict) as err:
            outcome = "refused:closed" if isinstance(err, Conflict) else "refused:not_found"
            await self._remember(update.update_id, kind, outcome, chat_id=chat_id)
            key = "closed" if isinstance(err, Conflict) else "unknown"
            await self._answer(press.id, deflection.text_for(language, key))
            return Handled(outcome)
        await self._answer(press.id, deflection.text_for(language, "toast"))
        if self.api is not None:
            try:
                if press.message_id is not None:
                    await self.api.clear_buttons(chat_id, press.message_id)
                await self.api.send_text(chat_id, deflection.text_for(language, "solved"))
            except DeliveryError as err:
                log.warning("telegram: the self-served confirmation was not sent: %s", err)
        return Handled("self_served", ticket_id=ticket_id)

    async def _answer(self, callback_id: str, text: str | None) -> None:
        if self.api is None:
            return
        try:
            await self.api.answer_callback(callback_id, text or "")
        except DeliveryError as err:
            log.info("telegram: a button press was not answered: %s", err)

    async def _edited(self, update: TgUpdate, msg: TgMessage) -> Handled:
        text = compose_text(msg, ())
        edit_date = msg.edit_date or msg.date

        async def work(session: AsyncSession, now: datetime) -> tuple[Any, list[Event]]:
            edited = await edit_inbound(session, Channel.TELEGRAM, external_id(msg), text, now)
            if edited is None:
                return None, []
            if edited.changed:
                await rows.record_edit(
                    session, edited.message_id, edit_date, edited.previous_text, text, now
                )
            await rows.remember(
                session,
                update.update_id,
                update.kind.value,
                "edited",
                now,
                chat_id=msg.chat_id,
                message_id=msg.message_id,
                ticket_id=edited.ticket_id,
            )
            return edited, list(edited.events)

        edited = await self.desk.write(work)
        if edited is None:  # the original never reached us: the edited text is the message
            return await self._message(update, msg, outcome="ingested:edited")
        return Handled("edited", edited.number, edited.message_id)

    async def _files(self, msg: TgMessage) -> tuple[tuple[AttachmentRef, ...], list[str]]:
        """Downloads and stores the message's files; a file that cannot be kept becomes a
        note in the text. A network failure propagates (Telegram re-delivers)."""
        if not msg.files:
            return (), []
        refs: list[AttachmentRef] = []
        notes: list[str] = []
        for item in msg.files:
            name = item.name or DEFAULT_NAMES[item.kind]
            if self.api is None or self.blobs is None:
                notes.append(f"[{item.kind.value} not kept: file storage is not configured]")
                continue
            if item.size is not None and item.size > self.max_file_bytes:
                notes.append(_too_large(item, name, self.max_file_bytes))
                continue
            try:
                data = await self.api.download(item.file_id, self.max_file_bytes)
            except FileTooLarge:
                notes.append(_too_large(item, name, self.max_file_bytes))
                continue
            except PermanentFailure as err:  # gone or refused: retrying cannot help
                notes.append(f"[{item.kind.value} {name} not kept: {err}]")
                continue
            try:
                refs.append(await store(self.blobs, data, name, self.max_file_bytes))
            except AttachmentRefused as err:
                notes.append(f"[{item.kind.value} {name} not kept: {err}]")
        return tuple(refs), notes


def _plain(update: TgUpdate) -> bool:
    """A new message without files, not a command, from a person in a private chat."""
    msg = update.message
    return (
        update.kind is UpdateKind.MESSAGE
        and msg is not None
        and msg.private
        and msg.sender is not None
        and not msg.sender.is_bot
        and not msg.files
        and msg.command is None
    )


def _too_large(item: TgFile, name: str, limit: int) -> str:
    size = f"{item.size / (1024 * 1024):.1f} MB, " if item.size else ""
    return f"[{item.kind.value} {name} not kept: {size}larger than {limit // (1024 * 1024)} MB]"


def compose_text(msg: TgMessage, notes: tuple[str, ...] | list[str]) -> str:
    """The message's text (or caption), then what a contact or a location says, then the
    notes about files that were not kept."""
    lines = [msg.text] if msg.text else []
    if msg.contact is not None:
        c = msg.contact
        name = " ".join(p for p in (c.first_name, c.last_name) if p)
        lines.append(f"📇 {name} {c.phone_number}".strip())
    if msg.location is not None:
        loc = msg.location
        lines.append(f"📍 {loc.latitude:.6f}, {loc.longitude:.6f}")
    lines.extend(notes)
    if not lines and msg.other:
        lines.append(f"[{msg.other}]")
    return "\n".join(lines)


def _e164(phone: str) -> str:
    """Telegram sends the international number without its ``+``."""
    digits = phone.strip()
    return digits if digits.startswith("+") else "+" + digits.lstrip("0")


def _extra(msg: TgMessage) -> dict[str, Any]:
    extra: dict[str, Any] = {"chat_id": msg.chat_id, "message_id": msg.message_id}
    if msg.sender is not None:
        if msg.sender.username:
            extra["username"] = msg.sender.username
        if msg.sender.language_code:
            extra["language_code"] = msg.sender.language_code
    if msg.location is not None:
        extra["location"] = (msg.location.latitude, msg.location.longitude)
    if msg.reply_to_message_id is not None:
        extra["reply_to_message_id"] = msg.reply_to_message_id
    return extra
