"""SMS and MMS through Twilio: the inbound webhook, the status callback and the outbox's
sender.

- ``POST /webhooks/twilio/sms``: the signature (``X-Twilio-Signature``) is checked
  against ``SWITCHBOARD_PUBLIC_URL`` + path + query (403 otherwise, one log line without
  the signature or the form). From, To, Body and the media become an ``InboundMessage``
  (``MessageSid`` is its external id; every form field, known or not, is kept in
  ``extra``). Media is downloaded with the account's credentials, at most
  ``attachment_max_bytes`` each, typed from its bytes (``channels.attachments``); a file
  too large or refused is named in the text instead of silently dropped. The answer, an
  empty TwiML ``<Response/>``, is sent only after the commit; a failure answers 5xx, so
  Twilio delivers again, and a re-delivery (also a concurrent one) is a no-op.
- Opt-out: a message that is only STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, 退订 or
  TD (any case, surrounding punctuation ignored), or that Twilio's Advanced Opt-Out
  labels ``OptOutType=STOP``, marks the number opted out; START and UNSTOP (or
  ``OptOutType=START``) re-subscribe. The change commits in the same transaction as the
  message itself, so a crash in between cannot lose it and a late re-delivery of an old
  STOP cannot undo a newer START. Twilio's YES keyword is not taken: a customer
  answering an agent's question with "yes" must not change anything.
- Outbound: ``messages.create_async`` with ``StatusCallback`` set to
  ``/webhooks/twilio/status?m=<message id>&k=<the send's idempotency key>`` (our id, so a
  receipt that arrives before the send's own result is recorded is still matched; the
  key, so a late receipt of an earlier send never marks a retried one). 429 and 5xx retry with the
  outbox's backoff; other 4xx fail the message with Twilio's code explained; 21610
  (unsubscribed recipient) also marks the number opted out.
- ``POST /webhooks/twilio/status`` (signed too) records queued / sent / delivered /
  undelivered / failed with the error code on the message; statuses only move forward
  (``tickets.record_provider_status``), so a late "sent" never undoes "delivered".

Outbound MMS (agent attachments) is not sent: Twilio fetches media from public URLs,
and staff attachments are private; the agent is told by the composer's SMS counter.
"""

from __future__ import annotations

import asyncio
import logging
import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from channels import attachments
from channels.attachments import AttachmentRefused, BlobStore
from channels.base import PermanentFailure, SendResult, TemporaryFailure
from channels.twilio.errors import OPTED_OUT, explain
from channels.twilio.sdk import ProviderError, TwilioApi, TwilioConfig, check_signature
from tickets import (
    AttachmentRef,
    Channel,
    DeliveryStatus,
    Desk,
    Event,
    InboundMessage,
    IngestResult,
    OutboundMessage,
)

log = logging.getLogger(__name__)

SMS_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/webhooks/twilio/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_MEDIA = 10  # Twilio delivers at most ten media per MMS
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "退订", "TD"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
_STRIP = string.whitespace + string.punctuation + "。！，、；：？“”‘’（）【】…　"
TWILIO_STATUS: Mapping[str, DeliveryStatus] = {
    "accepted": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.QUEUED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}


def opt_keyword(body: str, opt_out_type: str | None = None) -> tuple[str, str] | None:
    """``("out" | "in", word)`` when the message opts out of or back into SMS."""
    kind = (opt_out_type or "").strip().upper()
    word = body.strip(_STRIP).upper()
    if kind == "STOP" or word in OPT_OUT_WORDS:
        return "out", word or kind
    if kind == "START" or word in OPT_IN_WORDS:
        return "in", word or kind
    return None


def media_count(params: Mapping[str, str]) -> int:
    try:
        return max(0, min(MAX_MEDIA, int(params.get("NumMedia", "0") or 0)))
    except ValueError:
        return 0


def inbound_sms(
    params: Mapping[str, str],
    received_at: datetime,
    files: tuple[AttachmentRef, ...] = (),
    notes: tuple[str, ...] = (),
) -> InboundMessage:
    """The ``InboundMessage`` of a Twilio SMS/MMS webhook form (``From`` and
    ``MessageSid`` present); ``notes`` are lines about media that was not kept."""
    text = params.get("Body", "")
    if notes:
        text = "\n".join([text, *notes]) if text else "\n".join(notes)
    return InboundMessage(
        channel=Channel.SMS,
        external_id=params["MessageSid"],
        sender=params["From"],
        text=text,
        received_at=received_at,
        attachments=files,
        extra=MappingProxyType(dict(params)),
    )


