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


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
"""A valid 1x1 PNG."""


async def opened(api: Api) -> tuple[aiohttp.ClientWebSocketResponse, str]:
    """A fresh visitor's socket and its signed key (what the page keeps), after the
    frames the server sends on connect."""
    ws = await fresh_socket(api)
    key = (await next_frame(ws, "visitor"))["key"]
    await next_frame(ws, "hours")
    return ws, str(key)


async def upload(
    api: Api,
    key: str | None,
    data: bytes,
    filename: str = "photo.png",
    content_type: str = "image/png",
    headers: dict[str, str] | None = None,
    **fields: str,
) -> aiohttp.ClientResponse:
    form = aiohttp.FormData(quote_fields=False)  # as browsers send names: raw UTF-8
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("file", data, filename=filename, content_type=content_type)
    sent = dict(headers or {})
    if key is not None:
        sent["X-Chat-Visitor"] = key
    response: aiohttp.ClientResponse = await api.client.post(
        "/chat/upload", data=form, headers=sent
    )
    return response
