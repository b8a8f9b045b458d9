"""Builds the OpenAPI 3.1 document from the API's route table (one source of truth).

The request schemas say what the handlers accept (enums, lengths, integer ranges), so a
schema-driven fuzzer (schemathesis in ``.ci/run``) sends mostly valid requests and every
answer, error or not, is one the document lists with the shape it shows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from agent_ui.erp_schemas import ERP_SCHEMAS


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
VIEWS = ["mine", "unassigned", "open", "pending", "waiting_parts", "solved"]
STATUSES = ["new", "open", "pending", "waiting_parts", "solved", "closed"]
PRIORITIES = ["low", "normal", "high", "urgent"]
CHANNELS = ["email", "sms", "voice", "webchat", "telegram", "api"]
TEXT = {"type": "string", "minLength": 1, "maxLength": 20_000, "pattern": "\\S"}
MAX_ID = 2**63 - 1
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
        "properties": {
            "id": {"type": "integer"},
            "email": STR,
            "name": STR,
            "role": STR,
            "locale": NULL_STR,
            "time_zone": NULL_STR,
        },
    },
    "Identity": {
        "type": "object",
        "properties": {
            "channel": STR,
            "address": STR,
            "verified": {"type": "boolean", "description": "false for a claim nobody checked"},
            "unreachable": {
                "type": ["string", "null"],
                "description": "why nothing can be sent there (opted out, blocked), else null",
            },
        },
    },
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
                "properties": {
                    "tickets": {"type": "array", "items": {"type": "object"}},
                    "merges": {
                        "type": "array",
                        "description": "merges into this customer that can be undone",
                        "items": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "integer"},
                                "merged_id": {"type": "integer"},
                                "merged_name": STR,
                                "merged_at": STR,
                                "merged_by": NULL_STR,
                                "identities": {"type": "integer"},
                                "tickets": {"type": "integer"},
                            },
                        },
                    },
                    "merge_id": {"type": "integer", "description": "in a merge's answer"},
                },
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
            "seen_at": {"type": ["string", "null"], "format": "date-time"},
            # Email: the threading rule that put the message on its ticket, and the mail's
            # facts (from, to, cc, subject, noise, ...); null on other channels.
            "thread_reason": {
                "enum": [
                    "in_reply_to",
                    "references",
                    "subject_token",
                    "subject",
                    "new",
                    "follow_up",
                    None,
                ]
            },
            "email": {"type": ["object", "null"]},
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
            "status": {"enum": STATUSES},
            "priority": {"enum": PRIORITIES},
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
            "rating": {"type": ["object", "null"]},
        },
    },
    "TicketDetail": {
        "allOf": [
            _ref("Ticket"),
            {
                "type": "object",
                "properties": {
                    "messages": {"type": "array", "items": _ref("Message")},
                    # Email: CC addresses that joined the ticket (kept on replies).
                    "participants": {"type": "array", "items": STR},
                    "erp": {"anyOf": [_ref("ErpSection"), {"type": "null"}]},
                },
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
            "status": {"enum": STATUSES},
            "priority": {"enum": PRIORITIES},
            "assignee": {
                "type": ["string", "null"],
                "description": "an active user's email; null or empty unassigns",
            },
            "queue": {"type": "string", "minLength": 1},
            "tags": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"},
            },
        },
    },
    "Reply": {
        "type": "object",
        "additionalProperties": False,
        "description": "text, attachments (tokens from POST /api/v1/uploads), or both",
        "anyOf": [
            {"required": ["text"]},
            {"required": ["attachments"], "properties": {"attachments": {"minItems": 1}}},
        ],
        "properties": {
            "text": TEXT,
            "channel": {"enum": CHANNELS},
            "attachments": {"type": "array", "maxItems": 10, "items": {"type": "string"}},
        },
    },
    "Upload": {
        "type": "object",
        "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}},
    },
    "UploadToken": {
        "type": "object",
        "required": ["token", "name", "size", "content_type"],
        "properties": {
            "token": {"type": "string"},
            "name": {"type": "string"},
            "size": {"type": "integer"},
            "content_type": {"type": "string"},
        },
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
        "properties": {"merge": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
    },
    "Note": {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {"text": TEXT},
    },
    "Unmerge": {
        "type": "object",
        "required": ["merge_id"],
        "additionalProperties": False,
        "properties": {"merge_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
    },
    "NewTicket": {
        "type": "object",
        "required": ["customer", "subject", "text"],
        "additionalProperties": False,
        "description": "email or phone is required; channel defaults to email when an "
        "email is given, else sms",
        "properties": {
            "customer": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
                    "email": {"type": "string", "maxLength": 320},
                    "phone": {"type": "string", "maxLength": 40},
                },
            },
            "subject": {"type": "string", "minLength": 1, "maxLength": 500, "pattern": "\\S"},
            "text": TEXT,
            "channel": {"enum": ["email", "sms", "voice", "api"]},
            "queue": {"type": "string", "minLength": 1},
            "priority": {"enum": PRIORITIES},
            "tags": {
                "type": "array",
                "maxItems": 50,
                "items": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"},
            },
        },
    },
    "ViewCounts": {
        "type": "object",
        "properties": {
            "counts": {
                "type": "object",
                "properties": {v: {"type": "integer"} for v in VIEWS},
            }
        },
    },
    "ViewRow": {
        "type": "object",
        "required": ["number", "subject", "status", "priority", "channel", "updated_at", "sla"],
        "properties": {
            "number": {"type": "string", "pattern": "^SB-[0-9]+$"},
            "subject": STR,
            "status": {"enum": STATUSES},
            "priority": {"enum": PRIORITIES},
            "channel": STR,
            "language": NULL_STR,
            "queue": NULL_STR,
            "assignee": NULL_STR,
            "assignee_name": NULL_STR,
            "customer": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "name": STR},
            },
            "last_message": {
                "type": ["object", "null"],
                "properties": {"preview": STR, "direction": STR, "at": STR},
            },
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "sla_due_at": {"type": ["string", "null"], "format": "date-time"},
            "sla": {"type": "object"},
        },
    },
    "ViewPage": {
        "type": "object",
        "properties": {
            "tickets": {"type": "array", "items": _ref("ViewRow")},
            "next_cursor": NULL_STR,
        },
    },
    "Preferences": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "locale": {"enum": ["zh_CN", "en", None]},
            "time_zone": {"type": ["string", "null"], "description": "an IANA zone name"},
        },
    },
    "PasswordChange": {
        "type": "object",
        "required": ["old", "new"],
        "additionalProperties": False,
        "properties": {
            "old": STR,
            "new": {"type": "string", "minLength": 8, "maxLength": 1024},
        },
    },
}

# -- knowledge base (agent_ui.kb_api) --
_KB_SLUG = {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,198}[a-z0-9])?$"}
_KB_TITLE = {"type": "string", "minLength": 1, "maxLength": 300, "pattern": "\\S"}
_KB_LIST = {
    "type": "array",
    "maxItems": 50,
    "items": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"},
}
_KB_FIELDS: dict[str, Any] = {
    "title": _KB_TITLE,
    "body": {"type": "string", "maxLength": 200_000},
    "locale": {"enum": ["zh-CN", "en"]},
    "visibility": {"enum": ["internal", "public"]},
    "category": {"type": "string", "maxLength": 100},
    "tags": _KB_LIST,
    "models": _KB_LIST,
    "translation_key": _KB_SLUG,
}
SCHEMAS.update(
    {
        "KbSearch": {
            "type": "object",
            "required": ["results"],
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["slug", "title", "locale", "snippet", "score"],
                        "properties": {
                            "slug": STR,
                            "title": STR,
                            "locale": STR,
                            "visibility": STR,
                            "snippet": {
                                "type": "string",
                                "description": "HTML-escaped text, hits in <mark>",
                            },
                            "score": {"type": "number"},
                        },
                    },
                }
            },
        },
        "KbArticle": {
            "type": "object",
            "required": ["slug", "title", "locale", "visibility", "body", "html", "version"],
            "properties": {
                "slug": STR,
                "title": STR,
                "locale": STR,
                "visibility": STR,
                "category": STR,
                "tags": {"type": "array", "items": STR},
                "models": {"type": "array", "items": STR},
                "version": {"type": "integer"},
                "body": {"type": "string", "description": "Markdown"},
                "html": {"type": "string", "description": "the body rendered and sanitized"},
                "translations": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"slug": STR, "locale": STR}},
                },
                "updated_at": {"type": "string", "format": "date-time"},
            },
        },
        "KbArticleNew": {
            "type": "object",
            "required": ["slug", "title", "locale"],
            "additionalProperties": False,
            "properties": {"slug": _KB_SLUG, **_KB_FIELDS},
        },
        "KbArticleChanges": {
            "type": "object",
            "additionalProperties": False,
            "properties": _KB_FIELDS,
        },
    }
)
SCHEMAS.update(ERP_SCHEMAS)

ERRORS = {
    "400": "Bad input: malformed JSON, a wrong type, text a database cannot store",
    "401": "No or unknown token",
    "403": "Visible, but not allowed for this user's role",
    "404": "Not found, or not visible to this user",
    "409": "Conflicts with the current state (a closed ticket is read-only)",
    "413": "The body is too large",
    "503": "A dependency is busy; retry after the Retry-After seconds",
}
QUERY_SCHEMAS: dict[str, dict[str, Any]] = {
    "locale": {"enum": ["zh-CN", "en"]},
    "on": {"type": "string", "format": "date", "description": "a day, YYYY-MM-DD"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    "status": {"type": "string", "description": "comma-separated statuses"},
    "assignee": {"type": "string", "description": "an email, `me`, or `none`/empty"},
    "cursor": {"type": "string", "description": "next_cursor of the previous page"},
    "sort": {"enum": ["sla", "priority", "activity"], "default": "sla"},
    "q": {
        "type": "string",
        "maxLength": 200,
        "description": "a ticket number, phone, email, customer name or text",
    },
}
HEADER_SCHEMAS: dict[str, dict[str, Any]] = {
    "Idempotency-Key": {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "pattern": "^[\\x20-\\x7e]+$",
        "description": "a retry with the same key answers the first result",
    },
}


def _error(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}


def _operation(route: RouteLike) -> dict[str, Any]:
    spec = route.operation
    op: dict[str, Any] = {"summary": spec["summary"], "operationId": _op_id(route)}
    params = [
        {"name": n, "in": "path", "required": True, "schema": STR}
        for n in re.findall(r"{(\w+)}", route.path)
    ]
    params += [
        {"name": n, "in": "query", "required": False, "schema": QUERY_SCHEMAS.get(n, STR)}
        for n in spec["params"]
    ]
    params += [
        {"name": n, "in": "header", "required": False, "schema": HEADER_SCHEMAS.get(n, STR)}
        for n in spec.get("headers", ())
    ]
    if params:
        op["parameters"] = params
    if spec["body"]:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(spec["body"])}},
        }
    if spec.get("form"):
        op["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": _ref(spec["form"])}},
        }
    ok: dict[str, Any] = {"description": "OK"}
    if spec["response"]:
        ok["content"] = {"application/json": {"schema": _ref(spec["response"])}}
    op["responses"] = {spec["ok"]: ok}
    if not route.public:
        op["security"] = [{"bearer": []}]
        op["responses"].update({code: _error(text) for code, text in ERRORS.items()})
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
