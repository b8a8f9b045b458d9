"""Structured logging: ``text`` (human) or ``json`` (one object per line) on stderr.

One record is one line, whatever a client sends: a request path or a name quoted in a
message cannot start a line of its own (control characters are shown escaped, ``\\n``
as ``\\\\n``), and the lines of a traceback are indented so none of them can pass for a
record. JSON lines get the same guarantee from JSON's own escaping. URL passwords are
hidden in every message (``settings.redact``).

Malformed HTTP (an over-long header line, a bad method, a broken request line) is what
the open Internet sends all day; aiohttp logs it on ``aiohttp.server`` as an ERROR with a
traceback (or, for a bad method on a fresh connection, at DEBUG). ``BadRequestFilter``
turns each into one WARNING line naming the client and the reason.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from aiohttp.http_exceptions import HttpProcessingError

from switchboard.settings import redact

# C0 controls but tab, DEL, C1 controls, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r"}
MAX_REASON = 200


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` on one line: control characters become visible escapes."""
    return _CONTROL.sub(_escape_char, text)


def _message(record: logging.LogRecord) -> str:
    return redact(record.getMessage())


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(_message(record))
        return super().formatMessage(record)

    def formatException(self, ei: logging._SysExcInfoType) -> str:
        text = redact(super().formatException(ei))
        return "\n".join("    " + escape_controls(line) for line in text.splitlines())

    def formatStack(self, stack_info: str) -> str:
        return "\n".join("    " + escape_controls(line) for line in stack_info.splitlines())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _message(record),
        }
        if record.exc_info:
            data["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


class BadRequestFilter(logging.Filter):
    """On ``aiohttp.server``: a record about a request aiohttp could not parse becomes
    one WARNING line without a traceback; other records below ``level`` are dropped
    (the logger itself is opened to DEBUG so the bad-method case reaches this filter)."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            reason = " ".join(str(exc.message or type(exc).__name__).split())
            if len(reason) > MAX_REASON:
                reason = reason[:MAX_REASON] + "..."
            record.msg = "bad HTTP request from %s: %s (%s)"
            record.args = (remote, reason, exc.code)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = None
            record.exc_text = None
            return True
        return record.levelno >= self.level


def configure(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    server = logging.getLogger("aiohttp.server")
    server.filters[:] = [BadRequestFilter(root.level)]
    server.setLevel(logging.DEBUG)
