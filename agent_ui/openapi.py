"""Builds the OpenAPI 3.1 document from the API's route table (one source of truth)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol


class RouteLike(Protocol):
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def operation(self) -> dict[str, Any]: ...
    @property
    def public(self) -> bool: ...


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


STR, NULL_STR = {"type": "string"}, {"type": ["string", "null"]}
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": STR, "message": STR},
            }
        },
    },
    "User": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "email": STR, "name": STR, "role": STR},
    },
    "Identity": {"type": "object", "properties": {"channel": STR, "address": STR}},
    "CustomerRef": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": STR,
            "tier": STR,
            "identities": {"type": "array", "items": _ref("Identity")},
        },
    },
    "Customer": {
        "allOf": [
            _ref("CustomerRef"),
            {
                "type": "object",
                "properties": {"tickets": {"type": "array", "items": {"type": "object"}}},
            },
        ],
    },
    "Attachment": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": STR,
            "content_type": STR,
            "size": {"type": "integer"},
        },
    },
    "Message": {
        "type": "object",
        "required": [
            "id",
            "direction",
            "channel",
            "author",
            "text",
            "created_at",
            "delivery_status",
        ],
        "properties": {
            "id": {"type": "integer"},
            "direction": {"enum": ["in", "out", "note"]},
            "channel": STR,
            "author": STR,
            "text": STR,
            "html": NULL_STR,
            "attachments": {"type": "array", "items": _ref("Attachment")},
            "created_at": {"type": "string", "format": "date-time"},
            "delivery_status": {
                "enum": ["received", "queued", "sent", "delivered", "failed", None]
            },
            "delivery_error": NULL_STR,
        },
    },
    "Ticket": {
        "type": "object",
        "required": [
            "number",
            "subject",
            "status",
            "priority",
            "channel",
            "queue",
            "assignee",
            "customer",
            "tags",
            "created_at",
            "updated_at",
            "sla",
        ],
        "properties": {
            "number": {"type": "string", "pattern": "^SB-[0-9]+$"},
            "subject": STR,
            "status": {"enum": ["new", "open", "pending", "waiting_parts", "solved", "closed"]},
            "priority": {"enum": ["low", "normal", "high", "urgent"]},
            "channel": STR,
            "language": NULL_STR,
            "queue": NULL_STR,
            "assignee": NULL_STR,
            "customer": _ref("CustomerRef"),
            "tags": {"type": "array", "items": STR},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "first_response_at": {"type": ["string", "null"], "format": "date-time"},
            "sla": {"type": "object"},
        },
    },
    "TicketDetail": {
        "allOf": [
            _ref("Ticket"),
            {
                "type": "object",
                "properties": {"messages": {"type": "array", "items": _ref("Message")}},
            },
        ]
    },
    "TicketPage": {
        "type": "object",
        "properties": {
            "tickets": {"type": "array", "items": _ref("Ticket")},
            "next_cursor": NULL_STR,
        },
    },
    "TicketPatch": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "status": STR,
            "priority": STR,
            "assignee": NULL_STR,
            "queue": STR,
            "tags": {"type": "array", "items": STR},
        },
    },
    "Reply": {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {"text": STR, "channel": STR},
    },
    "Presence": {
        "type": "object",
        "required": ["status"],
        "additionalProperties": False,
        "properties": {"status": {"enum": ["online", "away", "offline"]}},
    },
    "Offers": {
        "type": "object",
        "properties": {
            "offers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": STR,
                        "ticket": STR,
                        "channel": STR,
                        "expires_at": {"type": "string", "format": "date-time"},
                    },
                },
            }
        },
    },
    "Merge": {
        "type": "object",
        "required": ["merge"],
        "additionalProperties": False,
        "properties": {"merge": {"type": "integer", "minimum": 1}},
    },
    "Note": {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {"text": STR},
    },
}

ERRORS = {
    "400": "Bad input",
    "401": "No or unknown token",
    "403": "Not allowed for this user",
    "404": "Not found",
}


def _operation(route: RouteLike) -> dict[str, Any]:
    spec = route.operation
    op: dict[str, Any] = {"summary": spec["summary"], "operationId": _op_id(route)}
    params = [
        {"name": n, "in": "path", "required": True, "schema": STR}
        for n in re.findall(r"{(\w+)}", route.path)
    ]
    params += [{"name": n, "in": "query", "required": False, "schema": STR} for n in spec["params"]]
    if params:
        op["parameters"] = params
    if spec["body"]:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(spec["body"])}},
        }
    ok: dict[str, Any] = {"description": "OK"}
    if spec["response"]:
        ok["content"] = {"application/json": {"schema": _ref(spec["response"])}}
    op["responses"] = {spec["ok"]: ok}
    if not route.public:
        op["security"] = [{"bearer": []}]
        for code, text in ERRORS.items():
            op["responses"][code] = {
                "description": text,
                "content": {"application/json": {"schema": _ref("Error")}},
            }
    else:
        op["security"] = []
    return op


def _op_id(route: RouteLike) -> str:
    words = re.sub(r"[{}]", "", route.path.removeprefix("/api/v1/")).replace(".", "_").split("/")
    return route.method.lower() + "_" + "_".join(w for w in words if w)


def build_document(routes: Sequence[RouteLike]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchboard API", "version": "1"},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
