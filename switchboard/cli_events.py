"""``switchboard events``: the durable events consumers gave up on.

- ``switchboard events dead`` lists dead letters (id, consumer group, event type and id,
  attempts, when, the last error), oldest first; ``--all`` includes retried ones.
- ``switchboard events retry ID`` hands one back to its consumer group (through the event
  outbox, so the relay of a running worker delivers it) and marks it retried.
- ``switchboard events pending`` tells how many events wait for the relay.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from switchboard import db
from switchboard.clock import utc_now
from switchboard.settings import Settings
from tickets import dead_letters, event_backlog, retry_dead_letter

Common = Callable[[argparse.ArgumentParser], None]


class EventsError(Exception):
    pass


def add_parser(sub: Any, common: Common) -> None:
    p = sub.add_parser("events", help="durable events: dead letters and the relay backlog")
    esub = p.add_subparsers(dest="events_command", required=True, metavar="SUBCOMMAND")
    q = esub.add_parser("dead", help="list events a consumer group gave up on")
    q.add_argument("--all", action="store_true", help="include dead letters already retried")
    q.add_argument("--json", action="store_true", help="one JSON object per line")
    common(q)
    q.set_defaults(run=cmd_dead)
    q = esub.add_parser("retry", help="hand a dead letter back to its consumer group")
    q.add_argument("id", type=int)
    common(q)
    q.set_defaults(run=cmd_retry)
    q = esub.add_parser("pending", help="how many events wait for the relay")
    common(q)
    q.set_defaults(run=cmd_pending)


async def _session(args: argparse.Namespace, work: Callable[[AsyncSession], Awaitable[str]]) -> str:
    overrides = {"database_url": args.database_url} if args.database_url else {}
    settings = Settings.load(**overrides)
    engine = db.create_engine(settings.database_url)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()


async def cmd_dead(args: argparse.Namespace) -> None:
    async def work(session: AsyncSession) -> str:
        found = await dead_letters(session, include_retried=args.all)
        if args.json:
            return "\n".join(
                json.dumps(
                    {
                        "id": d.id,
                        "group": d.consumer_group,
                        "event_id": d.event_id,
                        "type": d.type,
                        "attempts": d.attempts,
                        "created_at": d.created_at.isoformat(),
                        "retried_at": d.retried_at.isoformat() if d.retried_at else None,
                        "error": d.error,
                        "event": d.payload,
                    },
                    ensure_ascii=False,
                )
                for d in found
            )
        if not found:
            return "no dead letters"
        lines = [f"{'ID':>6}  {'GROUP':<14} {'EVENT':<24} {'TRIES':>5}  {'WHEN':<19}  ERROR"]
        for d in found:
            error = " ".join(d.error.split())[:100]
            retried = " (retried)" if d.retried_at else ""
            lines.append(
                f"{d.id:>6}  {d.consumer_group:<14} {d.type + ' ' + d.event_id:<24} "
                f"{d.attempts:>5}  {d.created_at:%Y-%m-%d %H:%M:%S}  {error}{retried}"
            )
        return "\n".join(lines)

    out = await _session(args, work)
    if out:
        print(out)


async def cmd_retry(args: argparse.Namespace) -> None:
    async def work(session: AsyncSession) -> str:
        found = await retry_dead_letter(session, args.id, utc_now())
        if found is None:
            raise EventsError(f"no dead letter {args.id} waiting for a retry")
        return f"dead letter {found.id} ({found.type}) handed back to {found.consumer_group}"

    print(await _session(args, work))


async def cmd_pending(args: argparse.Namespace) -> None:
    async def work(session: AsyncSession) -> str:
        return f"{await event_backlog(session)} event(s) wait for the relay"

    print(await _session(args, work))
