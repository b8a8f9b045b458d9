"""Files customers send, for every channel: the size limit, the content type sniffed from
the bytes, a file name safe to show and to put in a header, and the ``BlobStore`` seam the
bytes are kept behind (``switchboard.blobs`` has the filesystem store).

The type a sender declares is never trusted: it is read from the file's first bytes
(PNG, JPEG, GIF, WebP, PDF), and anything else is ``application/octet-stream``, so no
stored file can ever be served as HTML or script. Email and SMS (MMS) reuse this module.
"""

from __future__ import annotations

import unicodedata
from typing import Protocol
from urllib.parse import quote, unquote

from aiohttp import web

from tickets import AttachmentRef, StoredFile

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
OCTET_STREAM = "application/octet-stream"
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""Types a customer's own chat may show inline (as ``<img>``); everything else downloads."""
MAX_NAME = 200


class BlobStore(Protocol):
    """Where attachment bytes live; the database keeps only the returned reference."""

    async def put(self, data: bytes, content_type: str) -> str:
        """Stores ``data``; returns its reference (the same bytes give the same one)."""

    async def open(self, ref: str) -> bytes:
        """The bytes of ``ref``; ``KeyError`` when there are none."""


class AttachmentRefused(ValueError):
    """A file that is not accepted; ``code`` is the error code shown to the sender."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def sniff(data: bytes) -> str:
    """The content type the bytes say they are (magic numbers), else octet-stream."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return OCTET_STREAM


def safe_name(raw: str | None, content_type: str) -> str:
    """A display name without paths, control characters or quotes, at most ``MAX_NAME``
    characters; a default by type when nothing is left."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in '"<>'
    ).strip(" .")
    if not name:
        name = "image" if content_type.startswith("image/") else "file"
        name += {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif"}.get(
            content_type, {"image/webp": ".webp", "application/pdf": ".pdf"}.get(content_type, "")
        )
    return name[:MAX_NAME]


def form_filename(raw: str | None) -> str | None:
    """A multipart part's file name as the user named it. Browsers send UTF-8 in the
    quoted ``filename`` and percent-encode only ``"``, CR and LF; aiohttp's client (and
    some others) percent-encode every non-ASCII byte: decoding ``%XX`` reads both."""
    if raw is None or "%" not in raw:
        return raw
    return unquote(raw, errors="strict") if _decodes(raw) else raw


def _decodes(raw: str) -> bool:
    try:
        unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def check_size(size: int, max_bytes: int) -> None:
    if size <= 0:
        raise AttachmentRefused("empty_file", "the file is empty")
    if size > max_bytes:
        raise AttachmentRefused(
            "too_large", f"the file is larger than {max_bytes // (1024 * 1024) or 1} MB"
        )


async def store(blobs: BlobStore, data: bytes, name: str | None, max_bytes: int) -> AttachmentRef:
    """Checks, sniffs and stores one file; returns the reference ``tickets.ingest`` keeps."""
    check_size(len(data), max_bytes)
    content_type = sniff(data)
    ref = await blobs.put(data, content_type)
    return AttachmentRef(safe_name(name, content_type), content_type, len(data), ref)


def disposition(kind: str, name: str) -> str:
    """A ``Content-Disposition`` header value with an ASCII fallback and the UTF-8 name."""
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_") or "file"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


FILE_CSP = "default-src 'none'; img-src 'self'; sandbox"


def file_response(data: bytes, found: StoredFile, *, inline: bool) -> web.Response:
    """A stored file as its stored type, never sniffed by the browser, never scriptable
    (a sandboxing CSP even when opened directly); ``inline`` only for images shown in the
    customer's own chat, downloads otherwise."""
    response = web.Response(body=data, content_type=found.content_type)
    response.headers["Content-Disposition"] = disposition(
        "inline" if inline else "attachment", found.name
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
