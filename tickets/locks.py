"""Named locks that hold across processes, for work outside the database that must not
run twice at once: reserving spare parts in the ERP for a ticket is the case that needs
it (two workers or two app processes answering the same click would otherwise both find
"no reservation yet" and both create one).

- PostgreSQL: a transaction-scoped advisory lock (``pg_advisory_xact_lock``) on a
  connection of its own, held while the work runs; a crashed holder's connection closes
  and the lock goes with it. Waiting is bounded by ``lock_timeout``.
- SQLite: ``flock`` on ``<database file>.locks`` (one lock file for every name; the
  operations it guards are rare), polled without blocking the event loop, behind a
  per-name ``asyncio.Lock`` so this process does not poll against itself. ``flock``
  belongs to the open file, so two desks in one process exclude each other too.
- Waiting longer than ``timeout_s`` raises ``Unavailable``: the caller answers "busy,
  try again" rather than hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tickets.errors import Unavailable

NAMESPACE = 0x5B10  # the first key of every advisory lock Switchboard takes
POLL_S = 0.02
_local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


@contextlib.asynccontextmanager
async def exclusive(engine: AsyncEngine, name: str, timeout_s: float = 30.0) -> AsyncIterator[None]:
    if engine.dialect.name == "postgresql":
        async with _advisory(engine, name, timeout_s):
            yield
        return
    lock = _local.get(name)
    if lock is None:
        lock = _local[name] = asyncio.Lock()
    try:
        async with asyncio.timeout(timeout_s):
            await lock.acquire()
    except TimeoutError:
        raise Unavailable(f"{name} is busy; try again", retry_after=1.0) from None
    try:
        path = engine.url.database
        if not path or path == ":memory:":
            yield
            return
        async with _flock(Path(f"{path}.locks"), name, timeout_s):
            yield
    finally:
        lock.release()


@contextlib.asynccontextmanager
async def _advisory(engine: AsyncEngine, name: str, timeout_s: float) -> AsyncIterator[None]:
    async with engine.connect() as conn, conn.begin():
        await conn.execute(text(f"SET LOCAL lock_timeout = '{int(timeout_s * 1000)}ms'"))
        try:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:ns, hashtext(:name))"),
                {"ns": NAMESPACE, "name": name},
            )
        except DBAPIError as err:
            if "lock timeout" not in str(err):
                raise
            raise Unavailable(f"{name} is busy; try again", retry_after=1.0) from None
        yield


@contextlib.asynccontextmanager
async def _flock(path: Path, name: str, timeout_s: float) -> AsyncIterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if asyncio.get_running_loop().time() > deadline:
                    raise Unavailable(f"{name} is busy; try again", retry_after=1.0) from None
                await asyncio.sleep(POLL_S)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
