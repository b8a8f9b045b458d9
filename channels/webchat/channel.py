"""The web chat channel: the customer's page, its WebSocket, and the outbound sender.

Protocol (DESIGN.md), plus what a chat user expects:
- client ``{"type": "message", "text": ..., "client_id"?: ...}``: ``client_id`` makes a
  resend after a dropped connection idempotent (it becomes the message's external id);
  the server answers ``{"type": "ack", "client_id", "status": "sent", "ticket", "id"}``
  after the commit, or an ``error`` frame, so the page shows sending / sent / failed. A
  resend of a stored message is acknowledged as that message before any rate limit is
  charged;
- ``{"type": "typing"}`` tells agents the visitor is typing (rate-limited);
- ``{"type": "seen", "message_id": N}``: the visible page showed agent message N;
- ``{"type": "rating", "score": 1..5, "comment"?: ...}`` rates the solved conversation;
- ``{"type": "contact", "value": ...}``: a phone number or email to be answered on (asked
  for by the offline notice), kept as an unverified claim;
- ``{"type": "solved", "article"?: slug}``: an article offered for the first message (the
  server's ``articles`` frame: ``ticket``, ``articles`` with ``slug``, ``title``, ``url``,
  ``snippet``) solved it: the conversation is solved as self-served;
- server frames ``visitor`` (first, ``{"key": ...}``: the signed visitor key), ``message``
  (history first, then live; the visitor's own messages are echoed to all their tabs with
  their ``client_id``; ``author`` of an agent's message is the agent's display name, and
  ``attachments`` carry a ``url`` only this visitor can load), ``typing`` (an agent is
  typing, with ``author``), ``hours`` (``open``, ``opens_at``: the offline notice),
  ``wait`` (``position``, ``agents_online``, ``minutes``: while nobody has accepted),
  ``agent`` (``name``: an agent took the chat; replaces the wait notice),
  ``rating_request`` (the ticket was solved), ``rated``, ``contact_saved``, ``error``
  (``code``, ``message``, and ``retry_after`` in seconds when waiting helps). A refused
  frame never closes the socket; only a refused new visitor does (close code 1013, after
  its error frame).

The visitor: the signed key the page offers as a WebSocket subprotocol
(``["switchboard.chat", "visitor.<key>"]``), else the cookie (never for the widget, whose
socket says ``?embed=1``), else a new visitor. A subprotocol rather than a query parameter
keeps the key out of access logs. The widget keeps the key in the embedding site's own
storage (see ``page``), so it keeps its conversation across page loads on a third-party
site where the browser refuses the frame cookies and storage; the cookie is ``Lax`` and
serves the chat page itself (``SameSite=None`` would only widen what other sites can do
with it). Decisions where the issue is silent: the limits are token buckets per visitor
and per client address (``ChatLimits``), and a new visitor is charged to its address
wherever it is made (the page or the socket), since a visitor who writes becomes a
customer and a ticket.

Files: ``POST /chat/upload`` (multipart ``file``, optional ``text``, ``client_id``; the
visitor by the ``X-Chat-Visitor`` key header or the cookie) stores the file through the
``BlobStore`` and ingests a message with it (see ``files``).

An agent's reply travels: outbox -> ``WebchatSender`` -> bus broadcast -> whichever
process holds the visitor's socket -> pushed, and then recorded as delivered.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

import tickets
from channels.attachments import DEFAULT_MAX_BYTES, BlobStore
from channels.base import SendResult
from channels.events import AgentTyping, VisitorTyping, WebchatFrame
from channels.webchat import files
from channels.webchat.clients import ClientPolicy
from channels.webchat.hub import VisitorHub
from channels.webchat.notices import WaitEstimator, agent_frame, hours_frame
from channels.webchat.page import CHAT_CSS, CHAT_JS, CHAT_PAGE, WIDGET_JS
from channels.webchat.ratelimit import MemoryRateLimiter, Rate, RateLimiter
from channels.webchat.signing import COOKIE, VisitorSigner
from tickets import (
    Channel,
    DeliveryStatus,
    Desk,
    Event,
    InboundMessage,
    OutboundMessage,
    TicketAssigned,
    TicketRated,
    TicketStatus,
    TicketStatusChanged,
    parse_number,
)

log = logging.getLogger(__name__)
Deflector = Callable[[tickets.IngestResult, str], Awaitable[dict[str, Any] | None]]
"""Articles for a new conversation's first message, as an ``articles`` frame (or None);
wired by the composition root (``knowledge`` deflection)."""
COOKIE_MAX_AGE = 365 * 24 * 3600
MAX_NAME = 100
MAX_FRAME = 64 * 1024
PROTOCOL = "switchboard.chat"
KEY_PROTOCOL = "visitor."
VISITOR_MESSAGES = Rate(30, 10)
ADDRESS_MESSAGES = Rate(120, 30)
ADDRESS_NEW_VISITORS = Rate(20, 20)
VISITOR_TYPING = Rate(20, 2)
VISITOR_ACTIONS = Rate(60, 20)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors {ancestors}"
)


def message_frame(
    data: dict[str, Any], client_id: str | None = None, files: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    frame = {
        "type": "message",
        "id": data["id"],
        "direction": data["direction"],
        "author": data["author"],
        "text": data["text"],
        "created_at": data["created_at"],
        "attachments": files or [],
    }
    if client_id:
        frame["client_id"] = client_id
    return frame


def error_frame(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


class WebchatSender:
    channel = Channel.WEBCHAT

    def __init__(
        self,
        desk: Desk,
        files: Callable[[str, dict[str, Any]], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.desk = desk
        self.files = files
        """A message's attachments as the visitor's page sees them (``Webchat``'s)."""

    async def send(self, message: OutboundMessage) -> SendResult:
        created = (message.created_at or self.desk.clock()).isoformat()
        files: list[dict[str, Any]] = []
        if message.attachments and self.files is not None:
            stored = await self.desk.read(lambda s: tickets.message_detail(s, message.message_id))
            files = self.files(message.recipient, stored)
        frame = {
            "type": "message",
            "id": message.message_id,
            "direction": "out",
            "author": message.author or "",
            "text": message.text,
            "created_at": created,
            "attachments": files,
        }
        await self.desk.broadcast([WebchatFrame(message.recipient, frame, message.message_id)])
        return SendResult(external_id=f"webchat-{message.message_id}", status=DeliveryStatus.SENT)


@dataclass(frozen=True, slots=True)
class ChatLimits:
    """Per visitor and per client address, so neither one socket nor one address floods
    the desk (an address without a cookie used to mint a customer per socket)."""

    visitor_messages: Rate = VISITOR_MESSAGES
    address_messages: Rate = ADDRESS_MESSAGES
    address_new_visitors: Rate = ADDRESS_NEW_VISITORS
    visitor_typing: Rate = VISITOR_TYPING
    visitor_actions: Rate = VISITOR_ACTIONS


class Webchat:
    def __init__(
        self,
        desk: Desk,
        signer: VisitorSigner,
        *,
        max_length: int = 4000,
        limits: ChatLimits | None = None,
        limiter: RateLimiter | None = None,
        clients: ClientPolicy | None = None,
        secure_cookie: bool = False,
        blobs: BlobStore | None = None,
        max_upload: int = DEFAULT_MAX_BYTES,
        wait_estimator: WaitEstimator | None = None,
        deflector: Deflector | None = None,
    ) -> None:
        self.desk = desk
        self.signer = signer
        self.max_length = max_length
        self.secure_cookie = secure_cookie
        self.hub = VisitorHub()
        self.limits = limits or ChatLimits()
        self.limiter: RateLimiter = limiter or MemoryRateLimiter()
        self.clients = clients or ClientPolicy()
        self.sender = WebchatSender(desk, self.attachment_frames)
        self.blobs = blobs
        self.max_upload = max_upload
        self.wait_estimator = wait_estimator
        self.deflector = deflector
        self.file_tokens = signer.file_tokens()
        self.here: dict[int, str] = {}
        """Tickets of the visitors connected to this process: ticket id to visitor."""

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/chat", self.page),
            web.get("/chat/ws", self.socket),
            web.get("/chat/widget.js", self.widget),
            web.get("/chat/chat.js", self.script),
            web.get("/chat/chat.css", self.stylesheet),
            web.post("/chat/upload", self.upload),
            web.get("/chat/files/{id}", self.file),
        ]

    def _known_visitor(self, request: web.Request) -> str | None:
        """The visitor key the page sent, else (outside the widget) the cookie.

        The widget's frame never uses the cookie: the key it is handed belongs to the
        embedding site, and a cookie would let any site that frames the chat resume the
        conversation of a customer who once used the chat page itself."""
        offered = request.headers.get("Sec-WebSocket-Protocol", "")
        for value in offered.split(","):
            value = value.strip()
            if value.startswith(KEY_PROTOCOL):
                visitor = self.signer.verify(value[len(KEY_PROTOCOL) :])
                if visitor is not None:
                    return visitor
        if _embedded(request):
            return None
        return self.signer.verify(request.cookies.get(COOKIE))

    async def _mint(self, request: web.Request) -> str | None:
        """A new visitor, unless this client address made too many of them lately."""
        address = self.clients.address(request)
        if not await self.limiter.allow(f"new:{address}", self.limits.address_new_visitors):
            log.info("web chat: refused a new visitor from %s (rate limit)", address)
            return None
        return self.signer.new_visitor()

    def _set_cookie(self, response: web.StreamResponse, visitor: str) -> None:
        # Lax: the cookie serves the chat page itself; the widget keeps a key instead.
        response.set_cookie(
            COOKIE,
            self.signer.sign(visitor),
            max_age=COOKIE_MAX_AGE,
            path="/chat",
            httponly=True,
            samesite="Lax",
            secure=self.secure_cookie,
        )

    async def page(self, request: web.Request) -> web.Response:
        response = web.Response(text=CHAT_PAGE, content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = CSP.format(
            ancestors=self.clients.frame_ancestors()
        )
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        if not _embedded(request) and self._known_visitor(request) is None:
            visitor = await self._mint(request)
            if visitor is not None:
                self._set_cookie(response, visitor)
        return response

    async def widget(self, request: web.Request) -> web.Response:
        return web.Response(text=WIDGET_JS, content_type="application/javascript", charset="utf-8")

    async def script(self, request: web.Request) -> web.Response:
        return _static(CHAT_JS, "application/javascript")

    async def stylesheet(self, request: web.Request) -> web.Response:
        return _static(CHAT_CSS, "text/css")

    async def upload(self, request: web.Request) -> web.Response:
        return await files.upload(self, request)

    async def file(self, request: web.Request) -> web.StreamResponse:
        return await files.serve(self, request)

    def attachment_frames(self, visitor: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        """A message's attachments as the visitor's page sees them, each with its URL."""
        return [
            {
                "id": a["id"],
                "name": a["name"],
                "content_type": a["content_type"],
                "size": a["size"],
                "url": f"/chat/files/{a['id']}?t={self.file_tokens.token(visitor, a['id'])}",
            }
            for a in data.get("attachments", ())
        ]

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        if not self.clients.origin_allowed(request):
            log.info("web chat: refused a socket from origin %s", request.headers.get("Origin"))
            raise web.HTTPForbidden(text="this site may not open the chat")
        client = Client(self.clients.address(request), self._known_visitor(request), {})
        minted = False
        if client.visitor is None:
            client.visitor = await self._mint(request)
            minted = client.visitor is not None
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_FRAME, protocols=(PROTOCOL,))
        if minted and client.visitor is not None and not _embedded(request):
            self._set_cookie(ws, client.visitor)
        await ws.prepare(request)
        visitor = client.visitor
        if visitor is None:
            retry = _retry_after(self.limits.address_new_visitors)
            await ws.send_json(
                error_frame("rate_limited", "too many new chats from your network; try again soon")
                | {"retry_after": retry}
            )
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"rate limited")
            return ws
        self.hub.add(visitor, ws)
        try:
            await ws.send_json({"type": "visitor", "key": self.signer.sign(visitor)})
            await self._send_history(ws, visitor)
            await self._send_notices(ws, visitor)
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    if msg.type is WSMsgType.BINARY:
                        await ws.send_json(error_frame("bad_frame", "send JSON text frames"))
                    continue
                await self._on_frame(ws, visitor, client, msg.data)
        finally:
            self.hub.remove(visitor, ws)
            if not self.hub.holds(visitor):
                self.here = {t: v for t, v in self.here.items() if v != visitor}
        return ws

    async def _send_history(self, ws: web.WebSocketResponse, visitor: str) -> None:
        try:
            found = await self.desk.read(
                lambda s: tickets.open_conversation(s, Channel.WEBCHAT.value, visitor)
            )
        except Exception as err:
            await ws.send_json(_failure(err, "the conversation could not be loaded"))
            return
        if found is None:
            return
        ticket_id, messages = found
        self.here[ticket_id] = visitor
        for data in messages:
            frame = message_frame(data, files=self.attachment_frames(visitor, data))
            await ws.send_json(frame, dumps=_dumps)

    async def _send_notices(self, ws: web.WebSocketResponse, visitor: str) -> None:
        """Opening hours, then who answers (or the expected wait), and a rating request
        for a solved conversation not yet rated."""
        try:
            state = await self.desk.read(
                lambda s: tickets.chat_state(s, Channel.WEBCHAT.value, visitor)
            )
            hours = await self.desk.read(
                lambda s: tickets.business_hours(
                    s, state.queue if state else None, self.desk.clock()
                )
            )
        except Exception as err:
            await ws.send_json(_failure(err, "the chat status could not be loaded"))
            return
        await ws.send_json(hours_frame(hours), dumps=_dumps)
        if state is None:
            return
        self.here[state.ticket_id] = visitor
        for frame in await self._state_frames(state):
            await ws.send_json(frame, dumps=_dumps)

    async def _state_frames(self, state: tickets.ChatState) -> list[dict[str, Any]]:
        if state.status == TicketStatus.SOLVED.value:
            if state.rating is None:
                return [{"type": "rating_request", "ticket": state.number}]
            return [{"type": "rated", "score": state.rating, "ticket": state.number}]
        if state.assignee is not None:
            return [agent_frame(state)]
        if self.wait_estimator is None:
            return []
        try:
            estimate = await self.wait_estimator(state.ticket_id, state.queue)
        except Exception:
            log.warning("web chat: the wait estimate failed", exc_info=True)
            return []
        return [] if estimate is None else [estimate.frame()]

    async def _push_state(self, ticket_id: int) -> None:
        visitor = self.here.get(ticket_id)
        if visitor is None:
            return
        state = await self.desk.read(
            lambda s: tickets.chat_state(s, Channel.WEBCHAT.value, visitor)
        )
        if state is None or state.ticket_id != ticket_id:
            return
        for frame in await self._state_frames(state):
            await self.hub.push(visitor, frame)

    async def _on_frame(
        self, ws: web.WebSocketResponse, visitor: str, client: Client, raw: str
    ) -> None:
        try:
            frame = json.loads(raw)
        except (ValueError, RecursionError):
            await ws.send_json(error_frame("bad_json", "frames must be JSON objects"))
            return
        if not isinstance(frame, dict):
            await ws.send_json(error_frame("bad_json", "frames must be JSON objects"))
            return
        kind = frame.get("type")
        if kind == "hello":
            await self._on_hello(ws, client.profile, frame)
        elif kind == "message":
            await self._on_message(ws, visitor, client, frame)
        elif kind == "typing":
            if await self.limiter.allow(f"typing:{visitor}", self.limits.visitor_typing):
                await self.desk.broadcast([VisitorTyping(visitor, None)])
        elif kind in ("seen", "rating", "contact", "solved"):
            if not await self.limiter.allow(f"act:{visitor}", self.limits.visitor_actions):
                await ws.send_json(
                    error_frame("rate_limited", "too many requests; wait a moment")
                    | {"retry_after": _retry_after(self.limits.visitor_actions)}
                )
                return
            await self._on_action(ws, visitor, kind, frame)
        else:
            await ws.send_json(
                error_frame("unknown_type", f"unknown frame type {_short(kind)!r}"), dumps=_dumps
            )

    async def _on_action(
        self, ws: web.WebSocketResponse, visitor: str, kind: str, frame: dict[str, Any]
    ) -> None:
        """``seen``, ``rating`` and ``contact``: each a tickets service on the visitor's
        own conversation; a refusal is an error frame."""
        channel = Channel.WEBCHAT.value
        try:
            if kind == "seen":
                message_id = frame.get("message_id")
                if not isinstance(message_id, int) or isinstance(message_id, bool):
                    await ws.send_json(error_frame("bad_message_id", "message_id is a number"))
                    return

                async def seen(session: Any, now: datetime) -> tuple[None, list[Event]]:
                    return None, await tickets.mark_seen(session, channel, visitor, message_id, now)

                await self.desk.write(seen)
            elif kind == "rating":
                state = await self.desk.read(lambda s: tickets.chat_state(s, channel, visitor))
                if state is None:
                    await ws.send_json(error_frame("no_conversation", "there is nothing to rate"))
                    return
                ticket_id = state.ticket_id

                async def rate(session: Any, now: datetime) -> tuple[None, list[Event]]:
                    return None, await tickets.rate_ticket(
                        session,
                        channel,
                        visitor,
                        ticket_id,
                        frame.get("score"),
                        frame.get("comment"),
                        now,
                    )

                await self.desk.write(rate)
            elif kind == "solved":
                state = await self.desk.read(lambda s: tickets.chat_state(s, channel, visitor))
                if state is None:
                    await ws.send_json(error_frame("no_conversation", "there is nothing to solve"))
                    return
                solved_id = state.ticket_id
                article = frame.get("article")
                slug = article[:200] if isinstance(article, str) else None

                async def solve(session: Any, now: datetime) -> tuple[None, list[Event]]:
                    return None, await tickets.solve_self_served(
                        session, channel, visitor, solved_id, now, article=slug
                    )

                await self.desk.write(solve)
            else:

                async def contact(session: Any, now: datetime) -> tuple[str, list[Event]]:
                    stored = await tickets.claim_contact(
                        session, channel, visitor, frame.get("value"), now
                    )
                    return stored, []

                kind_saved = await self.desk.write(contact)
                await ws.send_json({"type": "contact_saved", "kind": kind_saved})
        except tickets.NotFound as err:
            await ws.send_json(error_frame("not_found", str(err)))
        except tickets.Conflict as err:
            await ws.send_json(error_frame("conflict", str(err)))
        except Exception as err:
            await ws.send_json(_failure(err, "that was not saved; try again"))

    async def _on_hello(
        self, ws: web.WebSocketResponse, profile: dict[str, str | None], frame: dict[str, Any]
    ) -> None:
        name, email = frame.get("name"), frame.get("email")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            await ws.send_json(error_frame("bad_name", f"name must be 1 to {MAX_NAME} characters"))
            return
        if email is not None and (
            not isinstance(email, str) or "@" not in email or len(email) > 320
        ):
            await ws.send_json(error_frame("bad_email", "email is not an email address"))
            return
        try:
            tickets.storable_text(name, "the name")
            if email is not None:
                tickets.storable_text(email, "the email address")
        except tickets.Invalid as err:
            await ws.send_json(error_frame("bad_text", str(err)))
            return
        profile["name"], profile["email"] = name.strip(), (email or "").strip() or None

    async def _on_message(
        self,
        ws: web.WebSocketResponse,
        visitor: str,
        client: Client,
        frame: dict[str, Any],
    ) -> None:
        text, client_id = frame.get("text"), frame.get("client_id")
        if client_id is not None and (
            not isinstance(client_id, str)
            or not 0 < len(client_id) <= 64
            or not client_id.isascii()
            or not client_id.isprintable()
        ):
            await ws.send_json(
                error_frame("bad_client_id", "client_id is 1 to 64 printable ASCII characters")
            )
            return
        if not isinstance(text, str) or not text.strip():
            await ws.send_json(error_frame("empty", "a message needs text") | _cid(client_id))
            return
        if len(text) > self.max_length:
            await ws.send_json(
                error_frame("too_long", f"a message has at most {self.max_length} characters")
                | _cid(client_id)
            )
            return
        try:
            tickets.storable_text(text, "the message")
        except tickets.Invalid as err:
            await ws.send_json(error_frame("bad_text", str(err)) | _cid(client_id))
            return
        external_id = f"{visitor}:{client_id or uuid.uuid4().hex}"
        try:
            if client_id is not None:
                stored = await self.desk.read(
                    lambda s: tickets.inbound_message(s, Channel.WEBCHAT.value, external_id)
                )
                if stored is not None:  # a resend: the stored message, no rate charged
                    await ws.send_json(_ack(client_id, stored["ticket"], stored["id"]))
                    return
            limited = await self.limited(visitor, client.address)
            if limited is not None:
                await ws.send_json(
                    error_frame("rate_limited", "too many messages; wait a moment")
                    | {"retry_after": _retry_after(limited)}
                    | _cid(client_id)
                )
                return
            profile = client.profile
            now = self.desk.clock()
            result = await self.desk.ingest(
                InboundMessage(
                    channel=Channel.WEBCHAT,
                    external_id=external_id,
                    sender=visitor,
                    display_name=profile["name"],
                    claimed_email=profile["email"],
                    text=text,
                    received_at=now,
                )
            )
        except Exception as err:
            await ws.send_json(
                _failure(err, "the message was not saved; try again") | _cid(client_id)
            )
            return
        await ws.send_json(_ack(client_id, result.number, result.message_id))
        await self.after_ingest(visitor, result, profile["name"], text, client_id, ())

    async def after_ingest(
        self,
        visitor: str,
        result: tickets.IngestResult,
        author: str | None,
        text: str,
        client_id: str | None,
        files: tuple[dict[str, Any], ...] | list[dict[str, Any]],
    ) -> None:
        """The echo to every tab of the visitor, then the wait notice of a new chat."""
        self.here[result.ticket_id] = visitor
        if result.duplicate:
            return
        echo = {
            "id": result.message_id,
            "direction": "in",
            "author": author or "",
            "text": text,
            "created_at": self.desk.clock().isoformat(),
            "attachments": list(files),
        }
        frame = message_frame(echo, client_id, self.attachment_frames(visitor, echo))
        await self.desk.broadcast([WebchatFrame(visitor, frame)])
        if result.new_ticket and self.deflector is not None:
            try:
                articles = await self.deflector(result, text)
            except Exception:
                log.warning("web chat: no articles for the first message", exc_info=True)
                articles = None
            if articles is not None:
                await self.desk.broadcast([WebchatFrame(visitor, articles)])
        try:
            await self._push_state(result.ticket_id)
        except Exception:
            log.warning("web chat: the chat state could not be pushed", exc_info=True)

    async def limited(self, visitor: str, address: str) -> Rate | None:
        """The limit this message would break, if any (the visitor's, then the address's)."""
        if not await self.limiter.allow(f"msg:{visitor}", self.limits.visitor_messages):
            return self.limits.visitor_messages
        if not await self.limiter.allow(f"msg:{address}", self.limits.address_messages):
            return self.limits.address_messages
        return None

    async def on_event(self, event: Event) -> None:
        """Broadcast handler: pushes frames to this process's sockets."""
        if isinstance(event, WebchatFrame):
            pushed = await self.hub.push(event.visitor, event.frame)
            if pushed and event.message_id is not None:
                await self._delivered(event.message_id)
        elif isinstance(event, AgentTyping):
            await self._agent_typing(event)
        elif isinstance(event, TicketAssigned | TicketRated) or (
            isinstance(event, TicketStatusChanged) and event.new == TicketStatus.SOLVED.value
        ):
            await self._push_state(event.ticket_id)

    async def _delivered(self, message_id: int) -> None:
        async def work(session: Any, _now: datetime) -> tuple[None, list[Event]]:
            return None, await tickets.record_delivery(
                session, message_id, DeliveryStatus.DELIVERED
            )

        await self.desk.write(work)

    async def _agent_typing(self, event: AgentTyping) -> None:
        ticket_id = parse_number(event.ticket_number)
        if ticket_id is None:
            return
        visitor = await self.desk.read(
            lambda s: tickets.channel_address(s, ticket_id, Channel.WEBCHAT.value)
        )
        if visitor is not None:
            await self.hub.push(visitor, {"type": "typing", "author": event.author})