class TwilioSmsSender:
    """The outbox's SMS sender (``channels.base.Sender``)."""

    channel = Channel.SMS

    def __init__(self, api: TwilioApi, desk: Desk, status_url: str) -> None:
        self.api = api
        self.desk = desk
        self.status_url = status_url

    async def send(self, message: OutboundMessage) -> SendResult:
        if not message.recipient:
            raise PermanentFailure("the message has no phone number to send to")
        await self.api.start()
        try:
            sent = await self.api.send_sms(
                message.recipient,
                message.text,
                status_callback=(
                    f"{self.status_url}?m={message.message_id}&k={message.idempotency_key}"
                ),
            )
        except ProviderError as err:
            reason = explain(err.code, str(err))
            if err.code == OPTED_OUT:
                await self._opted_out(message.recipient, reason)
            raise ProviderError(reason, err.code, err.status) from err
        if sent.get("status") == "failed":
            raise PermanentFailure(explain(sent.get("error_code"), "Twilio refused the message"))
        return SendResult(external_id=sent["sid"], status=DeliveryStatus.SENT)

    async def _opted_out(self, address: str, reason: str) -> None:
        async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            await tickets.mark_unreachable(session, Channel.SMS, address, reason, now)
            return None, []

        await self.desk.write(work)


@dataclass
class TwilioSms:
    """The SMS channel: the two webhooks and the sender, over one ``TwilioApi``."""

    desk: Desk
    api: TwilioApi
    blobs: BlobStore
    max_bytes: int = attachments.DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        self.sender = TwilioSmsSender(self.api, self.desk, self.public(STATUS_PATH))

    @property
    def config(self) -> TwilioConfig:
        return self.api.config

    def public(self, path: str) -> str:
        return self.config.public_url.rstrip("/") + path

    async def close(self) -> None:
        await self.api.close()

    # -- webhooks ---------------------------------------------------------------------

    async def _signed_form(self, request: web.Request) -> dict[str, str]:
        form = await request.post()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
        if not check_signature(
            self.config, request.path_qs, params, request.headers.get("X-Twilio-Signature")
        ):
            log.warning(
                "%s %s from %s -> 403: missing or invalid X-Twilio-Signature",
                request.method,
                request.path,
                request.remote,
            )
            raise web.HTTPForbidden(text="invalid Twilio signature\n")
        return params

    async def inbound(self, request: web.Request) -> web.Response:
        params = await self._signed_form(request)
        sid, sender = params.get("MessageSid", ""), params.get("From", "")
        if not sid or not sender:
            log.warning("twilio sms webhook without MessageSid or From -> 400")
            return web.Response(status=400, text="MessageSid and From are required\n")
        try:
            address = tickets.normalize_address(Channel.SMS, sender)
        except tickets.InvalidAddress as err:
            log.warning("twilio sms %s -> 400: %s", sid, err)
            return web.Response(status=400, text=f"{err}\n")
        try:
            files, notes = await self._media(params)
            msg = inbound_sms(params, self.desk.clock(), files, notes)
            keyword = opt_keyword(msg.extra.get("Body", ""), params.get("OptOutType"))
            then = _reachability(address, *keyword) if keyword else None
            await self.desk.ingest(msg, then=then)
        except TemporaryFailure as err:
            log.warning("twilio sms %s -> 503 (Twilio will retry): %s", sid, err)
            return web.Response(status=503, text="media could not be fetched; retry\n")
        except tickets.Unavailable as err:
            log.warning("twilio sms %s -> 503 (Twilio will retry): %s", sid, err)
            return web.Response(status=503, text=f"{err}\n")
        except Exception:
            log.exception("twilio sms %s -> 500 (Twilio will retry): not stored", sid)
            return web.Response(status=500, text="not stored; retry\n")
        return web.Response(text=EMPTY_TWIML, content_type="text/xml", charset="utf-8")

    async def status(self, request: web.Request) -> web.Response:
        params = await self._signed_form(request)
        raw = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
        status = TWILIO_STATUS.get(raw)
        sid = params.get("MessageSid") or None
        try:
            message_id: int | None = int(request.query["m"]) if "m" in request.query else None
        except ValueError:
            return web.Response(status=400, text="m must be a message id\n")
        if status is None or (message_id is None and sid is None):
            log.info("twilio status %r for %s ignored", raw, sid)
            return web.Response(text="")
        error = None
        if status is DeliveryStatus.FAILED:
            error = f"{raw}: " + explain(
                params.get("ErrorCode"), params.get("ErrorMessage") or "no reason given"
            )

        async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            return None, await tickets.record_provider_status(
                session,
                Channel.SMS,
                status,
                error,
                message_id=message_id,
                external_id=sid,
                attempt=request.query.get("k") or None,
            )

        try:
            await self.desk.write(work)
        except tickets.Unavailable as err:
            log.warning("twilio status for %s -> 503: %s", sid, err)
            return web.Response(status=503, text=f"{err}\n")
        except Exception:
            log.exception("twilio status for %s -> 500: not recorded", sid)
            return web.Response(status=500, text="not recorded; retry\n")
        return web.Response(text="")

    # -- media ------------------------------------------------------------------------

    async def _media(
        self, params: Mapping[str, str]
    ) -> tuple[tuple[AttachmentRef, ...], tuple[str, ...]]:
        count = media_count(params)
        urls = [params.get(f"MediaUrl{i}", "") for i in range(count)]
        results = await asyncio.gather(*(self._one(i, u) for i, u in enumerate(urls) if u))
        files = tuple(r for r in results if isinstance(r, AttachmentRef))
        notes = tuple(r for r in results if isinstance(r, str))
        return files, notes

    async def _one(self, index: int, url: str) -> AttachmentRef | str:
        """One stored attachment, or a note for the agent on why it is missing.
        ``TemporaryFailure`` propagates: the webhook answers 503 and Twilio retries."""
        if not self._trusted(url):
            log.warning("twilio media %d ignored: not a Twilio URL", index)
            return f"[attachment {index + 1} not fetched: not a Twilio URL]"
        try:
            data, _stated = await self.api.fetch_media(url, self.max_bytes)
            content_type = attachments.sniff(data)
            name = f"mms-{index + 1}" + EXTENSIONS.get(content_type, "")
            return await attachments.store(self.blobs, data, name, self.max_bytes)
        except AttachmentRefused as err:
            return f"[attachment {index + 1} not kept: {err}]"
        except TemporaryFailure:
            raise
        except PermanentFailure as err:
            log.warning("twilio media %d not kept: %s", index, err)
            return f"[attachment {index + 1} not kept: {err}]"

    def _trusted(self, url: str) -> bool:
        """Credentials go only to Twilio (or to the configured API base, in tests)."""
        parts = urlsplit(url)
        if self.config.api_base:
            return parts.scheme in ("http", "https")
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and (host == "twilio.com" or host.endswith(".twilio.com"))


EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}


def _reachability(
    address: str, kind: str, word: str
) -> Callable[[AsyncSession, IngestResult, datetime], Awaitable[None]]:
    """The opt-out (or opt-in) that commits with the keyword message itself."""

    async def then(session: AsyncSession, result: IngestResult, now: datetime) -> None:
        if kind == "out":
            await tickets.mark_unreachable(
                session, Channel.SMS, address, f"opted out by SMS ({word})", now
            )
        else:
            await tickets.mark_reachable(session, Channel.SMS, address)

    return then


SMS: web.AppKey[TwilioSms] = web.AppKey("twilio_sms", TwilioSms)


def sms_routes(app: web.Application) -> None:
    """``POST /webhooks/twilio/sms`` and ``/status``, served by ``app[SMS]`` (set at
    start-up, when the Twilio settings are complete)."""

    async def inbound(request: web.Request) -> web.Response:
        return await request.app[SMS].inbound(request)

    async def status(request: web.Request) -> web.Response:
        return await request.app[SMS].status(request)

    app.router.add_post(SMS_PATH, inbound)
    app.router.add_post(STATUS_PATH, status)
