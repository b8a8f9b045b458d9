"""``switchboard kb import DIR`` and ``switchboard kb export DIR``: the knowledge base
as a folder of Markdown files with YAML front matter (``knowledge.transfer``).

Import shows a progress bar on standard error when it is a terminal (and one line per
10% otherwise), prints the counts, names every bad file with its reason, and exits with
status 1 when a file was refused (the others are loaded: each file is its own
transaction)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import knowledge
from switchboard import db
from switchboard.clock import utc_now
from switchboard.settings import Settings

Common = Callable[[argparse.ArgumentParser], None]


class KbError(Exception):
    pass


def add_parser(sub: Any, common: Common) -> None:
    p = sub.add_parser("kb", help="knowledge base: import and export Markdown folders")
    ksub = p.add_subparsers(dest="kb_command", required=True, metavar="SUBCOMMAND")
    q = ksub.add_parser("import", help="load a folder of Markdown articles (by slug)")
    q.add_argument("dir", type=Path)
    common(q)
    q.set_defaults(run=cmd_import)
    q = ksub.add_parser("export", help="write every article to a folder as Markdown")
    q.add_argument("dir", type=Path)
    common(q)
    q.set_defaults(run=cmd_export)
    q = ksub.add_parser(
        "deflection", help="turn chat deflection (articles for a first message) on or off"
    )
    q.add_argument("queue", help="the queue's name")
    q.add_argument("state", choices=["on", "off"])
    common(q)
    q.set_defaults(run=cmd_deflection)


class ProgressBar:
    """A one-line bar on a terminal; otherwise a line every 10%."""

    def __init__(self, verb: str, stream: Any = None) -> None:
        self.verb = verb
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last_tenth = -1

    def __call__(self, done: int, total: int, name: str) -> None:
        if self.tty:
            filled = int(30 * done / total)
            bar = "#" * filled + "." * (30 - filled)
            end = "\n" if done == total else ""
            self.stream.write(f"\r{self.verb} [{bar}] {done}/{total} {name[:40]:<40}{end}")
            self.stream.flush()
            return
        tenth = 10 * done // total
        if tenth != self.last_tenth and total >= 20:
            self.last_tenth = tenth
            self.stream.write(f"{self.verb}: {done}/{total}\n")


def _engine(args: argparse.Namespace) -> Any:
    overrides = {"database_url": args.database_url} if args.database_url else {}
    return db.create_engine(Settings.load(**overrides).database_url)


async def cmd_import(args: argparse.Namespace) -> None:
    folder: Path = args.dir
    engine = _engine(args)
    sessions = db.session_factory(engine)

    @asynccontextmanager
    async def transaction() -> AsyncIterator[AsyncSession]:
        async with db.transaction(sessions) as session:
            yield session

    try:
        if await db.pending_migrations(engine):
            raise KbError(
                "the database is not at the latest migration; run `switchboard db upgrade`"
            )
        try:
            report = await knowledge.import_folder(
                folder, transaction, utc_now(), progress=ProgressBar("importing")
            )
        except knowledge.BadFile as err:
            raise KbError(str(err)) from None
    finally:
        await engine.dispose()
    print(
        f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.failed)} failed"
    )
    for bad in report.failed:
        print(f"error: {bad.path}: {bad.reason}", file=sys.stderr)
    if report.failed:
        raise SystemExit(1)


async def cmd_export(args: argparse.Namespace) -> None:
    engine = _engine(args)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            count = await knowledge.export_folder(
                session, args.dir, progress=ProgressBar("exporting")
            )
    finally:
        await engine.dispose()
    print(f"{count} article(s) written to {args.dir}")


async def cmd_deflection(args: argparse.Namespace) -> None:
    engine = _engine(args)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            queues = await knowledge.queue_names(session)
            if args.queue not in queues:
                known = ", ".join(sorted(queues)) or "none"
                raise KbError(f"no queue {args.queue!r} (queues: {known})")
            await knowledge.set_deflection(session, queues[args.queue], args.state == "on")
    finally:
        await engine.dispose()
    print(f"deflection {args.state} for queue {args.queue}")
