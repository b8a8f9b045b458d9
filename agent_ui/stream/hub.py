"""The staff stream: ``GET /api/v1/stream``, one WebSocket per page, every event the user
may see, resumable.

Events reach each server process through the live feed (``agent_ui.stream.feed``) and are
handled here in feed order by one task: the audience is worked out once per event
(``audience``), the frame is serialised once, and each socket in the audience gets it
queued (``conn``). A socket registers at a feed position: what comes after arrives live;
what it missed before (``?last_id=`` on connect, or a ``{"type": "resume", "last_id"}``
frame) is read back from the feed and sent first, filtered by what the user may see now.
When the missed part is gone the socket gets a ``reload`` frame. Every connect ends its
catch-up with ``{"type": "hello", "data": {"last_id": ...}}``: the id to resume from.

Client frames: ``{"type": "viewing"|"typing"|"left", "ticket": "SB-1001"}`` tells the
others who may see the ticket (a ``Collision`` frame; at most one per ticket and kind a
second per socket), ``{"type": "ping"}`` answers ``pong`` with the current position
(``last_id``), so a client that sees no events keeps a fresh resume point. A client
sending more than 20 frames a second is closed.

Events are deduplicated by ``event_id`` (the relay may publish one twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from agent_ui.errors import ApiError
from agent_ui.stream.audience import Audience, Places, audience_of
from agent_ui.stream.auth import Authenticator, OriginRefused, authenticate
from agent_ui.stream.conn import CLOSE_UNAUTHENTICATED, Conn
from agent_ui.stream.events import ACTIVITIES, StaffActivity
from agent_ui.stream.feed import Entry, LiveFeed
from agent_ui.stream.frames import INTERNAL, control, dumps, error, event_frame
from agent_ui.stream.grace import PresenceGrace
from tickets import Desk, Event, StaffUser, parse_number

log = logging.getLogger(__name__)

HEARTBEAT_S = 30.0
MAX_CLIENT_FRAME = 4096
ACTIVITY_EVERY_S = 1.0


class _Seen:
    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self.ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, event_id: Any) -> bool:
        if not event_id:
            return True
        key = str(event_id)
        if key in self.ids:
            return False
        self.ids[key] = None
        if len(self.ids) > self.size:
            self.ids.popitem(last=False)
        return True


class Stream:
    def __init__(
        self,
        feed: LiveFeed,
        desk: Desk,
        authenticators: Sequence[Authenticator],
        grace: PresenceGrace,
        *,
        public_url: str | None = None,
        reauth_s: float = 60.0,
        max_backlog: int = 2000,
    ) -> None:
        self.feed = feed
        self.desk = desk
        self.authenticators = list(authenticators)
        self.grace = grace
        self.public_url = public_url
        self.reauth_s = reauth_s
        self.max_backlog = max_backlog
        self.places = Places(desk)
        self.position = ""
        self._inbox: asyncio.Queue[Entry] = asyncio.Queue()
        self._seen = _Seen()
        self._all: set[Conn] = set()
        self._wide: set[Conn] = set()
        """Admins' sockets: they see every queue."""
        self._supervisors: set[Conn] = set()
        self._by_queue: dict[int, set[Conn]] = {}
        self._supervisors_by_queue: dict[int, set[Conn]] = {}
        self._by_user: dict[int, set[Conn]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def add_authenticator(self, authenticator: Authenticator) -> None:
        """For the web app: its session cookie, tried after the bearer token."""
        self.authenticators.append(authenticator)

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self.position = await self.feed.start(self._inbox.put_nowait)
        await self.grace.registry.start()
        self._tasks.append(asyncio.create_task(self._deliver(), name="stream:deliver"))
        self._tasks.append(asyncio.create_task(self._reauth_loop(), name="stream:reauth"))

    async def stop(self) -> None:
        self._stopping = True
        await self.feed.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for conn in list(self._all):
            await conn.close(1001, "server shutting down")
        await self.grace.stop()
        await self.grace.registry.stop()

    def total(self) -> int:
        return len(self._all)

    async def disconnect(
        self, user_id: int, code: int = CLOSE_UNAUTHENTICATED, reason: str = "signed out"
    ) -> int:
        """Closes every socket of the user on this process (an ended session, a test's
        network blip with code 1012); returns how many."""
        conns = list(self._by_user.get(user_id, ()))
        for conn in conns:
            await conn.close(code, reason)
        return len(conns)

    # -- who is connected ---------------------------------------------------------------

    def _index(self, conn: Conn) -> None:
        self._all.add(conn)
        if conn.staff.sees_all_queues:
            self._wide.add(conn)
        if conn.staff.supervises:
            self._supervisors.add(conn)
        for queue_id in conn.staff.queue_ids:
            self._by_queue.setdefault(queue_id, set()).add(conn)
            if conn.staff.supervises:
                self._supervisors_by_queue.setdefault(queue_id, set()).add(conn)
        self._by_user.setdefault(conn.staff.id, set()).add(conn)

    def _unindex(self, conn: Conn) -> None:
        self._all.discard(conn)
        self._wide.discard(conn)
        self._supervisors.discard(conn)
        for queue_id in conn.staff.queue_ids:
            for index in (self._by_queue, self._supervisors_by_queue):
                members = index.get(queue_id)
                if members is not None:
                    members.discard(conn)
                    if not members:
                        del index[queue_id]
        members = self._by_user.get(conn.staff.id)
        if members is not None:
            members.discard(conn)
            if not members:
                del self._by_user[conn.staff.id]

    def _conns(self, audience: Audience) -> set[Conn]:
        out: set[Conn] = set(self._wide) if audience.admins else set()
        if audience.supervisors:
            out.update(self._supervisors)
        for queue_id in audience.queues:
            out.update(self._by_queue.get(queue_id, ()))
        for queue_id in audience.supervised:
            out.update(self._supervisors_by_queue.get(queue_id, ()))
        for user_id in audience.users:
            out.update(self._by_user.get(user_id, ()))
        return out

    # -- the feed -----------------------------------------------------------------------

    async def _deliver(self) -> None:
        while True:
            entry = await self._inbox.get()
            try:
                await self._deliver_one(entry)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stream: delivering %s failed", entry.wire.get("type"))
            finally:
                self.position = entry.id

    async def _deliver_one(self, entry: Entry) -> None:
        wire = entry.wire
        if not self._seen.first_time(wire.get("event_id")):
            return
        if wire.get("type") in INTERNAL:
            self.places.staff_changed()
            self._staff_changed(wire)
            return
        audience = await audience_of(self.places, wire)
        if audience is None:
            return
        conns = self._conns(audience)
        if not conns:
            return
        text = event_frame(entry.id, wire)
        for conn in conns:
            conn.send(text, entry.id)

    def _staff_changed(self, wire: dict[str, Any]) -> None:
        """An account or a membership changed: check its sockets again soon."""
        user_id = wire.get("user_id")
        now = time.monotonic()
        if user_id is not None:
            for conn in self._by_user.get(int(user_id), ()):
                conn.next_check = now
            return
        for conn in self._all:
            if not conn.staff.sees_all_queues:
                conn.next_check = min(conn.next_check, now + random.uniform(0, 5))

    async def _replay(self, conn: Conn, last_id: str) -> list[bytes] | None:
        """Frames the socket missed after ``last_id`` up to where it registered."""
        got = await self.feed.since(last_id)
        if got is None:
            return None
        start = self.feed.order(conn.start)
        frames: list[bytes] = []
        seen = _Seen()
        for entry in got:
            order = self.feed.order(entry.id)
            if start is None or order is None or order > start:
                break
            wire = entry.wire
            if wire.get("type") in INTERNAL or not seen.first_time(wire.get("event_id")):
                continue
            if await self._may_receive(conn, wire):
                frames.append(event_frame(entry.id, wire))
        return frames

    async def _may_receive(self, conn: Conn, wire: dict[str, Any]) -> bool:
        """For a replay: by what the user may see now; the ticket cache is not changed."""
        staff = conn.staff
        if staff.sees_all_queues:
            return True
        kind = wire.get("type")
        if "ticket_id" in wire and kind not in ("OfferMade", "OfferEnded"):
            place = await self.places.place(int(wire["ticket_id"]))
            return place is not None and conn.sees(place.queue_id, place.assignee_id)
        audience = await audience_of(self.places, wire)
        if audience is None:
            return False
        if staff.id in audience.users or audience.queues & staff.queue_ids:
            return True
        overseen = audience.supervisors or bool(audience.supervised & staff.queue_ids)
        return staff.supervises and overseen

    # -- collision notices --------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        """A broadcast listener on the bus: other processes' collision notices too."""
        if not isinstance(event, StaffActivity) or not self._all:
            return
        place = await self.places.place(event.ticket_id)
        if place is None:
            return
        audience = Audience()
        audience.add(place)
        text = dumps(
            {
                "type": "Collision",
                "data": {
                    "ticket": event.number,
                    "user_id": event.user_id,
                    "name": event.name,
                    "action": event.action,
                    "at": event.at,
                },
            }
        )
        for conn in self._conns(audience):
            if conn.staff.id != event.user_id:
                conn.send(text)

    async def _activity(self, conn: Conn, action: str, frame: dict[str, Any]) -> None:
        number = frame.get("ticket")
        ticket_id = parse_number(number) if isinstance(number, str) else None
        place = await self.places.place(ticket_id) if ticket_id is not None else None
        if ticket_id is None or place is None or not conn.sees(place.queue_id, place.assignee_id):
            conn.send(error("not_found", "no such ticket"))
            return
        now = time.monotonic()
        key = (action, ticket_id)
        if now - conn.last_activity.get(key, -ACTIVITY_EVERY_S) < ACTIVITY_EVERY_S:
            return
        conn.last_activity[key] = now
        if len(conn.last_activity) > 256:
            conn.last_activity.clear()
        staff = conn.staff
        await self.desk.broadcast(
            [
                StaffActivity(
                    ticket_id,
                    str(number).strip().upper(),
                    staff.id,
                    staff.name,
                    action,
                    datetime.now(UTC).isoformat(),
                )
            ]
        )

    # -- the socket ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            staff = await authenticate(request, self.authenticators, self.public_url)
        except OriginRefused as err:
            raise ApiError(403, "forbidden", "this origin may not open the stream") from err
        if staff is None:
            raise ApiError(401, "unauthenticated", "send Authorization: Bearer <token>")
        # No per-message compression: each frame goes to many sockets, and deflating it
        # once per socket would cost more CPU than the bytes it saves on small frames.
        ws = web.WebSocketResponse(
            heartbeat=HEARTBEAT_S, max_msg_size=MAX_CLIENT_FRAME, compress=False
        )
        if not ws.can_prepare(request).ok:
            raise ApiError(400, "invalid", "this is a WebSocket: send an Upgrade request")
        await ws.prepare(request)
        conn = Conn(ws, staff, request, self.position, max_backlog=self.max_backlog)
        conn.next_check = time.monotonic() + self.reauth_s * random.uniform(0.5, 1.0)
        self._index(conn)
        try:
            await self.grace.opened(staff.id)
            await self._catch_up(conn, request.query.get("last_id"), first=True)
            await self._read(conn)
        finally:
            self._unindex(conn)
            await conn.stop()
            if not self._stopping:
                await self.grace.closed(staff.id)
        return ws

    async def _catch_up(self, conn: Conn, last_id: str | None, *, first: bool) -> None:
        frames: list[bytes] = []
        if last_id:
            replay = await self._replay(conn, last_id)
            if replay is None:
                frames.append(control("reload", reason="missed events are no longer kept"))
            else:
                frames.extend(replay)
        resume_at = conn.start if first else conn.last_id
        frames.append(control("hello", last_id=resume_at, user=conn.staff.email))
        if first:
            conn.finish_sync(frames)
        else:
            for text in frames:
                conn.send(text)

    async def _read(self, conn: Conn) -> None:
        async for msg in conn.ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.ERROR:
                    return
                continue
            if not conn.spend():
                await conn.close(1008, "too many frames")
                return
            try:
                frame = json.loads(msg.data)
            except (ValueError, RecursionError):
                conn.send(error("bad_json", "a frame must be a JSON object"))
                continue
            if not isinstance(frame, dict):
                conn.send(error("bad_json", "a frame must be a JSON object"))
                continue
            kind = frame.get("type")
            if kind == "ping":
                # Everything up to the position is queued already: a valid resume point.
                conn.send(control("pong", last_id=self.position))
            elif kind in ACTIVITIES:
                await self._activity(conn, str(kind), frame)
            elif kind == "resume" and isinstance(frame.get("last_id"), str):
                await self._catch_up(conn, frame["last_id"], first=False)
            else:
                conn.send(error("unknown_type", "expected ping, viewing, typing, left or resume"))

    # -- checking who is still allowed ------------------------------------------------

    async def _reauth_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            for conn in [c for c in self._all if c.next_check <= now]:
                conn.next_check = now + self.reauth_s
                try:
                    await self._reauth(conn)
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    log.warning("stream: checking a socket's credentials failed: %s", err)

    async def _reauth(self, conn: Conn) -> None:
        try:
            staff: StaffUser | None = await authenticate(
                conn.request, self.authenticators, self.public_url
            )
        except OriginRefused:
            staff = None
        if staff is None or staff.id != conn.staff.id:
            self._unindex(conn)
            await conn.close(CLOSE_UNAUTHENTICATED, "signed out")
            return
        if staff != conn.staff and conn in self._all:
            self._unindex(conn)
            conn.staff = staff
            self._index(conn)


STREAM = web.AppKey("stream", Stream)


async def stream_socket(request: web.Request) -> web.StreamResponse:
    """``GET /api/v1/stream``."""
    return await request.app[STREAM].handle(request)
