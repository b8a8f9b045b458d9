"""Helpers for talking to the chat socket the way a page does."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.apphelpers import Api


async def next_frame(
    ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 5.0
) -> dict[str, Any]:
    """The next frame of ``kind``, skipping others (use ``frames_until`` to see them)."""
    return (await frames_until(ws, kind, timeout=timeout))[-1]


async def frames_until(
    ws: aiohttp.ClientWebSocketResponse, *kinds: str, timeout: float = 5.0
) -> list[dict[str, Any]]:
    """Every frame up to and including the first one of ``kinds``."""
    seen: list[dict[str, Any]] = []
    while True:
        msg = await ws.receive(timeout=timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        frame: dict[str, Any] = json.loads(msg.data)
        seen.append(frame)
        if frame["type"] in kinds:
            return seen


async def send_message(
    ws: aiohttp.ClientWebSocketResponse, text: str, client_id: str
) -> dict[str, Any]:
    """Sends a message; returns its answer (the ack or the error frame)."""
    await ws.send_json({"type": "message", "text": text, "client_id": client_id})
    while True:
        frame = (await frames_until(ws, "ack", "error"))[-1]
        if frame.get("client_id") == client_id:
            return frame


async def fresh_socket(api: Api, **kw: Any) -> aiohttp.ClientWebSocketResponse:
    """A socket of a browser that has never been here (no cookie, no key)."""
    api.client.session.cookie_jar.clear()
    ws: aiohttp.ClientWebSocketResponse = await api.client.ws_connect("/chat/ws", **kw)
    return ws


def origin(api: Api) -> str:
    server = api.client.server
    return f"http://{server.host}:{server.port}"
