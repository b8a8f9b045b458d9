"""The injected clock: services take ``now`` from here, tests replace it."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
