"""JSON errors for the API: ``{"error": {"code", "message"}}`` with a 4xx/5xx status.
A bad input is logged once at INFO with its reason; an unexpected failure at ERROR."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from tickets import Conflict, Forbidden, Invalid, NotFound, TicketError, Unavailable

log = logging.getLogger(__name__)

STATUS_FOR: dict[type[TicketError], int] = {
    NotFound: 404,
    Forbidden: 403,
    Invalid: 400,
    Conflict: 409,
    Unavailable: 503,
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str, **headers: str) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    return web.json_response(body, status=status, headers=headers or None)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await handler(request)  # type: ignore[no-any-return]
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except ApiError as err:
        log.info(
            "%s %s -> %s %s: %s", request.method, request.path, err.status, err.code, err.message
        )
        extra = {"WWW-Authenticate": "Bearer"} if err.status == 401 else {}
        return error_response(err.status, err.code, err.message, **extra)
    except TicketError as err:
        status = STATUS_FOR.get(type(err), 400)
        log.info("%s %s -> %s %s: %s", request.method, request.path, status, err.code, err)
        retry = (
            {"Retry-After": str(max(1, round(err.retry_after)))}
            if isinstance(err, Unavailable)
            else {}
        )
        return error_response(status, err.code, str(err), **retry)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            err.status, "http_error"
        )
        return error_response(err.status, code, err.reason)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal", "internal error; it has been logged")
