"""A fake Twilio REST API (the ``api`` domain) as a local aiohttp server, for the SMS and
voice channels' tests: ``SWITCHBOARD_TWILIO_API_BASE`` points our real client at it.

What it speaks, as Twilio documents it:
- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form fields ``To``, ``From``,
  ``Body``, ``StatusCallback``, ``MediaUrl``...), HTTP Basic auth with the account SID and
  auth token; 201 with the Message resource (``sid``, ``status: queued``, ``to``,
  ``from``, ``body``, ``num_segments``, ``error_code: null``, ...).
- Errors in Twilio's shape ``{"code", "message", "more_info", "status"}``: 20003 on bad
  credentials, 21211 for an invalid ``To``, 21602 without a body, and Twilio's magic
  test numbers (+15005550001 invalid, +15005550002 cannot route, +15005550003 no
  permission for the region, +15005550004 unsubscribed recipient 21610, +15005550009
  not a mobile number); ``fail_next`` scripts any other answer (429, 5xx).
- Media: ``GET /2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}``
  serves what ``add_media`` registered (Basic auth), so MMS webhooks can name real URLs.

Extend it with more resources (Calls.json) by adding routes in ``routes()``; a request
is checked with ``authorized`` and errors answered with ``twilio_error``. ``sign`` makes
an ``X-Twilio-Signature`` as Twilio does (HMAC-SHA1 over the URL and the sorted form),
written here independently of the twilio package so the webhooks are checked against
the documented algorithm, not against the same library that validates them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ACCOUNT_SID = "AC" + "a" * 32
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"
NUMBER = "+15005550006"
PUBLIC_URL = "https://desk.example.com"
API = "/2010-04-01/Accounts/{sid}"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")

MAGIC_TO: dict[str, tuple[int, str]] = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number is not currently reachable via SMS."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region"),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}


def sign(url: str, params: Mapping[str, str], token: str = AUTH_TOKEN) -> str:
    """The ``X-Twilio-Signature`` Twilio sends for a form POST to ``url``."""
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_error(status: int, code: int, message: str) -> web.Response:
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
class Scripted:
    status: int
    code: int
    message: str


@dataclass
class FakeTwilio:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    messages: list[dict[str, str]] = field(default_factory=list)
    """Every message created, as the form Twilio received plus its ``Sid``."""
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    media_fetches: list[str] = field(default_factory=list)
    scripted: list[Scripted] = field(default_factory=list)
    media_status: int | None = None
    """When set, every media download answers this HTTP status (a 5xx outage)."""
    base: str = ""
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    # -- set-up -----------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application()
        app.add_routes(self.routes())
        return app

    def routes(self) -> list[web.RouteDef]:
        prefix = API.format(sid="{account}")
        return [
            web.post(f"{prefix}/Messages.json", self.create_message),
            web.get(f"{prefix}/Messages/{{message}}/Media/{{media}}", self.get_media),
        ]

    async def start(self, aiohttp_server: Any) -> FakeTwilio:
        server = await aiohttp_server(self.application(), host="127.0.0.1")
        self.base = str(server.make_url("")).rstrip("/")
        return self

    def fail_next(self, status: int, code: int, message: str = "scripted failure") -> None:
        """The next create answers this error (in order, one each)."""
        self.scripted.append(Scripted(status, code, message))

    def add_media(self, data: bytes, content_type: str, url: str | None = None) -> str:
        """Registers a media file (at ``url``, e.g. one a fixture names, or a new one);
        returns its URL as Twilio would name it."""
        if url is None:
            account = API.format(sid=self.account_sid)
            url = (
                f"https://api.twilio.com{account}/Messages/{self.sid('MM')}/Media/{self.sid('ME')}"
            )
        self.media[url.removeprefix("https://api.twilio.com")] = (data, content_type)
        return url

    def sid(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):032x}"

    # -- the API ----------------------------------------------------------------------

    def authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return (
            hmac.compare_digest(user, self.account_sid)
            and hmac.compare_digest(password, self.auth_token)
            and request.match_info.get("account") == self.account_sid
        )

    async def create_message(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            return twilio_error(401, 20003, "Authenticate")
        form = {k: str(v) for k, v in (await request.post()).items()}
        if self.scripted:
            s = self.scripted.pop(0)
            return twilio_error(s.status, s.code, s.message)
        to = form.get("To", "")
        if to in MAGIC_TO:
            code, message = MAGIC_TO[to]
            return twilio_error(400, code, message)
        if not E164.match(to):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not form.get("Body") and not form.get("MediaUrl"):
            return twilio_error(400, 21602, "Message body is required.")
        sid = self.sid("SM")
        self.messages.append({**form, "Sid": sid})
        body = form.get("Body", "")
        segments = 1 if len(body) <= 160 else -(-len(body) // 153)
        uri = f"{API.format(sid=self.account_sid)}/Messages/{sid}"
        return web.json_response(
            {
                "account_sid": self.account_sid,
                "api_version": "2010-04-01",
                "body": body,
                "date_created": "Fri, 04 Dec 2026 15:00:00 +0000",
                "date_sent": None,
                "date_updated": "Fri, 04 Dec 2026 15:00:00 +0000",
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form.get("From"),
                "messaging_service_sid": None,
                "num_media": "0",
                "num_segments": str(segments),
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {"media": f"{uri}/Media.json"},
                "to": to,
                "uri": f"{uri}.json",
            },
            status=201,
        )

    async def get_media(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            return twilio_error(401, 20003, "Authenticate")
        self.media_fetches.append(request.path)
        if self.media_status is not None:
            return twilio_error(self.media_status, 20500, "Internal Server Error")
        found = self.media.get(request.path)
        if found is None:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        data, content_type = found
        return web.Response(body=data, content_type=content_type)
