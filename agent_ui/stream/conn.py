"""One open staff socket: who it is, what it may receive, and its outgoing queue.

Frames are queued and written by the socket's own task, so one slow client never holds
up delivery to the others. A client that falls ``max_backlog`` frames behind is closed
(code 4008); it reconnects with its last id and resumes, which costs the server nothing
until it is ready to read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from tickets import StaffUser

log = logging.getLogger(__name__)

CLOSE_TOO_SLOW = 4008
CLOSE_UNAUTHENTICATED = 4401


@dataclass(eq=False)
class Conn:
    ws: web.WebSocketResponse
    staff: StaffUser
    request: web.Request
    start: str
    """The feed position when the socket registered: later entries arrive live."""
    max_backlog: int = 2000
    syncing: bool = True
    pending: list[bytes] = field(default_factory=list)
    last_id: str = ""
    next_check: float = 0.0
    last_activity: dict[tuple[str, int], float] = field(default_factory=dict)
    frame_budget: float = 20.0
    budget_at: float = field(default_factory=time.monotonic)
    outbox: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    closing: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.last_id = self.start
        self.task = asyncio.create_task(self._write(), name=f"stream:write:{self.staff.id}")

    def sees(self, queue_id: int | None, assignee_id: int | None) -> bool:
        staff = self.staff
        return (
            staff.sees_all_queues
            or (queue_id is not None and queue_id in staff.queue_ids)
            or (assignee_id is not None and assignee_id == staff.id)
        )

    def send(self, text: bytes, entry_id: str | None = None) -> None:
        """Queues a frame; while the socket is catching up, live frames wait behind the
        replay."""
        if self.syncing and entry_id is not None:
            self.pending.append(text)
            if entry_id:
                self.last_id = entry_id
            return
        if self.outbox.qsize() >= self.max_backlog:
            self.close_soon(CLOSE_TOO_SLOW, "too slow; reconnect with last_id")
            return
        if entry_id:
            self.last_id = entry_id
        self.outbox.put_nowait(text)

    def finish_sync(self, frames: list[bytes]) -> None:
        for text in [*frames, *self.pending]:
            self.outbox.put_nowait(text)
        self.pending.clear()
        self.syncing = False

    def spend(self) -> bool:
        """A frame from the client: False when it sends faster than 20 a second (burst 20)."""
        now = time.monotonic()
        self.frame_budget = min(20.0, self.frame_budget + (now - self.budget_at) * 20.0)
        self.budget_at = now
        if self.frame_budget < 1.0:
            return False
        self.frame_budget -= 1.0
        return True

    async def _write(self) -> None:
        try:
            outbox, ws = self.outbox, self.ws
            while True:
                await ws.send_frame(await outbox.get(), WSMsgType.TEXT)
                while not outbox.empty():  # a burst: no wake-up per frame
                    await ws.send_frame(outbox.get_nowait(), WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            return

    def close_soon(self, code: int, message: str) -> None:
        if not self.ws.closed and self.closing is None:
            self.closing = asyncio.create_task(self.close(code, message))

    async def close(self, code: int, message: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=code, message=message.encode())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
