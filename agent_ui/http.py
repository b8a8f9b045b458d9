"""Shared pieces of the JSON API: the route declaration type, the one JSON body reader,
the one reader of ids and query values, and the OpenAPI operation helper.

Hostile input is refused here, by class, before any route sees it: a body nested past
``MAX_DEPTH`` (including one deep enough to raise ``RecursionError`` in the decoder), any
string in a body, path or query that a database cannot store (NUL, lone surrogates;
``tickets.storable_text``), and ids that are not plain ASCII digits fitting 64 bits
(``tickets.parse_id``). Each is a 400 (or a 404 for an id in the path), never a 5xx."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from agent_ui.errors import ApiError
from tickets import parse_id, storable_text

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY = 256 * 1024
MAX_DEPTH = 32


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    handler: Handler
    operation: dict[str, Any]
    public: bool = False


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object whose every key and string is storable text."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise ApiError(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(raw.decode("utf-8") or "null")
    except RecursionError as err:
        raise ApiError(400, "bad_json", f"the body is nested deeper than {MAX_DEPTH}") from err
    except (UnicodeDecodeError, ValueError) as err:
        raise ApiError(400, "bad_json", f"the body is not valid JSON: {err}") from err
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    _check_values(body)
    return body


def _check_values(body: dict[str, Any]) -> None:
    """Walks the body without recursion: depth bounded, every string storable."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ApiError(400, "bad_json", f"the body is nested deeper than {MAX_DEPTH}")
        if isinstance(value, str):
            storable_text(value, "a string in the body")
        elif isinstance(value, dict):
            for key, item in value.items():
                storable_text(key, "a field name")
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def check_request_text(request: web.Request) -> None:
    """Every path segment and query value must be storable text (PostgreSQL refuses NUL;
    SQLite would store it): refused alike on both databases, before any query runs."""
    for name, value in request.match_info.items():
        storable_text(value, name)
    for name, value in request.query.items():
        storable_text(name, "a query parameter name")
        storable_text(value, name)


def path_id(request: web.Request, name: str = "id", what: str = "customer") -> int:
    """A numeric id from the path; anything that is not one names nothing (404)."""
    value = parse_id(request.match_info[name])
    if value is None:
        raise ApiError(404, "not_found", f"no such {what}")
    return value


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    value = parse_id(raw)
    if value is None or not low <= value <= high:
        raise ApiError(400, "invalid", f"{name} must be a whole number from {low} to {high}")
    return value


def query_text(request: web.Request, name: str) -> str | None:
    """A query value, None when absent or empty."""
    return request.query.get(name) or None


def only_fields(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field(s): {', '.join(unknown)}")


def str_or_none(body: dict[str, Any], key: str, *, nullable: bool = False) -> str | None:
    """An optional string field: absent is None; an explicit ``null`` only where the
    field documents it (``nullable``), since the OpenAPI document promises exactly that."""
    value = body.get(key)
    if value is None and (key not in body or nullable):
        return None
    if not isinstance(value, str):
        raise ApiError(400, "invalid", f"{key} must be a string")
    return storable_text(value, key)


def text_field(body: dict[str, Any]) -> str:
    value = body.get("text")
    if not isinstance(value, str):
        raise ApiError(400, "invalid", "text must be a string")
    return storable_text(value, "text")


def str_list(body: dict[str, Any], key: str) -> list[str] | None:
    if key not in body:
        return None
    value = body[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, "invalid", f"{key} must be a list of strings")
    return [storable_text(v, key) for v in value]


def int_field(body: dict[str, Any], key: str) -> int:
    """A required id in the body: a JSON integer (not a boolean) that fits 64 bits."""
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or parse_id(str(value)) is None:
        raise ApiError(400, "invalid", f"{key} must be a positive integer id")
    return value


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def op(
    summary: str,
    *,
    ok: str = "200",
    body: str | None = None,
    params: tuple[str, ...] = (),
    response: str | None = None,
    headers: tuple[str, ...] = (),
    form: str | None = None,
) -> dict[str, Any]:
    """``body``: a JSON request body's schema; ``form``: a multipart one's."""
    return {
        "summary": summary,
        "ok": ok,
        "body": body,
        "form": form,
        "params": params,
        "response": response,
        "headers": headers,
    }
