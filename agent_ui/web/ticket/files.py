"""The composer's form with the files an agent attaches to a reply.

htmx posts the composer as ``multipart/form-data`` with the CSRF token in its header:
the body is then read here in a stream (each file refused past
``SWITCHBOARD_ATTACHMENT_MAX_BYTES``, at most ``MAX_FILES``), not through the app's 1 MB
form limit. A plain form post (no JavaScript) has had its body read by the CSRF check
already and keeps the app's limit. Files are stored in the blob store (type sniffed from
the bytes) before the reply is written; a refused file refuses the reply with the reason.
"""

from __future__ import annotations

from aiohttp import web

import tickets
from agent_ui.attachments import BLOBS
from agent_ui.web.auth import CSRF_HEADER
from channels.attachments import AttachmentRefused, form_filename, store
from channels.forms import read_form
from tickets import AttachmentRef

MAX_FILES = 10
FIELDS = ("csrf_token", "text", "note", "channel")


async def read_composer(
    request: web.Request, max_bytes: int
) -> tuple[dict[str, str], list[tuple[bytes, str | None]]]:
    """The form's text fields and its non-empty files."""
    if request.content_type != "multipart/form-data" or not request.headers.get(CSRF_HEADER):
        posted_form = await request.post()
        plain = {k: v for k, v in posted_form.items() if isinstance(v, str)}
        posted: list[tuple[bytes, str | None]] = [
            (f.file.read(), form_filename(f.filename))
            for f in posted_form.getall("files", [])
            if isinstance(f, web.FileField) and f.filename
        ]
        return plain, posted
    try:
        streamed = await read_form(
            request,
            file_field="files",
            text_fields=FIELDS,
            max_bytes=max_bytes,
            max_files=MAX_FILES,
        )
    except AttachmentRefused as err:
        raise tickets.Invalid(str(err)) from None
    return streamed.fields, streamed.files


async def keep_files(
    request: web.Request, files: list[tuple[bytes, str | None]], max_bytes: int
) -> list[AttachmentRef]:
    if not files:
        return []
    blobs = request.app.get(BLOBS)
    if blobs is None:
        raise tickets.Invalid("files cannot be sent: no file storage is configured")
    refs = []
    for data, name in files:
        try:
            refs.append(await store(blobs, data, name, max_bytes))
        except AttachmentRefused as err:
            raise tickets.Invalid(f"{name or 'a file'}: {err}") from None
    return refs
