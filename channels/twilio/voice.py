"""Phone calls through Twilio Voice: an IVR in Chinese and English, callers waiting in a
Twilio queue until an agent accepts the routing offer, voicemail, and call-backs placed
from the workspace.

The flow (every webhook signature-checked, 403 otherwise; TwiML built by twilio's
``VoiceResponse`` through ``sdk.voice_response``):

- ``POST /webhooks/twilio/voice``: greeting and language choice (1 中文 / 2 English, by key
  or by voice), then the menu: order status, repair service, other.
- Order status: the caller keys in the order number; the answer is spoken from the
  ``OrderLookup`` hook (the ERP room's, when wired). Without an answer the caller hears
  "an agent will call you back", and that is what happens: the call becomes a ticket owing
  a call-back.
- Repair / other: the call becomes a ticket through ``tickets.ingest`` (channel voice, the
  caller's number as the phone identity, the same customer as their SMS), so routing
  offers it like any work (voice capacity 1 per agent). Outside business hours the caller
  goes to voicemail at once; otherwise they wait in ``<Enqueue>`` (named after the
  ticket's queue) with hold music and, once a minute, their position.
- An agent accepts the offer: the ``TicketAssigned`` event reaches ``on_event`` (a durable
  consumer group), which dequeues the caller (queue member update, else a call update) to
  ``/bridge``: ``<Dial>`` to the agent's phone number (``voice_agent_phones``) or their
  Twilio Client identity ``agent_<id>``. A queue wait past the queue's maximum leaves the
  queue (``<Leave>``) for voicemail; an agent who does not pick up, too.
- Voicemail: ``<Record transcribe="true">``; the recording (downloaded with the account's
  credentials) is stored as an attachment of a voicemail message, and the transcription,
  when Twilio sends it, is added as a message of its own. A missed or abandoned call leaves
  the ticket owing a call-back (``voice_calls.callback_due``), shown on the ticket page.
- Call-back: the agent presses the button on a voice ticket; Twilio calls the agent first
  (``calls.create`` with TwiML) and then dials the customer; the call is logged on the
  ticket as a note with its call card. A completed call-back settles the owed call-backs.
- Status callbacks record duration and outcome (completed, busy, no-answer, failed,
  canceled); a caller who hangs up while waiting is an abandoned call.

Decisions where the issue is silent: a caller who gives no input twice continues in
Chinese (most of our callers) and, at the menu, as "other"; a ticket that is already
assigned (the caller phoned about an open ticket) is bridged to its assignee at once;
anonymous callers (no number to call back) are told so and the call ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from channels.attachments import BlobStore
from channels.base import PermanentFailure, TemporaryFailure
from channels.twilio import voice_store as store
from channels.twilio.sdk import TwilioApi, TwilioConfig, VoiceResponse, check_signature
from channels.twilio.voice_events import CallChanged
from channels.twilio.voice_prompts import (
    AGENT_CALLBACK,
    AGENT_WHISPER,
    CLOSED,
    CONNECTING,
    DEFAULT_LANGUAGE,
    GREETING_EN,
    GREETING_ZH,
    LANGUAGE_WORDS,
    MENU,
    MENU_DIGITS,
    MENU_WORDS,
    NO_AGENT,
    NO_NUMBER,
    NOT_UNDERSTOOD,
    ORDER_ANSWER_END,
    ORDER_CALLBACK,
    ORDER_NUMBER,
    POSITION,
    THANKS_MESSAGE,
    TICKET_TEXT,
    TTS,
    Prompt,
)
from tickets import (
    AttachmentRef,
    Channel,
    Desk,
    Event,
    InboundMessage,
    Invalid,
    InvalidAddress,
    StaffUser,
    TicketAssigned,
    add_note,
    all_queues,
    business_hours,
    channel_address,
    format_number,
    parse_number,
    ticket_detail,
    ticket_facts,
)

log = logging.getLogger(__name__)

BASE = "/webhooks/twilio/voice"
VOICEMAIL_TEXT = Prompt("语音留言（{seconds} 秒）", "Voicemail ({seconds} s)")
TRANSCRIPT_TEXT = Prompt("语音留言转写：{text}", "Voicemail transcript: {text}")
# What Twilio puts in From for a withheld caller ID: no number to call back.
ANONYMOUS = frozenset(
    {"", "anonymous", "restricted", "unknown", "private", "+266696687", "+86282452253", "+8656696"}
)
CALLBACK_NOTE = Prompt("{agent} 回拨客户 {to}", "Call-back to {to} by {agent}")


class OrderLookup(Protocol):
    """The spoken answer for an order number (the ERP room's), or None when unknown."""

    def __call__(self, order_number: str, language: str) -> Awaitable[str | None]: ...


async def no_order_lookup(order_number: str, language: str) -> str | None:
    """No ERP wired: every order status request becomes a call-back."""
    return None


@dataclass(frozen=True, slots=True)
class VoiceOptions:
    max_wait_s: int = 300
    queue_max_wait_s: Mapping[str, int] = field(default_factory=dict)
    hold_music_url: str = (
        "http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"
    )
    announce_every_s: int = 60
    ring_timeout_s: int = 20
    max_recording_s: int = 120
    max_recording_bytes: int = 10 * 1024 * 1024

    def max_wait(self, queue: str | None) -> int:
        return self.queue_max_wait_s.get(queue or "", self.max_wait_s)


def parse_queue_waits(raw: str | None) -> dict[str, int]:
    """``"Repairs=120,Orders=300"`` -> ``{"Repairs": 120, "Orders": 300}``."""
    out: dict[str, int] = {}
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        name, sep, seconds = part.rpartition("=")
        if not sep or not name.strip():
            raise ValueError(f"expected QUEUE=SECONDS, got {part.strip()!r}")
        out[name.strip()] = int(seconds)
    return out


def _twiml(response: VoiceResponse) -> web.Response:
    return web.Response(text=str(response), content_type="application/xml")


def _language(value: str | None) -> str:
    return value if value in TTS else DEFAULT_LANGUAGE


def _heard(form: Mapping[str, str], words: Mapping[str, tuple[str, ...]]) -> str | None:
    speech = form.get("SpeechResult", "").strip().lower()
    if not speech:
        return None
    return next((key for key, said in words.items() if any(w in speech for w in said)), None)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def audio_type(data: bytes) -> str:
    """The recording's type from its first bytes (Twilio serves WAV, or MP3 on ``.mp3``)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"ID3") or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    return "application/octet-stream"


class Voice:
    def __init__(
        self,
        desk: Desk,
        api: TwilioApi,
        blobs: BlobStore,
        options: VoiceOptions | None = None,
        orders: OrderLookup = no_order_lookup,
    ) -> None:
        self.desk = desk
        self.api = api
        self.config: TwilioConfig = api.config
        self.blobs = blobs
        self.options = options or VoiceOptions()
        self.orders = orders

    # -- plumbing ----------------------------------------------------------------------

    def url(self, path: str = "", **query: object) -> str:
        """The public URL Twilio calls back (and signs) for a step of the flow."""
        qs = urlencode({k: str(v) for k, v in query.items() if v is not None})
        return f"{self.config.public_url.rstrip('/')}{BASE}{path}" + (f"?{qs}" if qs else "")

    async def _form(self, request: web.Request) -> dict[str, str]:
        form = {k: str(v) for k, v in (await request.post()).items()}
        signature = request.headers.get("X-Twilio-Signature")
        if not check_signature(self.config, request.path_qs, form, signature):
            log.warning(
                "twilio voice webhook %s refused: %s signature",
                request.path,
                "missing" if not signature else "invalid",
            )
            raise web.HTTPForbidden(text="invalid Twilio signature\n")
        return form

    async def _write(self, work: Callable[[AsyncSession, datetime], Awaitable[Any]]) -> Any:
        async def run(session: AsyncSession, now: datetime) -> tuple[Any, list[Event]]:
            return await work(session, now), []

        return await self.desk.write(run)

    async def _changed(self, sid: str) -> None:
        """Tells open ticket pages that this call changed (a broadcast: may be missed)."""
        call = await self.desk.read(lambda s: store.call_by_sid(s, sid))
        if call is None or call.ticket_id is None:
            return
        try:
            await self.desk.broadcast(
                [
                    CallChanged(
                        call.ticket_id,
                        format_number(call.ticket_id),
                        call.call_sid,
                        call.state,
                        call.outcome,
                    )
                ]
            )
        except Exception as err:
            log.warning("could not announce a change of call %s: %s", sid, err)

    def _say(self, target: Any, prompt: Prompt, language: str, **values: object) -> None:
        target.say(prompt(language, **values), language=TTS[language])

    # -- the IVR -----------------------------------------------------------------------

    async def incoming(self, request: web.Request) -> web.Response:
        """A call arrives (the number's Voice URL): greeting and language choice."""
        form = await self._form(request)
        sid = form.get("CallSid", "")
        if not sid:
            raise web.HTTPBadRequest(text="CallSid missing\n")

        async def work(session: AsyncSession, now: datetime) -> None:
            await store.open_call(session, sid, form.get("From", ""), form.get("To", ""), now)

        await self._write(work)
        return _twiml(self._greeting(_int(request.query.get("attempt")) or 0))

    def _greeting(self, attempt: int) -> VoiceResponse:
        response = VoiceResponse()
        gather = response.gather(
            input="dtmf speech",
            num_digits=1,
            action=self.url("/language", attempt=attempt),
            method="POST",
            timeout=5,
            language="zh-CN",
            hints="中文, 普通话, English",
        )
        self._say(gather, GREETING_ZH, "zh")
        self._say(gather, GREETING_EN, "en")
        response.redirect(self.url("/language", attempt=attempt), method="POST")
        return response

    async def choose_language(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        attempt = _int(request.query.get("attempt")) or 0
        digit = form.get("Digits", "")
        language = {"1": "zh", "2": "en"}.get(digit) or _heard(form, LANGUAGE_WORDS)
        if language is None and attempt < 1:
            response = VoiceResponse()
            if digit or form.get("SpeechResult"):
                self._say(response, NOT_UNDERSTOOD, "zh")
                self._say(response, NOT_UNDERSTOOD, "en")
            response.redirect(self.url("", attempt=attempt + 1), method="POST")
            return _twiml(response)
        language = language or DEFAULT_LANGUAGE
        sid = form.get("CallSid", "")

        async def work(session: AsyncSession, now: datetime) -> None:
            await store.change(session, sid, now, language=language)

        await self._write(work)
        return _twiml(self._menu(language, 0))

    def _menu(self, language: str, attempt: int, *, apology: bool = False) -> VoiceResponse:
        response = VoiceResponse()
        if apology:
            self._say(response, NOT_UNDERSTOOD, language)
        gather = response.gather(
            input="dtmf speech",
            num_digits=1,
            action=self.url("/menu", lang=language, attempt=attempt),
            method="POST",
            timeout=6,
            language=TTS[language],
            hints="订单, 维修, 其他" if language == "zh" else "order, repair, other",
        )
        self._say(gather, MENU, language)
        response.redirect(self.url("/menu", lang=language, attempt=attempt), method="POST")
        return response

    async def menu(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        language = _language(request.query.get("lang"))
        attempt = _int(request.query.get("attempt")) or 0
        choice = MENU_DIGITS.get(form.get("Digits", "")) or _heard(form, MENU_WORDS)
        if choice is None:
            if attempt < 1:
                heard = bool(form.get("Digits") or form.get("SpeechResult"))
                return _twiml(self._menu(language, attempt + 1, apology=heard))
            choice = "other"
        if choice == "order":
            response = VoiceResponse()
            gather = response.gather(
                input="dtmf",
                finish_on_key="#",
                action=self.url("/order", lang=language),
                method="POST",
                timeout=10,
            )
            self._say(gather, ORDER_NUMBER, language)
            response.redirect(self.url("/order", lang=language), method="POST")
            return _twiml(response)
        return await self._to_agent(form, language, choice)

    async def order(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        language = _language(request.query.get("lang"))
        order_number = "".join(c for c in form.get("Digits", "") if c.isdigit())[:32]
        answer = None
        if order_number:
            try:
                answer = await self.orders(order_number, language)
            except Exception:
                log.exception("order lookup for a phone caller failed")
        response = VoiceResponse()
        if answer:
            response.say(answer, language=TTS[language])
            self._say(response, ORDER_ANSWER_END, language)
            response.hangup()
            return _twiml(response)
        text = TICKET_TEXT["order"](language, order=order_number or "?")
        ticket = await self._ticket(form, language, text, "order")
        if ticket is None:
            self._say(response, NO_NUMBER, language)
        else:
            await self._write(lambda s, now: store.owe_callback(s, form["CallSid"], now))
            self._say(response, ORDER_CALLBACK, language, order=order_number or "")
        response.hangup()
        return _twiml(response)

    async def _ticket(
        self, form: Mapping[str, str], language: str, text: str, choice: str
    ) -> int | None:
        """The call as a message of the caller's ticket (made or threaded by ingest)."""
        sid = form.get("CallSid", "")
        if form.get("From", "").strip().lower() in ANONYMOUS:
            log.info("a call from a withheld number cannot become a ticket")
            return None
        message = InboundMessage(
            channel=Channel.VOICE,
            external_id=sid,
            sender=form.get("From", ""),
            text=text,
            received_at=self.desk.clock(),
            extra={"menu": choice, "language": language, "to": form.get("To", "")},
        )
        try:
            result = await self.desk.ingest(message)
        except InvalidAddress:
            log.info("a call from a hidden or invalid number could not become a ticket")
            return None

        async def work(session: AsyncSession, now: datetime) -> None:
            await store.open_call(session, sid, form.get("From", ""), form.get("To", ""), now)
            await store.change(
                session,
                sid,
                now,
                ticket_id=result.ticket_id,
                message_id=result.message_id,
                language=language,
            )

        await self._write(work)
        return result.ticket_id

    async def _to_agent(self, form: Mapping[str, str], language: str, choice: str) -> web.Response:
        sid = form.get("CallSid", "")
        ticket_id = await self._ticket(form, language, TICKET_TEXT[choice](language), choice)
        response = VoiceResponse()
        if ticket_id is None:
            self._say(response, NO_NUMBER, language)
            response.hangup()
            return _twiml(response)

        async def place(
            session: AsyncSession, now: datetime
        ) -> tuple[str | None, bool, int | None]:
            facts = await ticket_facts(session, ticket_id)
            queues = {q.id: q.name for q in await all_queues(session)}
            queue = queues.get(facts.queue_id) if facts and facts.queue_id else None
            hours = await business_hours(session, queue, now)
            if not hours.is_open:
                await store.change(session, sid, now, queue_name=queue)
                return queue, False, None
            await store.move(
                session, sid, {"ivr"}, now, state="queued", queue_name=queue, enqueued_at=now
            )
            assignee = facts.assignee_id if facts else None
            if assignee is not None and await store.move(
                session, sid, {"queued"}, now, state="bridging", agent_id=assignee
            ):
                return queue, True, assignee
            return queue, True, None

        queue, is_open, assignee = await self._write(place)
        await self._changed(sid)
        if not is_open:
            return _twiml(await self._voicemail(sid, language, CLOSED))
        if assignee is not None:
            return _twiml(await self._bridge_twiml(sid, language, assignee))
        self._say(response, CONNECTING, language)
        response.enqueue(
            (queue or "Switchboard")[:64],
            wait_url=self.url("/wait", lang=language),
            wait_url_method="POST",
            action=self.url("/queue-done", lang=language),
            method="POST",
        )
        return _twiml(response)

    # -- waiting in the queue ------------------------------------------------------------

    async def wait(self, request: web.Request) -> web.Response:
        """Twilio's waitUrl, requested again whenever the hold TwiML ends: the position
        once a minute, hold music, and ``<Leave>`` when an agent took the ticket (the
        queue callback bridges) or the queue's maximum wait is over (voicemail)."""
        form = await self._form(request)
        language = _language(request.query.get("lang"))
        sid = form.get("CallSid", "")
        waited = _int(form.get("QueueTime")) or 0

        async def work(session: AsyncSession, now: datetime) -> tuple[str, bool]:
            call = await store.call_by_sid(session, sid)
            if call is None:
                return "leave", False
            if form.get("QueueSid") and call.queue_sid != form["QueueSid"]:
                await store.change(session, sid, now, queue_sid=form["QueueSid"])
            facts = await ticket_facts(session, call.ticket_id) if call.ticket_id else None
            if call.state == "queued" and facts is not None and facts.assignee_id is not None:
                return "leave", False
            if call.state == "queued" and waited >= self.options.max_wait(call.queue_name):
                return "leave", False
            if call.state == "leaving":
                return "leave", False
            last = call.announced_at
            due = last is None or (now - last).total_seconds() >= self.options.announce_every_s
            if due:
                await store.change(session, sid, now, announced_at=now)
            return "hold", due

        what, announce = await self._write(work)
        response = VoiceResponse()
        if what == "leave":
            response.leave()
            return _twiml(response)
        if announce:
            position = max(1, _int(form.get("QueuePosition")) or 1)
            self._say(response, POSITION, language, position=position, ahead=position - 1)
        response.play(self.options.hold_music_url)
        return _twiml(response)

    async def queue_done(self, request: web.Request) -> web.Response:
        """The ``<Enqueue>`` action: how the caller left the queue."""
        form = await self._form(request)
        language = _language(request.query.get("lang"))
        sid = form.get("CallSid", "")
        result = form.get("QueueResult", "")
        response = VoiceResponse()
        if result in ("bridged", "redirected"):
            return _twiml(response)
        if result == "hangup":

            async def abandoned(session: AsyncSession, now: datetime) -> None:
                waiting = store.WAITING_STATES | {"leaving"}
                if await store.move(session, sid, waiting, now, state="abandoned"):
                    await store.owe_callback(session, sid, now)

            await self._write(abandoned)
            await self._changed(sid)
            return _twiml(response)

        async def assigned(session: AsyncSession, now: datetime) -> int | None:
            call = await store.call_by_sid(session, sid)
            if call is None or call.ticket_id is None:
                return None
            facts = await ticket_facts(session, call.ticket_id)
            if facts is None or facts.assignee_id is None:
                return None
            moved = await store.move(
                session, sid, {"queued"}, now, state="bridging", agent_id=facts.assignee_id
            )
            return facts.assignee_id if moved else None

        agent = await self._write(assigned)
        if agent is not None:
            return _twiml(await self._bridge_twiml(sid, language, agent))
        return _twiml(await self._voicemail(sid, language, NO_AGENT))

    # -- bridging to the agent -----------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        """An agent took a ticket (accepted its offer, or was assigned): a caller of that
        ticket waiting in the queue is dequeued to them."""
        if not isinstance(event, TicketAssigned) or event.assignee_id is None:
            return
        agent = event.assignee_id

        async def claim(session: AsyncSession, now: datetime) -> tuple[str, str, str | None] | None:
            call = await store.waiting_call(session, event.ticket_id)
            if call is None:
                return None
            if not await store.move(
                session, call.call_sid, {"queued"}, now, state="bridging", agent_id=agent
            ):
                return None
            return call.call_sid, _language(call.language), call.queue_sid

        claimed = await self._write(claim)
        if claimed is None:
            return
        sid, language, queue_sid = claimed
        try:
            await self.api.redirect_call(
                sid, self.url("/bridge", lang=language, agent=agent), queue_sid=queue_sid
            )
        except TemporaryFailure:
            await self._write(
                lambda s, now: store.move(s, sid, {"bridging"}, now, state="queued", agent_id=None)
            )
            raise
        except PermanentFailure as err:
            log.info("could not bridge call %s to agent %s: %s", sid, agent, err)
        log.info("call %s dequeued to agent %s", sid, agent)
        await self._changed(sid)

    async def sweep(self) -> int:
        """Callers past their queue's maximum wait leave the queue for voicemail now (the
        waitUrl check alone runs only between hold clips). Claimed first (queued ->
        leaving), so an agent accepting at the same moment and this never both move the
        call; returns how many were sent on."""

        async def due(session: AsyncSession, now: datetime) -> list[tuple[str, str, str | None]]:
            out = []
            for call in await store.queued_calls(session):
                waited = (now - (call.enqueued_at or now)).total_seconds()
                if waited < self.options.max_wait(call.queue_name):
                    continue
                if await store.move(session, call.call_sid, {"queued"}, now, state="leaving"):
                    out.append((call.call_sid, _language(call.language), call.queue_sid))
            return out

        moved = 0
        for sid, language, queue_sid in await self._write(due):
            try:
                await self.api.redirect_call(
                    sid, self.url("/queue-done", lang=language), queue_sid=queue_sid
                )
                moved += 1
                await self._changed(sid)
            except TemporaryFailure as err:
                log.warning("could not move call %s out of the queue yet: %s", sid, err)
                await self._write(self._back_to_queue(sid))
            except PermanentFailure as err:
                log.info("call %s left before its wait was over: %s", sid, err)
        return moved

    @staticmethod
    def _back_to_queue(sid: str) -> Callable[[AsyncSession, datetime], Awaitable[bool]]:
        async def work(session: AsyncSession, now: datetime) -> bool:
            return await store.move(session, sid, {"leaving"}, now, state="queued")

        return work

    async def sweep_forever(self, every_s: float = 10.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("voice queue sweep failed; trying again")

    async def agent_endpoint(self, session: AsyncSession, agent_id: int) -> tuple[str, str]:
        """("number", "+86...") when the agent gave a phone, else ("client", "agent_<id>")."""
        phone = await store.agent_phone(session, agent_id)
        return ("number", phone) if phone else ("client", f"agent_{agent_id}")

    async def _bridge_twiml(self, sid: str, language: str, agent: int) -> VoiceResponse:
        async def work(session: AsyncSession, now: datetime) -> tuple[str, str, int | None]:
            await store.move(
                session,
                sid,
                {"queued", "bridging"},
                now,
                state="bridged",
                agent_id=agent,
                bridged_at=now,
            )
            call = await store.call_by_sid(session, sid)
            kind, target = await self.agent_endpoint(session, agent)
            return kind, target, call.ticket_id if call else None

        kind, target, ticket_id = await self._write(work)
        await self._changed(sid)
        response = VoiceResponse()
        self._say(response, CONNECTING, language)
        dial = response.dial(
            action=self.url("/dial-done", lang=language),
            method="POST",
            timeout=self.options.ring_timeout_s,
            caller_id=self.config.number if kind == "number" else None,
        )
        # The agent hears which ticket the call is about before the caller is put through.
        whisper = (
            self.url("/whisper", lang=language, ticket=format_number(ticket_id))
            if ticket_id
            else None
        )
        if kind == "number":
            dial.number(target, url=whisper, method="POST" if whisper else None)
        else:
            dial.client(target, url=whisper, method="POST" if whisper else None)
        return response

    async def whisper(self, request: web.Request) -> web.Response:
        """Played to the agent when they pick up, before the caller is connected."""
        await self._form(request)
        language = _language(request.query.get("lang"))
        number = request.query.get("ticket", "")[:20]
        response = VoiceResponse()
        self._say(response, AGENT_WHISPER, language, number=number)
        return _twiml(response)

    async def bridge(self, request: web.Request) -> web.Response:
        """Where a dequeued caller goes: a ``<Dial>`` to the agent who took the ticket."""
        form = await self._form(request)
        language = _language(request.query.get("lang"))
        agent = _int(request.query.get("agent"))
        if agent is None:
            raise web.HTTPBadRequest(text="agent missing\n")
        return _twiml(await self._bridge_twiml(form.get("CallSid", ""), language, agent))

    async def dial_done(self, request: web.Request) -> web.Response:
        """The agent leg ended: talked (hang up), or never answered (voicemail)."""
        form = await self._form(request)
        language = _language(request.query.get("lang"))
        sid = form.get("CallSid", "")
        status = form.get("DialCallStatus", "")
        response = VoiceResponse()
        if status == "completed":

            async def talked(session: AsyncSession, now: datetime) -> None:
                await store.change(session, sid, now, state="ended", outcome="completed")

            await self._write(talked)
            await self._changed(sid)
            response.hangup()
            return _twiml(response)
        return _twiml(await self._voicemail(sid, language, NO_AGENT))

    # -- voicemail -------------------------------------------------------------------------

    async def _voicemail(self, sid: str, language: str, prompt: Prompt) -> VoiceResponse:
        async def work(session: AsyncSession, now: datetime) -> None:
            await store.change(session, sid, now, state="voicemail")
            await store.owe_callback(session, sid, now)

        await self._write(work)
        await self._changed(sid)
        response = VoiceResponse()
        self._say(response, prompt, language)
        response.record(
            action=self.url("/recorded", lang=language),
            method="POST",
            timeout=5,
            max_length=self.options.max_recording_s,
            play_beep=True,
            transcribe=True,
            transcribe_callback=self.url("/transcription", lang=language),
            recording_status_callback=self.url("/recording", lang=language),
            recording_status_callback_event="completed",
        )
        self._say(response, THANKS_MESSAGE, language)
        response.hangup()
        return response

    async def recorded(self, request: web.Request) -> web.Response:
        await self._form(request)
        language = _language(request.query.get("lang"))
        response = VoiceResponse()
        self._say(response, THANKS_MESSAGE, language)
        response.hangup()
        return _twiml(response)

    async def recording(self, request: web.Request) -> web.Response:
        """The recording is ready: downloaded with the account's credentials, stored, and
        added to the ticket as a voicemail message (re-delivery is a no-op). A download
        that fails for now answers 503, so Twilio tries again."""
        form = await self._form(request)
        language = _language(request.query.get("lang"))
        sid, recording_sid = form.get("CallSid", ""), form.get("RecordingSid", "")
        if form.get("RecordingStatus", "completed") != "completed" or not recording_sid:
            return web.Response(status=204)
        call = await self.desk.read(lambda s: store.call_by_sid(s, sid))
        if call is None or call.ticket_id is None:
            log.info("recording %s of an unknown call ignored", recording_sid)
            return web.Response(status=204)
        url = form.get("RecordingUrl", "")
        if not url.startswith(("https://", "http://")):
            log.info("recording %s came without a URL", recording_sid)
            return web.Response(status=204)
        try:
            data, _stated = await self.api.fetch_media(
                url + ".mp3", self.options.max_recording_bytes
            )
        except TemporaryFailure as err:
            log.warning("recording %s not downloaded yet: %s", recording_sid, err)
            raise web.HTTPServiceUnavailable(text="recording download failed; retry\n") from err
        except PermanentFailure as err:
            log.warning("recording %s refused: %s", recording_sid, err)
            return web.Response(status=204)
        content_type = audio_type(data)
        ref = await self.blobs.put(data, content_type)
        seconds = _int(form.get("RecordingDuration")) or 0
        extension = {"audio/mpeg": "mp3", "audio/wav": "wav"}.get(content_type, "bin")
        result = await self.desk.ingest(
            InboundMessage(
                channel=Channel.VOICE,
                external_id=recording_sid,
                sender=call.caller,
                text=VOICEMAIL_TEXT(language, seconds=seconds),
                received_at=self.desk.clock(),
                attachments=(
                    AttachmentRef(
                        f"voicemail-{recording_sid}.{extension}", content_type, len(data), ref
                    ),
                ),
                extra={"call_sid": sid},
            )
        )

        async def work(session: AsyncSession, now: datetime) -> None:
            await store.change(
                session,
                sid,
                now,
                recording_sid=recording_sid,
                recording_message_id=result.message_id,
                recording_duration_s=seconds,
            )

        await self._write(work)
        await self._changed(sid)
        return web.Response(status=204)

    async def transcription(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        language = _language(request.query.get("lang"))
        sid = form.get("CallSid", "")
        text = form.get("TranscriptionText", "").strip()
        if form.get("TranscriptionStatus") != "completed" or not text:
            return web.Response(status=204)
        call = await self.desk.read(lambda s: store.call_by_sid(s, sid))
        if call is None or call.ticket_id is None:
            return web.Response(status=204)
        result = await self.desk.ingest(
            InboundMessage(
                channel=Channel.VOICE,
                external_id=form.get("TranscriptionSid") or f"{sid}:transcript",
                sender=call.caller,
                text=TRANSCRIPT_TEXT(language, text=text[:4000]),
                received_at=self.desk.clock(),
                extra={"call_sid": sid, "recording_sid": form.get("RecordingSid", "")},
            )
        )

        async def work(session: AsyncSession, now: datetime) -> None:
            await store.change(
                session, sid, now, transcript=text[:4000], transcript_message_id=result.message_id
            )

        await self._write(work)
        await self._changed(sid)
        return web.Response(status=204)

    # -- call status -------------------------------------------------------------------------

    async def status(self, request: web.Request) -> web.Response:
        """Call status callbacks (the number's and our call-backs'): duration and outcome;
        a caller gone while waiting is an abandoned call owed a call-back."""
        form = await self._form(request)
        sid, status = form.get("CallSid", ""), form.get("CallStatus", "")
        if status not in store.FINAL_STATUSES:
            return web.Response(status=204)
        duration = _int(form.get("CallDuration"))

        async def work(session: AsyncSession, now: datetime) -> None:
            call = await store.call_by_sid(session, sid)
            if call is None:
                return
            values: dict[str, Any] = {"duration_s": duration}
            # A call-back's outcome is its customer leg's (``callback_done``), when known.
            values["outcome"] = call.outcome if call.direction == "out" and call.outcome else status
            if call.direction == "in" and call.state in ("ivr", "queued", "bridging", "leaving"):
                values["state"] = "abandoned" if call.ticket_id else "ended"
                if call.ticket_id:
                    await store.owe_callback(session, sid, now)
            elif call.state not in ("voicemail", "abandoned"):
                values["state"] = "ended"
            await store.change(session, sid, now, **values)

        await self._write(work)
        await self._changed(sid)
        return web.Response(status=204)

    # -- call-back from the workspace ---------------------------------------------------------

    async def call_back(self, staff: StaffUser, number: str) -> dict[str, Any]:
        """Twilio calls the agent first, then dials the customer; logged on the ticket."""

        async def look(session: AsyncSession) -> tuple[dict[str, Any], str | None, tuple[str, str]]:
            ticket = await ticket_detail(session, staff, number)  # NotFound when not visible
            ticket_id = parse_number(number)
            assert ticket_id is not None  # ticket_detail found it
            address = await channel_address(session, ticket_id, Channel.VOICE.value)
            return ticket, address, await self.agent_endpoint(session, staff.id)

        ticket, address, (kind, target) = await self.desk.read(look)
        if ticket.get("channel") != Channel.VOICE.value:
            raise Invalid("call-back is for phone tickets")
        if not address:
            raise Invalid("the customer has no phone number")
        language = "zh" if (staff.ui_locale or "").startswith("zh") else "en"
        twiml = VoiceResponse()
        self._say(twiml, AGENT_CALLBACK, language, number=number)
        dial = twiml.dial(
            caller_id=self.config.number,
            action=self.url("/callback-done"),
            method="POST",
            timeout=30,
        )
        dial.number(address)
        placed = await self.api.create_call(
            f"client:{target}" if kind == "client" else target,
            str(twiml),
            status_callback=self.url("/status"),
        )
        call_sid = str(placed["sid"])

        async def log_it(session: AsyncSession, now: datetime) -> tuple[int, list[Event]]:
            written = await add_note(
                session,
                staff,
                number,
                CALLBACK_NOTE(language, to=address, agent=staff.name or staff.email),
                now,
            )
            await store.open_call(
                session,
                call_sid,
                self.config.number,
                address,
                now,
                direction="out",
                state="dialing",
                ticket_id=written.ticket_id,
                message_id=written.message_id,
                agent_id=staff.id,
                language=language,
            )
            return written.ticket_id, list(written.events)

        await self.desk.write(log_it)
        return {"call_sid": call_sid, "status": placed.get("status"), "to": address}

    async def callback_done(self, request: web.Request) -> web.Response:
        """The customer leg of a call-back ended: its outcome is the call-back's outcome;
        a call-back that reached the customer settles the ticket's owed call-backs."""
        form = await self._form(request)
        sid, status = form.get("CallSid", ""), form.get("DialCallStatus", "")
        duration = _int(form.get("DialCallDuration"))

        async def work(session: AsyncSession, now: datetime) -> None:
            call = await store.call_by_sid(session, sid)
            if call is None:
                return
            await store.change(
                session, sid, now, outcome=status[:20] or None, duration_s=duration, state="ended"
            )
            if status == "completed" and call.ticket_id is not None:
                await store.callback_done(session, call.ticket_id, now)

        await self._write(work)
        await self._changed(sid)
        response = VoiceResponse()
        response.hangup()
        return _twiml(response)

    def handler(self, path: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """The handler of a webhook path (``WEBHOOKS``)."""
        return getattr(self, WEBHOOKS[path])  # type: ignore[no-any-return]


WEBHOOKS = {
    BASE: "incoming",
    f"{BASE}/language": "choose_language",
    f"{BASE}/menu": "menu",
    f"{BASE}/order": "order",
    f"{BASE}/wait": "wait",
    f"{BASE}/queue-done": "queue_done",
    f"{BASE}/bridge": "bridge",
    f"{BASE}/dial-done": "dial_done",
    f"{BASE}/whisper": "whisper",
    f"{BASE}/recorded": "recorded",
    f"{BASE}/recording": "recording",
    f"{BASE}/transcription": "transcription",
    f"{BASE}/status": "status",
    f"{BASE}/callback-done": "callback_done",
}
"""Every voice webhook path (all ``POST``, all signature-checked) and its handler."""
