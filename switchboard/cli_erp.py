"""``switchboard erp``: the builtin adapter's data.

- ``switchboard erp import FILE.csv|FILE.xlsx [--kind KIND]`` loads warehouses, parts,
  stock, orders, order lines, shipments or serial numbers (see ``erp.importer`` for the
  columns), showing a progress bar on a terminal; a bad cell stops it with the file, line
  and column, and nothing of that file is kept.
- ``switchboard erp demo`` loads the demo appliance catalogue (``switchboard demo`` does it
  too).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from erp.demo import seed_erp_demo
from erp.importer import ImportFailed, Table, load_tables, read_file
from switchboard import db
from switchboard.clock import utc_now
from switchboard.settings import Settings

Common = Callable[[argparse.ArgumentParser], None]


class ErpCliError(Exception):
    pass


def add_parser(sub: Any, common: Common) -> None:
    p = sub.add_parser("erp", help="the builtin ERP's data: import files, the demo catalogue")
    esub = p.add_subparsers(dest="erp_command", required=True, metavar="SUBCOMMAND")
    q = esub.add_parser("import", help="load a .csv or .xlsx file into the builtin ERP")
    q.add_argument("file", type=Path)
    q.add_argument(
        "--kind", help="warehouses, parts, stock, orders, order_lines, shipments, serials"
    )
    common(q)
    q.set_defaults(run=cmd_import)
    q = esub.add_parser("demo", help="load the demo appliance catalogue (once)")
    common(q)
    q.set_defaults(run=cmd_demo)


class ProgressBar:
    """``[#####.....] 512/1024`` on a terminal, redrawn at most ten times a second."""

    def __init__(self, out: TextIO, label: str, width: int = 30) -> None:
        self.out, self.label, self.width = out, label, width
        self.shown = 0.0
        self.live = out.isatty()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.live or (done < total and now - self.shown < 0.1):
            return
        self.shown = now
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        self.out.write(f"\r{self.label} [{bar}] {done}/{total}")
        if done >= total:
            self.out.write("\n")
        self.out.flush()


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.load(**({"database_url": args.database_url} if args.database_url else {}))


def _read(path: Path, kind: str | None) -> list[Table]:
    if not path.is_file():
        raise ErpCliError(f"{path}: no such file")
    try:
        return read_file(path, kind)
    except ImportFailed as err:
        raise ErpCliError(f"{err}; nothing was imported") from err


async def import_file(
    settings: Settings, path: Path, kind: str | None, progress: ProgressBar | None = None
) -> dict[str, int]:
    tables = await asyncio.to_thread(_read, path, kind)
    engine = db.create_engine(settings.database_url)
    try:
        if await db.pending_migrations(engine):
            raise ErpCliError(
                "the database is not at the latest migration; run `switchboard db upgrade`"
            )
        async with db.transaction(db.session_factory(engine)) as session:
            return await load_tables(session, tables, progress)
    except ImportFailed as err:
        raise ErpCliError(f"{err}; nothing was imported") from err
    finally:
        await engine.dispose()


async def cmd_import(args: argparse.Namespace) -> None:
    counts = await import_file(
        _settings(args), args.file, args.kind, ProgressBar(sys.stderr, args.file.name)
    )
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "no rows"
    print(f"imported {summary} from {args.file.name}")


def demo_settings(settings: Settings) -> Settings:
    """The demo's Orders queue answers order questions automatically (unless configured)."""
    if settings.erp_self_service is None:
        return dataclasses.replace(settings, erp_self_service="Orders=auto")
    return settings


async def seed_demo_catalogue(settings: Settings) -> bool:
    engine = db.create_engine(settings.database_url)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            return await seed_erp_demo(session, utc_now().date())
    finally:
        await engine.dispose()


async def cmd_demo(args: argparse.Namespace) -> None:
    created = await seed_demo_catalogue(_settings(args))
    print("demo catalogue " + ("loaded" if created else "already present"))
