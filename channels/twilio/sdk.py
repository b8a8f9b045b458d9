"""The one module that imports the twilio SDK (SMS and voice both go through it).

Everything else in Switchboard sees our own types: ``TwilioConfig``, ``TwilioApi`` (the
calls we make), ``check_signature``, the TwiML builder ``voice_response()`` and our error
classes (``channels.base.TemporaryFailure`` / ``PermanentFailure`` via ``failure_of``).

- Signatures: twilio's ``RequestValidator`` over the externally visible URL
  (``SWITCHBOARD_PUBLIC_URL`` + path + query, never the Host header a client sent) and the
  form parameters.
- The async client: ``AsyncTwilioHttpClient`` makes its aiohttp session in ``__init__``,
  so ``TwilioApi.start()`` runs inside the loop (an app start-up hook) and ``close()`` on
  shutdown. ``SWITCHBOARD_TWILIO_API_BASE`` sends every request (every Twilio domain) to
  that base instead (tests: a local fake speaking Twilio's REST API). The client gets a
  per-call timeout shorter than the outbox lease.
- Errors: a ``TwilioRestException`` with status 429 or 5xx, and network errors, are
  temporary (retried with backoff); other 4xx are permanent, carrying Twilio's error code
  (21211 invalid number, 21610 unsubscribed recipient ...) so callers can act on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from channels.base import PermanentFailure, TemporaryFailure

log = logging.getLogger(__name__)

__all__ = [
    "ProviderError",
    "TwilioApi",
    "TwilioConfig",
    "VoiceResponse",
    "check_signature",
    "failure_of",
    "voice_response",
]


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    account_sid: str
    auth_token: str
    number: str
    public_url: str
    api_base: str | None = None
    timeout_s: float = 10.0


class ProviderError(PermanentFailure):
    """A permanent Twilio error with its numeric code (``code`` None when unknown)."""

    def __init__(self, message: str, code: int | None, status: int | None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def failure_of(err: BaseException) -> TemporaryFailure | ProviderError:
    """Our error for anything a Twilio call raised."""
    if isinstance(err, TwilioRestException):
        status = int(err.status or 0)
        text = f"twilio {status}: {err.msg}" + (f" (error {err.code})" if err.code else "")
        if status == 429 or status >= 500:
            return TemporaryFailure(text)
        return ProviderError(text, int(err.code) if err.code else None, status)
    if isinstance(err, aiohttp.ClientError | asyncio.TimeoutError | OSError):
        return TemporaryFailure(f"twilio unreachable: {type(err).__name__}: {err}")
    raise err


def check_signature(
    config: TwilioConfig, path_qs: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Whether ``signature`` (the X-Twilio-Signature header) signs this request as Twilio
    would have: the public URL of ``path_qs`` and the posted form ``params``."""
    if not signature:
        return False
    url = config.public_url.rstrip("/") + path_qs
    return bool(RequestValidator(config.auth_token).validate(url, dict(params), signature))


def voice_response() -> VoiceResponse:
    """A fresh TwiML ``<Response>`` for a voice webhook (Say, Gather, Enqueue, Dial, Record)."""
    return VoiceResponse()


class _RebasedHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Sends every Twilio domain (api, ...) to one base URL: a local fake in tests."""

    def __init__(self, base: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        parts = urlsplit(base)
        self._scheme, self._netloc = parts.scheme, parts.netloc

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        url = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, parts.fragment))
        return await super().request(method, url, *args, **kwargs)


class TwilioApi:
    """The Twilio REST calls Switchboard makes. ``start()`` inside the running loop."""

    def __init__(self, config: TwilioConfig) -> None:
        self.config = config
        self._http: AsyncTwilioHttpClient | None = None
        self._client: Any = None

    async def start(self) -> None:
        if self._client is not None:
            return
        c = self.config
        self._http = (
            _RebasedHttpClient(c.api_base, c.timeout_s)
            if c.api_base
            else AsyncTwilioHttpClient(timeout=c.timeout_s)
        )
        self._client = Client(c.account_sid, c.auth_token, http_client=self._http)

    async def close(self) -> None:
        if self._http is not None and getattr(self._http, "session", None) is not None:
            await self._http.session.close()
        self._http = None
        self._client = None

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("TwilioApi.start() was not awaited")
        return self._client

    async def send_sms(
        self,
        to: str,
        body: str,
        *,
        status_callback: str | None = None,
        media_url: list[str] | None = None,
    ) -> dict[str, Any]:
        """Sends one SMS/MMS; returns Twilio's answer (``sid``, ``status``, ...)."""
        kwargs: dict[str, Any] = {"to": to, "from_": self.config.number, "body": body}
        if status_callback:
            kwargs["status_callback"] = status_callback
        if media_url:
            kwargs["media_url"] = media_url
        try:
            message = await self.client.messages.create_async(**kwargs)
        except Exception as err:
            raise failure_of(err) from err
        return {"sid": message.sid, "status": message.status, "error_code": message.error_code}

    async def create_call(
        self,
        to: str,
        twiml: str,
        *,
        from_: str | None = None,
        status_callback: str | None = None,
    ) -> dict[str, Any]:
        """Places a call that runs ``twiml`` once answered; returns ``sid`` and ``status``."""
        kwargs: dict[str, Any] = {"to": to, "from_": from_ or self.config.number, "twiml": twiml}
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            call = await self.client.calls.create_async(**kwargs)
        except Exception as err:
            raise failure_of(err) from err
        return {"sid": call.sid, "status": call.status}

    async def redirect_call(self, call_sid: str, url: str, *, queue_sid: str | None = None) -> None:
        """Moves a live call to the TwiML at ``url``: a caller waiting in ``<Enqueue>`` is
        dequeued through its queue member (``queue_sid`` known), else the call itself is
        updated. A call that already ended is Twilio's 21220, a permanent failure."""
        try:
            if queue_sid:
                member = self.client.queues(queue_sid).members(call_sid)
                await member.update_async(url=url, method="POST")
            else:
                await self.client.calls(call_sid).update_async(url=url, method="POST")
        except Exception as err:
            raise failure_of(err) from err

    async def fetch_media(self, url: str, limit: int) -> tuple[bytes, str]:
        """Downloads a media URL Twilio gave us (MediaUrlN, RecordingUrl) with the account's
        credentials, at most ``limit`` bytes; returns the bytes and the stated content type.
        Raises ``TemporaryFailure`` on network trouble, ``PermanentFailure`` when too big."""
        c = self.config
        if c.api_base:
            parts = urlsplit(url)
            base = urlsplit(c.api_base)
            url = urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
        auth = aiohttp.BasicAuth(c.account_sid, c.auth_token)
        timeout = aiohttp.ClientTimeout(total=c.timeout_s)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, auth=auth) as response,
            ):
                if response.status >= 400:
                    raise failure_of(TwilioRestException(response.status, url, "media fetch"))
                if (response.content_length or 0) > limit:
                    raise PermanentFailure(f"media larger than {limit} bytes")
                chunks, size = [], 0
                async for chunk in response.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > limit:
                        raise PermanentFailure(f"media larger than {limit} bytes")
                    chunks.append(chunk)
                stated = response.headers.get("Content-Type", "application/octet-stream")
                return b"".join(chunks), stated
        except (aiohttp.ClientError, TimeoutError) as err:
            raise TemporaryFailure(f"media download failed: {type(err).__name__}") from err
