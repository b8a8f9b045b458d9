"""Reading a ``multipart/form-data`` body with files, for every upload the app takes (the
chat visitor's file, an agent's upload for a reply, the workspace composer).

The body is read part by part: each file is refused (``AttachmentRefused("too_large")``)
as soon as it passes ``max_bytes``, before the rest arrives, so a large upload never sits
whole in memory; text fields are capped at ``MAX_FIELD`` bytes and must be UTF-8; parts
with other names are skipped. A body that is not well-formed multipart (a bad boundary,
a header aiohttp refuses) is ``AttachmentRefused("bad_form")``, never a server error.
File names are read as the browser meant them (``form_filename``)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from channels.attachments import AttachmentRefused, form_filename

MAX_FIELD = 64 * 1024
CHUNK = 64 * 1024


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[tuple[bytes, str | None]] = field(default_factory=list)
    """``(bytes, file name)`` of each file sent, in order (a file input left empty, with
    neither bytes nor a name, is not one)."""


async def read_form(
    request: web.Request,
    *,
    file_field: str,
    text_fields: Collection[str],
    max_bytes: int,
    max_files: int = 1,
) -> Form:
    try:
        return await _read(request, file_field, text_fields, max_bytes, max_files)
    except AttachmentRefused:
        raise  # a ValueError too, with its own reason
    except (AssertionError, KeyError, ValueError, HttpProcessingError) as err:
        raise AttachmentRefused("bad_form", "send multipart/form-data") from err


async def _read(
    request: web.Request,
    file_field: str,
    text_fields: Collection[str],
    max_bytes: int,
    max_files: int,
) -> Form:
    form = Form()
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise AttachmentRefused("bad_form", "nested multipart is not accepted")
        if part.name == file_field:
            data = await _capped(part, max_bytes)
            if not data and not part.filename:
                continue  # a file input left empty
            if len(form.files) >= max_files:
                raise AttachmentRefused(
                    "bad_form",
                    "send one file at a time" if max_files == 1 else f"at most {max_files} files",
                )
            form.files.append((data, form_filename(part.filename)))
        elif part.name is not None and part.name in text_fields:
            raw = await part.read(decode=False)
            if len(raw) > MAX_FIELD:
                raise AttachmentRefused("bad_form", f"the field {part.name} is too long")
            try:
                form.fields[part.name] = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise AttachmentRefused("bad_form", f"{part.name} is not UTF-8 text") from err
        else:
            await part.release()
    return form


async def _capped(part: BodyPartReader, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            name = f"{form_filename(part.filename)}: " if part.filename else ""
            limit = max_bytes // (1024 * 1024) or 1
            raise AttachmentRefused("too_large", f"{name}the file is larger than {limit} MB")
        chunks.append(chunk)
    return b"".join(chunks)
