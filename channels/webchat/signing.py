"""Signed visitor ids for the chat cookie: ``v_<random>.<hmac>``. The id is the visitor's
webchat address, so it must not be forgeable (it is the key to their conversation)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

COOKIE = "sb_visitor"


class VisitorSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the signing key must have at least 16 bytes")
        self._key = key

    def file_tokens(self) -> FileTokens:
        return FileTokens(self._key)

    def new_visitor(self) -> str:
        return "v_" + secrets.token_hex(12)

    def sign(self, visitor: str) -> str:
        mac = hmac.new(self._key, visitor.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{visitor}.{mac}"

    def verify(self, token: str | None) -> str | None:
        if not token or "." not in token:
            return None
        visitor, _, _mac = token.rpartition(".")
        if not visitor.startswith("v_") or len(visitor) > 64:
            return None
        return visitor if hmac.compare_digest(self.sign(visitor), token) else None


class FileTokens:
    """Capability tokens for a visitor's own files: ``<visitor>.<hmac>`` bound to one
    attachment, so an ``<img>`` (which carries no key and, in the widget, no cookie) can
    load it, and nobody else's file can be named."""

    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(b"switchboard.chat.files:" + key).digest()

    def token(self, visitor: str, attachment_id: int) -> str:
        return f"{visitor}.{self._mac(visitor, attachment_id)}"

    def visitor(self, token: str, attachment_id: int) -> str | None:
        visitor, _, mac = token.rpartition(".")
        if not visitor.startswith("v_") or len(visitor) > 64:
            return None
        return visitor if hmac.compare_digest(self._mac(visitor, attachment_id), mac) else None

    def _mac(self, visitor: str, attachment_id: int) -> str:
        msg = f"{visitor}:{attachment_id}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()[:32]
