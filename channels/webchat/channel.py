"""The web chat channel: the customer's page, its WebSocket, and the outbound sender.

Protocol (DESIGN.md), plus what a chat user expects:
- client ``{"type": "message", "text": ..., "client_id"?: ...}``: ``client_id`` makes a
  resend after a dropped connection idempotent (it becomes the message's external id);
  the server answers ``{"type": "ack", "client_id", "status": "sent", "ticket"}`` after
  the commit, or an ``error`` frame, so the page shows sending / sent / failed;
- ``{"type": "typing"}`` tells agents the visitor is typing (rate-limited);
- server frames ``message`` (history first, then live; the visitor's own messages are
  echoed to all their tabs with their ``client_id``), ``typing`` (an agent is typing),
  ``error``.
An agent's reply travels: outbox -> ``WebchatSender`` -> bus broadcast -> whichever
process holds the visitor's socket -> pushed, and then recorded as delivered.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web

import tickets
from channels.base import SendResult
from channels.events import AgentTyping, VisitorTyping, WebchatFrame
from channels.webchat.hub import VisitorHub
from channels.webchat.page import CHAT_PAGE, WIDGET_JS
from channels.webchat.ratelimit import TokenBuckets
from channels.webchat.signing import COOKIE, VisitorSigner
from tickets import (
    Channel,
    DeliveryStatus,
    Desk,
    Event,
    InboundMessage,
    OutboundMessage,
    parse_number,
)

log = logging.getLogger(__name__)
COOKIE_MAX_AGE = 365 * 24 * 3600
MAX_NAME = 100
MAX_FRAME = 64 * 1024


def message_frame(data: dict[str, Any], client_id: str | None = None) -> dict[str, Any]:
    frame = {
        "type": "message",
        "id": data["id"],
        "direction": data["direction"],
        "author": data["author"],
        "text": data["text"],
        "created_at": data["created_at"],
    }
    if client_id:
        frame["client_id"] = client_id
    return frame


def error_frame(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


class WebchatSender:
    channel = Channel.WEBCHAT

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def send(self, message: OutboundMessage) -> SendResult:
        created = (message.created_at or self.desk.clock()).isoformat()
        frame = {
            "type": "message",
            "id": message.message_id,
            "direction": "out",
            "author": message.author or "",
            "text": message.text,
            "created_at": created,
        }
        await self.desk.broadcast([WebchatFrame(message.recipient, frame, message.message_id)])
        return SendResult(external_id=f"webchat-{message.message_id}", status=DeliveryStatus.SENT)


class Webchat:
    def __init__(
        self,
        desk: Desk,
        signer: VisitorSigner,
        *,
        max_length: int = 4000,
        rate_per_minute: int = 30,
        secure_cookie: bool = False,
    ) -> None:
        self.desk = desk
        self.signer = signer
        self.max_length = max_length
        self.secure_cookie = secure_cookie
        self.hub = VisitorHub()
        self.message_limit = TokenBuckets(rate_per_minute)
        self.typing_limit = TokenBuckets(20, burst=2)
        self.sender = WebchatSender(desk)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/chat", self.page),
            web.get("/chat/ws", self.socket),
            web.get("/chat/widget.js", self.widget),
        ]

    def _visitor(self, request: web.Request) -> tuple[str, bool]:
        visitor = self.signer.verify(request.cookies.get(COOKIE))
        if visitor is not None:
            return visitor, False
        return self.signer.new_visitor(), True

    def _set_cookie(self, response: web.StreamResponse, visitor: str) -> None:
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
        visitor, new = self._visitor(request)
        response = web.Response(text=CHAT_PAGE, content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; connect-src 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        if new:
            self._set_cookie(response, visitor)
        return response

    async def widget(self, request: web.Request) -> web.Response:
        return web.Response(text=WIDGET_JS, content_type="application/javascript", charset="utf-8")

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        visitor, new = self._visitor(request)
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_FRAME)
        if new:
            self._set_cookie(ws, visitor)
        await ws.prepare(request)
        self.hub.add(visitor, ws)
        profile: dict[str, str | None] = {"name": None, "email": None}
        try:
            await self._send_history(ws, visitor)
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    if msg.type is WSMsgType.BINARY:
                        await ws.send_json(error_frame("bad_frame", "send JSON text frames"))
                    continue
                await self._on_frame(ws, visitor, profile, msg.data)
        finally:
            self.hub.remove(visitor, ws)
        return ws

    async def _send_history(self, ws: web.WebSocketResponse, visitor: str) -> None:
        found = await self.desk.read(
            lambda s: tickets.open_conversation(s, Channel.WEBCHAT.value, visitor)
        )
        if found is None:
            return
        _ticket_id, messages = found
        for data in messages:
            await ws.send_json(message_frame(data), dumps=_dumps)

    async def _on_frame(
        self, ws: web.WebSocketResponse, visitor: str, profile: dict[str, str | None], raw: str
    ) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            await ws.send_json(error_frame("bad_json", "frames must be JSON objects"))
            return
        if not isinstance(frame, dict):
            await ws.send_json(error_frame("bad_json", "frames must be JSON objects"))
            return
        kind = frame.get("type")
        if kind == "hello":
            await self._on_hello(ws, profile, frame)
        elif kind == "message":
            await self._on_message(ws, visitor, profile, frame)
        elif kind == "typing":
            if self.typing_limit.allow(visitor):
                await self.desk.broadcast([VisitorTyping(visitor, None)])
        else:
            await ws.send_json(error_frame("unknown_type", f"unknown frame type {kind!r}"))

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
        profile["name"], profile["email"] = name.strip(), (email or "").strip() or None

    async def _on_message(
        self,
        ws: web.WebSocketResponse,
        visitor: str,
        profile: dict[str, str | None],
        frame: dict[str, Any],
    ) -> None:
        text, client_id = frame.get("text"), frame.get("client_id")
        if client_id is not None and (
            not isinstance(client_id, str) or not 0 < len(client_id) <= 64
        ):
            await ws.send_json(error_frame("bad_client_id", "client_id is 1 to 64 characters"))
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
        if not self.message_limit.allow(visitor):
            await ws.send_json(
                error_frame("rate_limited", "too many messages; wait a moment") | _cid(client_id)
            )
            return
        now = self.desk.clock()
        inbound = InboundMessage(
            channel=Channel.WEBCHAT,
            external_id=f"{visitor}:{client_id or uuid.uuid4().hex}",
            sender=visitor,
            display_name=profile["name"],
            claimed_email=profile["email"],
            text=text,
            received_at=now,
        )
        try:
            result = await self.desk.ingest(inbound)
        except Exception:
            log.exception("web chat message from %s could not be stored", visitor)
            await ws.send_json(
                error_frame("unavailable", "the message was not saved; try again") | _cid(client_id)
            )
            return
        await ws.send_json(
            {"type": "ack", "client_id": client_id, "status": "sent", "ticket": result.number}
        )
        if not result.duplicate:
            echo = {
                "id": result.message_id,
                "direction": "in",
                "author": profile["name"] or "",
                "text": text,
                "created_at": now.isoformat(),
            }
            await self.desk.broadcast([WebchatFrame(visitor, message_frame(echo, client_id))])

    async def on_event(self, event: Event) -> None:
        """Broadcast handler: pushes frames to this process's sockets."""
        if isinstance(event, WebchatFrame):
            pushed = await self.hub.push(event.visitor, event.frame)
            if pushed and event.message_id is not None:
                await self._delivered(event.message_id)
        elif isinstance(event, AgentTyping):
            await self._agent_typing(event)

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


def _cid(client_id: str | None) -> dict[str, Any]:
    return {"client_id": client_id} if client_id else {}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)
