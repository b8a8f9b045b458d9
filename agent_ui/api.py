"""The REST API core (DESIGN.md): tickets, replies, notes, updates, customers.

Each route is declared once in ``ROUTES`` with its OpenAPI operation, so the document at
``/api/v1/openapi.json`` is built from the same table the router uses and cannot drift.
Authentication is a bearer token (``switchboard token add``); ``openapi.json`` is public.

Decisions where the issue is silent: a ticket (or customer) the caller may not see is a
404, never a 403, so a guessed number reveals nothing; a 403 is only for a visible thing
the caller's role may not change. A reply on a channel the server has no sender for is
refused with a 400 at once instead of failing later in the outbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from agent_ui.attachments import ATTACHMENT_ROUTES
from agent_ui.context import DESK, SENDERS, STAFF_KEY, staff_of
from agent_ui.erp_api import ERP_ROUTES, erp_section
from agent_ui.errors import ApiError
from agent_ui.http import (
    ApiRoute,
    Handler,
    check_request_text,
    dumps,
    int_field,
    only_fields,
    op,
    path_id,
    query_int,
    query_text,
    read_json,
    str_list,
    str_or_none,
    text_field,
)
from agent_ui.kb_api import KB_ROUTES
from agent_ui.openapi import build_document
from agent_ui.routing_api import ROUTING_ROUTES
from agent_ui.stream import STREAM_PATH, stream_socket
from agent_ui.uploads import UPLOAD_KEY, UPLOAD_ROUTES
from agent_ui.web.config import web_session
from channels.events import AgentTyping
from tickets import Channel, Event, TicketChanges, parse_number

PAGE_LIMIT = 200
"""The largest page ``tickets.list_tickets`` serves."""


async def list_tickets(request: web.Request) -> web.Response:
    staff = staff_of(request)
    limit = query_int(request, "limit", 50, 1, PAGE_LIMIT)
    page, cursor = await request.app[DESK].read(
        lambda s: tickets.list_tickets(
            s,
            staff,
            status=query_text(request, "status"),
            queue=query_text(request, "queue"),
            assignee=request.query.get("assignee"),
            q=query_text(request, "q"),
            limit=limit,
            cursor=query_text(request, "cursor"),
        )
    )
    return web.json_response({"tickets": page, "next_cursor": cursor}, dumps=dumps)


async def get_ticket(request: web.Request) -> web.Response:
    staff, number = staff_of(request), request.match_info["number"]
    data = await request.app[DESK].read(lambda s: tickets.ticket_detail(s, staff, number))
    data["erp"] = await erp_section(request, data["number"])
    return web.json_response(data, dumps=dumps)


async def _message(session: AsyncSession, message_id: int) -> dict[str, Any]:
    return await tickets.message_detail(session, message_id)


async def post_reply(request: web.Request) -> web.Response:
    staff, number = staff_of(request), request.match_info["number"]
    body = await read_json(request)
    only_fields(body, {"text", "channel", "attachments"})
    channel_name = str_or_none(body, "channel")
    try:
        channel = None if channel_name is None else Channel(channel_name)
    except ValueError as err:
        raise ApiError(400, "invalid", f"unknown channel {channel_name!r}") from err
    files = request.app[UPLOAD_KEY].read_all(body.get("attachments"), staff)
    text = text_field(body) if "text" in body or not files else ""
    senders = request.app.get(SENDERS)

    def reachable(via: Channel) -> bool:
        return senders is None or senders.get(via) is not None

    async def work(
        session: AsyncSession, now: datetime
    ) -> tuple[dict[str, Any], tuple[Event, ...]]:
        written = await tickets.reply(
            session,
            staff,
            number,
            text,
            now,
            channel=channel,
            reachable=reachable,
            attachments=files,
        )
        assert written.message_id is not None
        return await _message(session, written.message_id), written.events

    data = await request.app[DESK].write(work)
    return web.json_response(data, status=201, dumps=dumps)


async def post_note(request: web.Request) -> web.Response:
    staff, number = staff_of(request), request.match_info["number"]
    body = await read_json(request)
    only_fields(body, {"text"})
    text = text_field(body)

    async def work(
        session: AsyncSession, now: datetime
    ) -> tuple[dict[str, Any], tuple[Event, ...]]:
        written = await tickets.add_note(session, staff, number, text, now)
        assert written.message_id is not None
        return await _message(session, written.message_id), written.events

    data = await request.app[DESK].write(work)
    return web.json_response(data, status=201, dumps=dumps)


async def patch_ticket(request: web.Request) -> web.Response:
    staff, number = staff_of(request), request.match_info["number"]
    body = await read_json(request)
    only_fields(body, {"status", "priority", "assignee", "queue", "tags"})
    tags = str_list(body, "tags")
    assignee = str_or_none(body, "assignee", nullable=True)
    changes = TicketChanges(
        status=str_or_none(body, "status"),
        priority=str_or_none(body, "priority"),
        assignee="" if "assignee" in body and assignee is None else assignee,
        queue=str_or_none(body, "queue"),
        tags=tags,
    )

    async def work(session: AsyncSession, now: datetime) -> tuple[None, tuple[Event, ...]]:
        written = await tickets.update_ticket(session, staff, number, changes, now)
        return None, written.events

    desk = request.app[DESK]
    await desk.write(work)
    data = await desk.read(lambda s: tickets.ticket_detail(s, staff, number))
    data.pop("messages", None)
    return web.json_response(data, dumps=dumps)


async def get_customer(request: web.Request) -> web.Response:
    staff, customer_id = staff_of(request), path_id(request)
    data = await request.app[DESK].read(lambda s: tickets.customer_detail(s, staff, customer_id))
    return web.json_response(data, dumps=dumps)


async def post_merge(request: web.Request) -> web.Response:
    """Supervisors merge a duplicate customer (``merge``) into this one; the answer is the
    kept customer with every identity and ticket of both."""
    staff, keep_id = staff_of(request), path_id(request)
    body = await read_json(request)
    only_fields(body, {"merge"})
    merge_id = int_field(body, "merge")

    async def work(session: AsyncSession, now: datetime) -> tuple[int, tuple[Event, ...]]:
        merged = await tickets.merge_customers(session, staff, keep_id, merge_id, now)
        return merged.merge_id, merged.events

    desk = request.app[DESK]
    merge_record = await desk.write(work)
    data = await desk.read(lambda s: tickets.customer_detail(s, staff, keep_id))
    data["merge_id"] = merge_record
    return web.json_response(data, dumps=dumps)


async def post_unmerge(request: web.Request) -> web.Response:
    """Supervisors undo a merge into this customer (``merge_id`` from the merge's answer
    or the customer's ``merges``); the answer is this customer as it is now."""
    staff, customer_id = staff_of(request), path_id(request)
    body = await read_json(request)
    only_fields(body, {"merge_id"})
    merge_id = int_field(body, "merge_id")

    async def work(session: AsyncSession, now: datetime) -> tuple[None, tuple[Event, ...]]:
        written = await tickets.unmerge_customers(session, staff, customer_id, merge_id, now)
        return None, written.events

    desk = request.app[DESK]
    await desk.write(work)
    data = await desk.read(lambda s: tickets.customer_detail(s, staff, customer_id))
    return web.json_response(data, dumps=dumps)


def _new_ticket(body: dict[str, Any]) -> tickets.NewTicket:
    only_fields(body, {"customer", "subject", "text", "channel", "queue", "priority", "tags"})
    customer = body.get("customer")
    if not isinstance(customer, dict):
        raise ApiError(400, "invalid", "customer must be an object with a name")
    only_fields(customer, {"name", "email", "phone"})
    name = str_or_none(customer, "name")
    subject = str_or_none(body, "subject")
    if name is None or subject is None:
        raise ApiError(400, "invalid", "customer.name and subject are required")
    return tickets.NewTicket(
        customer_name=name,
        subject=subject,
        text=text_field(body),
        email=str_or_none(customer, "email"),
        phone=str_or_none(customer, "phone"),
        channel=str_or_none(body, "channel"),
        queue=str_or_none(body, "queue"),
        priority=str_or_none(body, "priority"),
        tags=tuple(str_list(body, "tags") or ()),
    )


async def post_ticket(request: web.Request) -> web.Response:
    """Opens a ticket for work that arrived outside the channels (``tickets.intake``).
    With ``Idempotency-Key`` a retry answers the first ticket (``Idempotent-Replayed``)."""
    staff = staff_of(request)
    new = _new_ticket(await read_json(request))
    key = request.headers.get("Idempotency-Key")
    desk = request.app[DESK]

    async def work(
        session: AsyncSession, now: datetime
    ) -> tuple[tickets.Created, tuple[Event, ...]]:
        created = await tickets.create_ticket(
            session, staff, new, now, idempotency_key=key, choose_queue=desk.choose_queue
        )
        return created, created.events

    created = await desk.write(work)
    data = await desk.read(lambda s: tickets.ticket_detail(s, staff, created.number))
    headers = {"Idempotent-Replayed": "true"} if created.replayed else None
    return web.json_response(data, status=201, dumps=dumps, headers=headers)


async def get_view_counts(request: web.Request) -> web.Response:
    staff = staff_of(request)
    desk = request.app[DESK]
    counts = await desk.read(lambda s: tickets.view_counts(s, staff, now=desk.clock()))
    return web.json_response({"counts": counts}, dumps=dumps)


async def get_view(request: web.Request) -> web.Response:
    staff, view = staff_of(request), request.match_info["view"]
    if view not in (*tickets.VIEWS, tickets.SEARCH_VIEW):
        raise ApiError(404, "not_found", f"no view {view!r}")
    limit = query_int(request, "limit", 50, 1, PAGE_LIMIT)
    sort = query_text(request, "sort") or "sla"
    desk = request.app[DESK]
    rows, cursor = await desk.read(
        lambda s: tickets.list_view(
            s,
            staff,
            view,
            sort=sort,
            q=query_text(request, "q"),
            limit=limit,
            cursor=query_text(request, "cursor"),
            now=desk.clock(),
        )
    )
    return web.json_response({"tickets": rows, "next_cursor": cursor}, dumps=dumps)


async def patch_me(request: web.Request) -> web.Response:
    staff = staff_of(request)
    body = await read_json(request)
    only_fields(body, {"locale", "time_zone"})
    changes: dict[str, Any] = {}
    for key in ("locale", "time_zone"):
        if key in body:
            changes[key] = str_or_none(body, key, nullable=True)

    async def work(session: AsyncSession, now: datetime) -> tuple[tickets.StaffUser, tuple[()]]:
        return await tickets.set_preferences(session, staff, now, **changes), ()

    updated = await request.app[DESK].write(work)
    return web.json_response(_me(updated), dumps=dumps)


async def post_password(request: web.Request) -> web.Response:
    staff = staff_of(request)
    body = await read_json(request)
    only_fields(body, {"old", "new"})
    old, new = str_or_none(body, "old"), str_or_none(body, "new")
    if old is None or new is None:
        raise ApiError(400, "invalid", "old and new are required")

    current = web_session(request)
    keep = current.id if current is not None else None

    async def work(session: AsyncSession, now: datetime) -> tuple[None, tuple[()]]:
        await tickets.change_password(session, staff, old, new, now)
        # Every other browser signed in as this user is out at once.
        await tickets.end_sessions_of(session, staff.id, staff.actor, now, keep=keep)
        return None, ()

    await request.app[DESK].write(work)
    return web.Response(status=204)


async def post_typing(request: web.Request) -> web.Response:
    staff, number = staff_of(request), request.match_info["number"]
    desk = request.app[DESK]
    await desk.read(lambda s: tickets.ticket_detail(s, staff, number))
    if parse_number(number) is not None:
        await desk.broadcast([AgentTyping(number, staff.name)])
    return web.Response(status=204)


def _me(staff: tickets.StaffUser) -> dict[str, Any]:
    return {
        "id": staff.id,
        "email": staff.email,
        "name": staff.name,
        "role": staff.role.value,
        "locale": staff.ui_locale,
        "time_zone": staff.time_zone,
    }


async def get_me(request: web.Request) -> web.Response:
    return web.json_response(_me(staff_of(request)), dumps=dumps)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(build_document(ROUTES), dumps=dumps)


ROUTES: list[ApiRoute] = [
    ApiRoute("GET", "/api/v1/openapi.json", openapi, op("This document"), public=True),
    ApiRoute("GET", "/api/v1/me", get_me, op("The authenticated user", response="User")),
    ApiRoute(
        "PATCH",
        "/api/v1/me",
        patch_me,
        op("Set your UI language and time zone", body="Preferences", response="User"),
    ),
    ApiRoute(
        "POST",
        "/api/v1/me/password",
        post_password,
        op("Change your password (the current one is checked)", ok="204", body="PasswordChange"),
    ),
    ApiRoute(
        "POST",
        "/api/v1/tickets",
        post_ticket,
        op(
            "Open a ticket for work that arrived outside the channels",
            ok="201",
            body="NewTicket",
            response="TicketDetail",
            headers=("Idempotency-Key",),
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v1/views",
        get_view_counts,
        op("How many tickets each workspace view holds for you", response="ViewCounts"),
    ),
    ApiRoute(
        "GET",
        "/api/v1/views/{view}",
        get_view,
        op(
            "A page of a workspace view, optionally searched",
            params=("sort", "q", "limit", "cursor"),
            response="ViewPage",
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v1/tickets",
        list_tickets,
        op(
            "List tickets visible to the caller, newest first",
            params=("status", "queue", "assignee", "q", "limit", "cursor"),
            response="TicketPage",
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v1/tickets/{number}",
        get_ticket,
        op("A ticket with its customer and messages (oldest first)", response="TicketDetail"),
    ),
    ApiRoute(
        "PATCH",
        "/api/v1/tickets/{number}",
        patch_ticket,
        op(
            "Change status, priority, assignee, queue or tags",
            body="TicketPatch",
            response="Ticket",
        ),
    ),
    ApiRoute(
        "POST",
        "/api/v1/tickets/{number}/replies",
        post_reply,
        op("Answer the customer on their channel", ok="201", body="Reply", response="Message"),
    ),
    ApiRoute(
        "POST",
        "/api/v1/tickets/{number}/notes",
        post_note,
        op("Add an internal note (never sent)", ok="201", body="Note", response="Message"),
    ),
    ApiRoute(
        "POST",
        "/api/v1/tickets/{number}/typing",
        post_typing,
        op("Tell the customer an agent is typing", ok="204"),
    ),
    ApiRoute(
        "GET",
        "/api/v1/customers/{id}",
        get_customer,
        op("A customer with identities and tickets", response="Customer"),
    ),
    ApiRoute(
        "POST",
        "/api/v1/customers/{id}/merge",
        post_merge,
        op(
            "Merge another customer into this one (supervisors)",
            body="Merge",
            response="Customer",
        ),
    ),
    ApiRoute(
        "POST",
        "/api/v1/customers/{id}/unmerge",
        post_unmerge,
        op(
            "Undo a merge into this customer (supervisors)",
            body="Unmerge",
            response="Customer",
        ),
    ),
    *ROUTING_ROUTES,
    *ERP_ROUTES,
    *ATTACHMENT_ROUTES,
    *UPLOAD_ROUTES,
    *KB_ROUTES,
    ApiRoute(
        "GET",
        STREAM_PATH,
        stream_socket,
        op(
            "Realtime events the caller may see (WebSocket; ?last_id= resumes after a gap;"
            " browsers use the session cookie)",
            ok="101",
            params=("last_id",),
        ),
    ),
]


def api_routes() -> list[web.RouteDef]:
    return [web.route(r.method, r.path, r.handler) for r in ROUTES]


SELF_AUTHENTICATED = {STREAM_PATH}
"""Routes that check credentials themselves (the stream also takes the session cookie)."""


def public_paths() -> set[tuple[str, str]]:
    return {(r.method, r.path) for r in ROUTES if r.public}


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer-token authentication for every non-public ``/api/v1`` route; the web app's
    session cookie is accepted too (``agent_ui.web`` checked its CSRF token)."""
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else request.path
    if not request.path.startswith("/api/") or (request.method, canonical) in public_paths():
        return await handler(request)
    if canonical in SELF_AUTHENTICATED:
        return await handler(request)
    check_request_text(request)
    header = request.headers.get("Authorization", "")
    session = web_session(request)
    if not header and session is not None:
        # The web app's own calls: the session cookie (its CSRF token was checked).
        request[STAFF_KEY] = session.staff
        return await handler(request)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthenticated", "send Authorization: Bearer <token>")
    staff = await tickets.authenticate_token(request.app[DESK], token.strip())
    if staff is None:
        raise ApiError(401, "unauthenticated", "the token is unknown or its user is inactive")
    request[STAFF_KEY] = staff
    return await handler(request)
