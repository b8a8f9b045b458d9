"""Errors the ticket services raise; the HTTP layer maps each to one status code."""

from __future__ import annotations


class TicketError(Exception):
    code = "invalid"


class NotFound(TicketError):
    code = "not_found"


class Forbidden(TicketError):
    code = "forbidden"


class Invalid(TicketError):
    code = "invalid"


class Conflict(TicketError):
    code = "conflict"


class Unavailable(TicketError):
    """A dependency (the database pool) is busy or down: try again in ``retry_after`` s."""

    code = "unavailable"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