@dataclass(slots=True)
class Client:
    """One socket's client: its rate-limit address, its visitor, its hello profile."""

    address: str
    visitor: str | None
    profile: dict[str, str | None]

    def __post_init__(self) -> None:
        self.profile.setdefault("name", None)
        self.profile.setdefault("email", None)


def _static(text: str, content_type: str) -> web.Response:
    response = web.Response(text=text, content_type=content_type, charset="utf-8")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"
    return response


def _embedded(request: web.Request) -> bool:
    return request.query.get("embed") == "1"


def _ack(client_id: str | None, ticket: str, message_id: int) -> dict[str, Any]:
    return {
        "type": "ack",
        "client_id": client_id,
        "status": "sent",
        "ticket": ticket,
        "id": message_id,
    }


def _failure(err: Exception, message: str) -> dict[str, Any]:
    """An error frame for a failure of the desk: the socket stays open and says so."""
    if isinstance(err, tickets.Unavailable):
        log.warning("web chat: desk unavailable: %s", err)
        return error_frame("unavailable", message) | {"retry_after": err.retry_after}
    if isinstance(err, tickets.Invalid):
        return error_frame("invalid", str(err))
    log.error("web chat: desk call failed", exc_info=err)
    return error_frame("unavailable", message)


def _retry_after(rate: Rate) -> float:
    return round(60.0 / rate.per_minute, 1) if rate.per_minute > 0 else 60.0


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else type(value).__name__
    return text[:40].encode("utf-8", "replace").decode("utf-8")


def _cid(client_id: str | None) -> dict[str, Any]:
    return {"client_id": client_id} if client_id else {}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)
