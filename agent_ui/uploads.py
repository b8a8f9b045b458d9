"""Files an agent sends with a reply, as Zendesk does it: upload first, then name the
uploads in the reply.

``POST /api/v1/uploads`` (staff, ``multipart/form-data`` with one ``file``) stores the
bytes in the blob store (streamed, refused with 413 past
``SWITCHBOARD_ATTACHMENT_MAX_BYTES``, the type sniffed from the bytes, never trusted from
the client) and answers 201 ``{"token", "name", "size", "content_type"}``. The reply
(``POST /api/v1/tickets/{number}/replies``) then carries ``"attachments": [token, ...]``.

Decisions:
- The token is signed (HMAC-SHA256 with the installation's signing key) and names the
  stored blob, the file's name, type and size, the uploader and an expiry (24 h): no table
  of pending uploads, nothing to clean up when an upload is never used (the blob store
  is content-addressed, so a file uploaded twice is stored once).
- A token works only for the staff user who uploaded it: a token seen by someone else
  cannot attach that file to their reply.
- The workspace composer posts its files with the form and does not need tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from aiohttp import web

from agent_ui.context import staff_of
from agent_ui.errors import ApiError
from agent_ui.http import ApiRoute, op
from channels.attachments import AttachmentRefused, BlobStore, store
from channels.forms import read_form
from tickets import AttachmentRef, StaffUser

UPLOAD_KEY: web.AppKey[Uploads] = web.AppKey("uploads")
TOKEN_TTL_S = 24 * 3600
MAX_TOKEN = 2000


class Uploads:
    def __init__(self, blobs: BlobStore | None, key: bytes, max_bytes: int) -> None:
        self.blobs = blobs
        self._key = key
        self.max_bytes = max_bytes

    def _mac(self, payload: bytes) -> str:
        return hmac.new(self._key, b"upload:" + payload, hashlib.sha256).hexdigest()

    def token(self, ref: AttachmentRef, staff_id: int, now: float | None = None) -> str:
        body = {
            "b": ref.blob_ref,
            "n": ref.name,
            "t": ref.content_type,
            "s": ref.size,
            "u": staff_id,
            "e": int((now or time.time()) + TOKEN_TTL_S),
        }
        payload = base64.urlsafe_b64encode(json.dumps(body, ensure_ascii=False).encode())
        return f"{payload.decode()}.{self._mac(payload)}"

    def read(self, token: object, staff_id: int, now: float | None = None) -> AttachmentRef:
        """The upload a token names; ``ApiError`` 400 for a token that is forged, expired
        or another user's."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN or "." not in token:
            raise ApiError(400, "bad_upload", "attachments must be upload tokens")
        payload, _, mac = token.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(payload.encode())):
            raise ApiError(400, "bad_upload", "an upload token is not valid")
        try:
            body = json.loads(base64.urlsafe_b64decode(payload.encode()))
            ref = AttachmentRef(str(body["n"]), str(body["t"]), int(body["s"]), str(body["b"]))
            owner, expires = int(body["u"]), int(body["e"])
        except (ValueError, KeyError, TypeError) as err:
            raise ApiError(400, "bad_upload", "an upload token is not valid") from err
        if owner != staff_id:
            raise ApiError(400, "bad_upload", "an upload token belongs to another user")
        if expires < (now or time.time()):
            raise ApiError(400, "bad_upload", "an upload token has expired; upload again")
        return ref

    def read_all(self, tokens: object, staff: StaffUser) -> list[AttachmentRef]:
        if tokens is None:
            return []
        if not isinstance(tokens, list):
            raise ApiError(400, "invalid", "attachments must be a list of upload tokens")
        return [self.read(t, staff.id) for t in tokens]

    async def keep(self, data: bytes, name: str | None) -> AttachmentRef:
        if self.blobs is None:
            raise ApiError(503, "unavailable", "no blob store is configured")
        try:
            return await store(self.blobs, data, name, self.max_bytes)
        except AttachmentRefused as err:
            raise _refused(err) from None


def _refused(err: AttachmentRefused) -> ApiError:
    return ApiError(413 if err.code == "too_large" else 400, err.code, str(err))


async def post_upload(request: web.Request) -> web.Response:
    staff = staff_of(request)
    uploads = request.app[UPLOAD_KEY]
    try:
        form = await read_form(
            request, file_field="file", text_fields=(), max_bytes=uploads.max_bytes
        )
    except AttachmentRefused as err:
        raise _refused(err) from None
    if not form.files:
        raise ApiError(400, "no_file", "send multipart/form-data with a non-empty file")
    ref = await uploads.keep(*form.files[0])
    return web.json_response(
        {
            "token": uploads.token(ref, staff.id),
            "name": ref.name,
            "size": ref.size,
            "content_type": ref.content_type,
        },
        status=201,
    )


UPLOAD_ROUTES = [
    ApiRoute(
        "POST",
        "/api/v1/uploads",
        post_upload,
        op(
            "Upload a file to send with a reply (name its token in the reply's attachments)",
            ok="201",
            form="Upload",
            response="UploadToken",
        ),
    ),
]
