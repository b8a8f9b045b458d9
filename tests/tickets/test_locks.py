"""``Desk.exclusive``'s named locks hold across processes: on SQLite another process
holding the lock file makes us wait for it (and give up with ``Unavailable`` after the
timeout); on PostgreSQL another connection holding the advisory lock does the same."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from switchboard import db
from tickets import Unavailable, locks

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[3]))
open(sys.argv[2], "w").write("released")
fcntl.flock(fd, fcntl.LOCK_UN)
"""


async def test_sqlite_waits_for_another_process_then_times_out(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = db.create_engine(sqlite_url)
    lock_file = f"{make_url(sqlite_url).database}.locks"
    marker = tmp_path / "released"
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER,
        lock_file,
        str(marker),
        "0.5",
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert (await holder.stdout.readline()).strip() == b"held"
    async with locks.exclusive(engine, "erp-reservation:SB-1"):
        assert marker.exists(), "entered while the other process held the lock"
    await holder.wait()

    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, lock_file, str(marker), "5", stdout=subprocess.PIPE
    )
    assert holder.stdout is not None
    await holder.stdout.readline()
    with pytest.raises(Unavailable, match="busy"):
        async with locks.exclusive(engine, "erp-reservation:SB-1", timeout_s=0.3):
            pass
    holder.kill()
    await holder.wait()
    await engine.dispose()


async def test_postgres_advisory_lock_excludes_another_connection(pg_url: str) -> None:
    ours, theirs = db.create_engine(pg_url), db.create_engine(pg_url)
    try:
        async with theirs.connect() as conn, conn.begin():
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:ns, hashtext(:name))"),
                {"ns": locks.NAMESPACE, "name": "erp-reservation:SB-2"},
            )
            with pytest.raises(Unavailable, match="busy"):
                async with locks.exclusive(ours, "erp-reservation:SB-2", timeout_s=0.3):
                    pass
            async with locks.exclusive(ours, "erp-reservation:SB-3", timeout_s=0.3):
                pass  # another name is free
        async with locks.exclusive(ours, "erp-reservation:SB-2", timeout_s=0.3):
            pass  # released with their transaction
    finally:
        await ours.dispose()
        await theirs.dispose()
