"""Shared pieces of the JSON API: the route declaration type, body parsing and the
OpenAPI operation helper."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from agent_ui.errors import ApiError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY = 256 * 1024


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    handler: Handler
    operation: dict[str, Any]
    public: bool = False


async def read_json(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError) as err:
        raise ApiError(400, "bad_json", f"the body is not valid JSON: {err}") from err
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    return body


def only_fields(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field(s): {', '.join(unknown)}")


def str_or_none(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "invalid", f"{key} must be a string")
    return value


def text_field(body: dict[str, Any]) -> str:
    value = body.get("text")
    if not isinstance(value, str):
        raise ApiError(400, "invalid", "text must be a string")
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
) -> dict[str, Any]:
    return {"summary": summary, "ok": ok, "body": body, "params": params, "response": response}
