"""Which visitor sockets this process holds, and pushing frames to them."""

from __future__ import annotations

import contextlib
import json
import logging
from collections import defaultdict
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


class VisitorHub:
    def __init__(self) -> None:
        self._sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)

    def add(self, visitor: str, ws: web.WebSocketResponse) -> None:
        self._sockets[visitor].add(ws)

    def remove(self, visitor: str, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(visitor)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._sockets[visitor]

    def holds(self, visitor: str) -> bool:
        return bool(self._sockets.get(visitor))

    def total(self) -> int:
        return sum(len(s) for s in self._sockets.values())

    async def push(self, visitor: str, frame: dict[str, Any]) -> int:
        """Sends to every open socket of the visitor here; returns how many got it."""
        data = json.dumps(frame, ensure_ascii=False)
        sent = 0
        for ws in list(self._sockets.get(visitor, ())):
            if ws.closed:
                continue
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(data)
                sent += 1
        return sent

    async def close_all(self) -> None:
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.close(code=1001, message=b"server shutting down")
        self._sockets.clear()
