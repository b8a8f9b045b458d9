"""A connection pool that stays exhausted becomes ``Unavailable``.

The engine's pool is bounded (size and wait come from the settings), so a burst beyond it
waits a bounded time and then fails with SQLAlchemy's pool ``TimeoutError``; callers see
``Unavailable`` instead, which the HTTP layer answers with 503 and ``Retry-After`` and the
chat socket with an error frame, never a dropped connection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.exc import TimeoutError as PoolTimeout

from tickets.errors import Unavailable

RETRY_AFTER_S = 1.0


@contextlib.asynccontextmanager
async def unavailable_when_pool_is_exhausted() -> AsyncIterator[None]:
    try:
        yield
    except PoolTimeout as err:
        raise Unavailable(
            "the database is busy: no connection became free in time", RETRY_AFTER_S
        ) from err


async def fair_turn() -> None:
    """Yields to the loop after a connection went back to the pool. The pool wakes its
    oldest waiter but hands the connection to whoever asks first; without this, a task
    that checks a connection in and at once out again (a worker's loop) takes it back
    before the woken waiter runs, and under load waiters starve past the pool timeout."""
    await asyncio.sleep(0)
