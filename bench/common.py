"""Shared bits for the benchmarks: percentiles, throwaway databases, the closing JSON line."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from switchboard import db


def percentile(samples: Sequence[float], share: float) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(samples: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(samples, 0.50) * 1000, 3),
        "p99_ms": round(percentile(samples, 0.99) * 1000, 3),
        "mean_ms": round(statistics.fmean(samples) * 1000, 3) if samples else 0.0,
    }


def print_result(rows: list[dict[str, Any]]) -> None:
    """Every benchmark ends with one JSON list on its last line."""
    print(json.dumps(rows, ensure_ascii=False))


@asynccontextmanager
async def sqlite_database() -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        engine = db.create_engine(url)
        await db.upgrade(engine)
        await engine.dispose()
        yield url


def postgres_base() -> str | None:
    return os.environ.get("SWITCHBOARD_TEST_DATABASE_URL")


@asynccontextmanager
async def postgres_database(base: str) -> AsyncIterator[str]:
    name = f"sb_bench_{uuid.uuid4().hex[:8]}"
    admin = db.create_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        engine = db.create_engine(url)
        await db.upgrade(engine)
        await engine.dispose()
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
