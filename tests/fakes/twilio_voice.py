"""A local stand-in for Twilio's REST API, voice part (2010-04-01 API, Basic auth with the
account SID and auth token, form-encoded requests, JSON answers and error bodies shaped
as Twilio documents them): Calls (create and update), Queue Members (dequeue), and
Recording media. It records what it was asked, so tests assert on it."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler

ACCOUNT_SID = "AC" + "7" * 32
AUTH_TOKEN = "voice-test-token"
# An MP3 frame header after an ID3 tag: enough for a player and for our type sniffing.
RECORDING_MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 400

_ids = itertools.count(1)


def _sid(prefix: str) -> str:
    return f"{prefix}{next(_ids):032x}"


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )


@dataclass
class FakeTwilioVoice:
    """``created``: Calls.json posts; ``updated``: call updates (by call sid);
    ``dequeued``: queue member updates; ``downloads``: recording fetches."""

    created: list[dict[str, str]] = field(default_factory=list)
    updated: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    dequeued: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    ended_calls: set[str] = field(default_factory=set)
    recording_failures: int = 0

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        base = f"/2010-04-01/Accounts/{ACCOUNT_SID}"
        app.router.add_post(f"{base}/Calls.json", self.create_call)
        app.router.add_post(f"{base}/Calls/{{sid}}.json", self.update_call)
        app.router.add_post(f"{base}/Queues/{{queue}}/Members/{{sid}}.json", self.update_member)
        app.router.add_get(f"{base}/Recordings/{{sid}}.mp3", self.recording)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return _error(401, 20003, "Authenticate")
        return await handler(request)

    async def create_call(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.created.append(form)
        if not form.get("To") or not (form.get("Twiml") or form.get("Url")):
            return _error(400, 21205, "Url parameter is required.")
        if form["To"] == "+10000000000":
            return _error(400, 21211, "Invalid 'To' Phone Number")
        sid = _sid("CA")
        return web.json_response(
            {
                "account_sid": ACCOUNT_SID,
                "sid": sid,
                "to": form["To"],
                "from": form.get("From"),
                "status": "queued",
                "direction": "outbound-api",
                "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json",
            },
            status=201,
        )

    async def update_call(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.updated.append((sid, form))
        if sid in self.ended_calls:
            return _error(400, 21220, "Call is not in-progress. Cannot redirect.")
        return web.json_response(
            {"account_sid": ACCOUNT_SID, "sid": sid, "status": "in-progress"}, status=200
        )

    async def update_member(self, request: web.Request) -> web.Response:
        queue, sid = request.match_info["queue"], request.match_info["sid"]
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.dequeued.append((queue, sid, form))
        if sid in self.ended_calls:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        return web.json_response(
            {
                "call_sid": sid,
                "queue_sid": queue,
                "position": 1,
                "wait_time": 30,
                "date_enqueued": "Tue, 24 Nov 2026 02:00:00 +0000",
                "uri": request.path,
            }
        )

    async def recording(self, request: web.Request) -> web.Response:
        self.downloads.append(request.match_info["sid"])
        if self.recording_failures > 0:
            self.recording_failures -= 1
            return _error(503, 20500, "Service unavailable")
        return web.Response(body=RECORDING_MP3, content_type="audio/mpeg")
