"""Agent replies to Telegram, for the outbox dispatcher.

- The text goes out with ``sendMessage`` in parts of at most 4096 characters (Telegram
  counts UTF-16 code units), cut at a paragraph, else a line, else a space. Each part
  Telegram accepted is recorded (``telegram_sent``), so a retry after a failure in the
  middle sends only the missing parts: the Bot API has no idempotency key, and this is
  what keeps a retried reply from arriving twice.
- The first part quotes the customer's latest message of the ticket (reply threading),
  once; a deleted original does not fail the send (``allow_sending_without_reply``).
- Files attached to the reply go out with ``sendPhoto`` (JPEG and PNG; a photo Telegram
  refuses as one goes as a document) or ``sendDocument``.
- Errors (``channels.telegram.api.failure_of``): 429 waits Telegram's ``retry_after``;
  403 means the user blocked the bot, so the identity is marked unreachable
  (``tickets.reachability``: the composer says why and nothing more is sent until they
  write again) and the message fails; 400 (chat not found) fails it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from channels.attachments import BlobStore
from channels.base import PermanentFailure, SendResult
from channels.telegram import store as rows
from channels.telegram.api import TEXT_LIMIT, Blocked, BotApi, Sent
from channels.telegram.inbound import BLOCKED_REASON
from tickets import (
    AttachmentRef,
    Channel,
    DeliveryStatus,
    Desk,
    Event,
    OutboundMessage,
    parse_number,
)
from tickets.reachability import mark_unreachable

PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` UTF-16 code units."""
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            return i
    return len(text)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """``text`` in parts Telegram accepts, each cut at the best boundary in its second
    half (paragraph, line, space), else hard at the limit."""
    rest = text.strip()
    parts: list[str] = []
    while utf16_len(rest) > limit:
        n = _fit(rest, limit)
        cut = n
        for sep in ("\n\n", "\n", " "):
            at = rest.rfind(sep, 0, n)
            if at > n // 2:
                cut = at
                break
        head = rest[:cut].rstrip()
        parts.append(head if head else rest[:n])
        rest = rest[cut:].lstrip() if head else rest[n:]
    if rest:
        parts.append(rest)
    return parts


class TelegramSender:
    channel = Channel.TELEGRAM

    def __init__(self, desk: Desk, api: BotApi, blobs: BlobStore | None = None) -> None:
        self.desk = desk
        self.api = api
        self.blobs = blobs

    async def send(self, message: OutboundMessage) -> SendResult:
        try:
            chat_id = int(message.recipient)
        except ValueError:
            raise PermanentFailure(f"not a Telegram chat id: {message.recipient!r}") from None
        parts = split_text(message.text)
        if not parts and not message.attachments:
            raise PermanentFailure("nothing to send: the reply is empty")
        key = message.idempotency_key
        ticket_id = parse_number(message.ticket_number)

        async def progress(session: AsyncSession) -> tuple[dict[int, int], int | None]:
            done = await rows.sent_parts(session, key)
            target = None
            if not done and ticket_id is not None:
                target = await rows.reply_target(session, chat_id, ticket_id)
            return done, target

        done, reply_to = await self.desk.read(progress)
        try:
            for index, part in enumerate(parts):
                if index in done:
                    continue
                quote = reply_to if not done else None
                sent = await self.api.send_text(chat_id, part, reply_to=quote)
                await self._record(key, index, chat_id, sent.message_id, quote)
                done[index] = sent.message_id
            for offset, attachment in enumerate(message.attachments):
                index = len(parts) + offset
                if index in done:
                    continue
                if self.blobs is None:
                    raise PermanentFailure("files cannot be sent: no file storage configured")
                try:
                    data = await self.blobs.open(attachment.blob_ref)
                except KeyError:
                    raise PermanentFailure(f"the file {attachment.name} is gone") from None
                quote = reply_to if not done else None
                sent = await self._send_file(chat_id, data, attachment.name, attachment, quote)
                await self._record(key, index, chat_id, sent.message_id, quote)
                done[index] = sent.message_id
        except Blocked as err:
            await self._unreachable(str(chat_id))
            raise PermanentFailure(f"the customer {BLOCKED_REASON} ({err})") from None
        first = done[min(done)]
        return SendResult(external_id=f"{chat_id}:{first}", status=DeliveryStatus.SENT)

    async def _send_file(
        self, chat_id: int, data: bytes, name: str, attachment: AttachmentRef, quote: int | None
    ) -> Sent:
        """A photo Telegram refuses as a photo (too large, odd dimensions) goes out as a
        document instead."""
        if attachment.content_type in PHOTO_TYPES:
            try:
                return await self.api.send_file(chat_id, data, name, photo=True, reply_to=quote)
            except Blocked:
                raise
            except PermanentFailure:
                pass
        return await self.api.send_file(chat_id, data, name, photo=False, reply_to=quote)

    async def _record(
        self, key: str, index: int, chat_id: int, message_id: int, quote: int | None
    ) -> None:
        async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            await rows.record_part(session, key, index, chat_id, message_id, quote, now)
            return None, []

        await self.desk.write(work)

    async def _unreachable(self, address: str) -> None:
        async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            await mark_unreachable(session, Channel.TELEGRAM, address, BLOCKED_REASON, now)
            return None, []

        await self.desk.write(work)
