"""Staff download of a ticket's attachments: ``GET /api/v1/attachments/{id}``.

Always a download (``Content-Disposition: attachment``) with the stored, sniffed content
type, ``nosniff`` and a sandboxing CSP, so a file a customer sent can never run in the
app's origin. An attachment of a ticket the caller may not see is a 404, like one that
does not exist."""

from __future__ import annotations

import logging

from aiohttp import web

import tickets
from agent_ui.context import DESK, staff_of
from agent_ui.errors import ApiError
from agent_ui.http import ApiRoute, op, path_id
from channels.attachments import BlobStore, file_response

log = logging.getLogger(__name__)
BLOBS: web.AppKey[BlobStore] = web.AppKey("blobs")


async def get_attachment(request: web.Request) -> web.Response:
    staff = staff_of(request)
    attachment_id = path_id(request, "id", "attachment")
    found = await request.app[DESK].read(lambda s: tickets.staff_file(s, staff, attachment_id))
    blobs = request.app.get(BLOBS)
    if blobs is None:
        raise ApiError(503, "unavailable", "no blob store is configured")
    try:
        data = await blobs.open(found.blob_ref)
    except KeyError:
        log.error("attachment %s has no stored bytes (%s)", found.id, found.blob_ref)
        raise ApiError(404, "not_found", f"attachment {attachment_id} has no content") from None
    return file_response(data, found, inline=False)


async def get_original(request: web.Request) -> web.Response:
    """The raw mail of an email message, as a download (``message/rfc822``)."""
    staff = staff_of(request)
    message_id = path_id(request, "id", "message")
    found = await request.app[DESK].read(lambda s: tickets.staff_original(s, staff, message_id))
    blobs = request.app.get(BLOBS)
    if blobs is None:
        raise ApiError(503, "unavailable", "no blob store is configured")
    try:
        data = await blobs.open(found.blob_ref)
    except KeyError:
        raise ApiError(404, "not_found", f"message {message_id} has no original") from None
    return file_response(data, found, inline=False)


ATTACHMENT_ROUTES = [
    ApiRoute(
        "GET",
        "/api/v1/attachments/{id}",
        get_attachment,
        op("Download an attachment of a ticket you may see", response=None),
    ),
    ApiRoute(
        "GET",
        "/api/v1/messages/{id}/original",
        get_original,
        op("Download the original mail of an email message you may see", response=None),
    ),
]
