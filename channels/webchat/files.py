"""Files in the chat: the visitor's upload and serving a file back to its own chat.

``POST /chat/upload``: multipart with ``file`` (one), optional ``text`` (a caption),
``client_id`` (a retried upload is the same message) and ``name`` (the visitor's name,
as in ``hello``, for an upload that opens the conversation). The visitor is the signed
key in the ``X-Chat-Visitor`` header (what the page holds, also inside the widget), else
the chat cookie; the socket's Origin rule applies, so another site cannot post into a
visitor's chat. The body is read in a stream and refused with 413 as soon as it passes
``SWITCHBOARD_ATTACHMENT_MAX_BYTES``; the type is sniffed from the bytes
(``channels.attachments``). Answers 201 ``{"ticket", "id", "attachments": [...]}``.

``GET /chat/files/{id}?t=<token>``: the token binds the file to the visitor
(``FileTokens``) and the file must still belong to the visitor's conversation. Images
are served inline (for ``<img>``), everything else as a download; always with the stored
type, ``nosniff`` and a sandboxing CSP, so no file can run in the chat's origin.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

import tickets
from channels.attachments import INLINE_TYPES, AttachmentRefused, file_response, store
from channels.forms import read_form
from channels.webchat.signing import COOKIE
from tickets import Channel, InboundMessage

if TYPE_CHECKING:
    from channels.webchat.channel import Webchat

log = logging.getLogger(__name__)
VISITOR_HEADER = "X-Chat-Visitor"
MULTIPART_SLACK = 64 * 1024


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _visitor(chat: Webchat, request: web.Request) -> str | None:
    header = request.headers.get(VISITOR_HEADER)
    if header:
        return chat.signer.verify(header)
    return chat.signer.verify(request.cookies.get(COOKIE))


async def upload(chat: Webchat, request: web.Request) -> web.Response:
    if chat.blobs is None:
        return _error(503, "unavailable", "file uploads are not configured")
    if not chat.clients.origin_allowed(request):
        return _error(403, "forbidden", "this site may not post into the chat")
    visitor = _visitor(chat, request)
    if visitor is None:
        return _error(401, "no_visitor", "open the chat first")
    if (
        request.content_length is not None
        and request.content_length > chat.max_upload + MULTIPART_SLACK
    ):
        return _error(413, "too_large", _too_large(chat.max_upload))
    try:
        form = await read_form(
            request,
            file_field="file",
            text_fields=("text", "client_id", "name"),
            max_bytes=chat.max_upload,
        )
        if not form.files:
            raise AttachmentRefused("no_file", "the form has no file")
        (data, filename), fields = form.files[0], form.fields
        text = fields.get("text", "").strip()
        client_id = fields.get("client_id") or None
        name = (fields.get("name") or "").strip() or None
        for value, what in ((text, "the text"), (client_id, "client_id"), (name, "the name")):
            if value:
                tickets.storable_text(value, what)
        if len(text) > chat.max_length or (name and len(name) > 100):
            raise AttachmentRefused("too_long", "the text or name is too long")
        if client_id is not None and not (
            len(client_id) <= 64 and client_id.isascii() and client_id.isprintable()
        ):
            raise AttachmentRefused("bad_client_id", "client_id is 1 to 64 printable characters")
    except AttachmentRefused as err:
        return _error(413 if err.code == "too_large" else 400, err.code, str(err))
    except tickets.Invalid as err:
        return _error(400, "bad_text", str(err))
    external_id = f"{visitor}:{client_id or uuid.uuid4().hex}"
    address = chat.clients.address(request)
    stored = await chat.desk.read(
        lambda s: tickets.inbound_message(s, Channel.WEBCHAT.value, external_id)
    )
    if stored is None and await chat.limited(visitor, address) is not None:
        return _error(429, "rate_limited", "too many messages; wait a moment")
    try:
        ref = await store(chat.blobs, data, filename, chat.max_upload)
    except AttachmentRefused as err:
        return _error(413 if err.code == "too_large" else 400, err.code, str(err))
    result = await chat.desk.ingest(
        InboundMessage(
            channel=Channel.WEBCHAT,
            external_id=external_id,
            sender=visitor,
            display_name=name,
            text=text,
            attachments=(ref,),
            received_at=chat.desk.clock(),
        )
    )
    files = await chat.desk.read(lambda s: tickets.message_files(s, result.message_id))
    await chat.after_ingest(visitor, result, name, text, client_id, files)
    body: dict[str, Any] = {
        "ticket": result.number,
        "id": result.message_id,
        "client_id": client_id,
        "attachments": chat.attachment_frames(visitor, {"attachments": files}),
    }
    return web.json_response(body, status=201)


async def serve(chat: Webchat, request: web.Request) -> web.StreamResponse:
    attachment_id = tickets.parse_id(request.match_info["id"])
    token = request.query.get("t", "")
    visitor = chat.file_tokens.visitor(token, attachment_id) if attachment_id else None
    if attachment_id is None or visitor is None or chat.blobs is None:
        raise web.HTTPNotFound(text="no such file")
    found = await chat.desk.read(
        lambda s: tickets.visitor_file(s, Channel.WEBCHAT.value, visitor, attachment_id)
    )
    if found is None:
        raise web.HTTPNotFound(text="no such file")
    try:
        data = await chat.blobs.open(found.blob_ref)
    except KeyError:
        log.error("web chat: attachment %s has no stored bytes", found.id)
        raise web.HTTPNotFound(text="no such file") from None
    return file_response(data, found, inline=found.content_type in INLINE_TYPES)


def _too_large(max_bytes: int) -> str:
    return f"the file is larger than {max_bytes // (1024 * 1024) or 1} MB"
