"""JSON errors for the API: ``{"error": {"code", "message"}}`` with a 4xx/5xx status.
A bad input is logged once at INFO with its reason; an unexpected failure at ERROR.
``tickets.Unavailable`` (the database pool stayed exhausted) is 503 with ``Retry-After``
on every path, the API and the pages and webhooks alike (a provider then re-delivers)."""

from __future__ import annotations

import logging
import math
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


def _retry_after(err: Unavailable) -> str:
    return str(max(1, math.ceil(err.retry_after)))


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except Unavailable as err:
            log.warning("%s %s -> 503: %s", request.method, request.path, err)
            return web.Response(
                status=503, text=f"{err}\n", headers={"Retry-After": _retry_after(err)}
            )
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except ApiError as err:
        log.info(
            "%s %s -> %s %s: %s", request.method, request.path, err.status, err.code, err.message
        )
        extra = {"WWW-Authenticate": "Bearer"} if err.status == 401 else {}
        return error_response(err.status, err.code, err.message, **extra)
    except Unavailable as err:
        log.warning("%s %s -> 503 %s: %s", request.method, request.path, err.code, err)
        return error_response(503, err.code, str(err), **{"Retry-After": _retry_after(err)})
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
