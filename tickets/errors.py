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
