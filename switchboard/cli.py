"""The ``switchboard`` command: serve, worker, demo, db upgrade, user add/deactivate,
token add/list/revoke.

Failures a user can cause (bad URL, port in use, database not migrated, unknown user)
end with one ``error: ...`` line and exit status 2, never a traceback; URL passwords in
it are shown as ``***``.

Passwords never appear on the command line (where ``ps`` and shell history would keep
them): ``user add`` asks twice on a terminal and otherwise reads one line from stdin
(``printf '%s\\n' "$PW" | switchboard user add ...``); ``--no-password`` makes a user that
only works through API tokens. ``db upgrade`` makes the queue ``General`` when no queue is
the routing default, and ``user add`` without ``--queue`` puts the user in the default
queue, so a fresh install routes its first chat to its first agent."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import getpass
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

import knowledge
import tickets
from routing.models import QueueRouting
from switchboard import cli_erp, cli_events, cli_kb, cli_telegram, cli_voice, db, logs
from switchboard.app import (
    MigrationsPending,
    build_runtime,
    create_app,
    start_runtime,
    stop_runtime,
)
from switchboard.clock import utc_now
from switchboard.seed import DEMO_PASSWORD, DEMO_USERS, seed_demo
from switchboard.settings import Settings, SettingsError, redact
from tickets import Role, TicketError

log = logging.getLogger("switchboard")
T = TypeVar("T")


class CliError(Exception):
    pass


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    if getattr(args, "telegram_polling", False):
        overrides["telegram_polling"] = True
    return Settings.load(**overrides)


async def _serve(settings: Settings, *, workers: bool) -> None:
    app = create_app(settings, workers=workers)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise CliError(
                    f"cannot listen on {settings.host}:{settings.port}: the port is in use"
                ) from err
            raise CliError(
                f"cannot listen on {settings.host}:{settings.port}: {err.strerror}"
            ) from err
        log.info(
            "serving on http://%s:%s (sign in: /, chat: /chat, API: /api/v1)",
            settings.host,
            settings.port,
        )
        await _until_signalled()
    finally:
        await runner.cleanup()


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")


async def cmd_serve(args: argparse.Namespace) -> None:
    await _serve(_settings(args), workers=not args.no_workers)


async def cmd_worker(args: argparse.Namespace) -> None:
    settings = _settings(args)
    if settings.telegram_polling and not settings.telegram_bot_token:
        raise CliError("--telegram-polling needs SWITCHBOARD_TELEGRAM_BOT_TOKEN")
    runtime = await build_runtime(settings)
    if runtime.email is not None:  # the SMTP receiver listens in `serve` processes only
        runtime.email.listen = None
    await start_runtime(runtime, workers=True)
    try:
        await _until_signalled()
    finally:
        await stop_runtime(runtime)


async def cmd_demo(args: argparse.Namespace) -> None:
    settings = cli_erp.demo_settings(_settings(args))
    await _upgrade(settings)
    engine = db.create_engine(settings.database_url)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            created = await seed_demo(session, utc_now())
            await knowledge.seed_articles(session, utc_now())
    finally:
        await engine.dispose()
    log.info("demo data %s", "created" if created else "already present (reused)")
    if await cli_erp.seed_demo_catalogue(settings):
        log.info("demo ERP catalogue loaded (orders SO-2291.., parts, serials)")
    for user in DEMO_USERS:
        log.info(
            "demo login: %-24s role=%-10s password=%s", user.email, user.role.value, DEMO_PASSWORD
        )
    log.info("sign in (agents, supervisors): http://%s:%s/", settings.host, settings.port)
    log.info("customer chat: http://%s:%s/chat", settings.host, settings.port)
    await _serve(settings, workers=True)


async def _upgrade(settings: Settings) -> None:
    engine = db.create_engine(settings.database_url)
    try:
        await db.upgrade(engine)
    finally:
        await engine.dispose()


async def default_queue_id(session: AsyncSession, now: datetime) -> int:
    """The routing default queue (``queue_routing.is_default``, first by position), else
    ``General``, made when missing."""
    found = (
        await session.execute(
            select(QueueRouting.queue_id)
            .where(QueueRouting.is_default.is_(True))
            .order_by(QueueRouting.position, QueueRouting.queue_id)
            .limit(1)
        )
    ).scalar()
    if found is not None:
        return found
    return await tickets.ensure_queue(
        session, tickets.DEFAULT_QUEUE, "Everything no other queue takes", now=now
    )


async def cmd_db_upgrade(args: argparse.Namespace) -> None:
    settings = _settings(args)
    await _upgrade(settings)
    await _with_session(settings, lambda s: default_queue_id(s, utc_now()))
    print(f"database is at the latest migration ({settings.backend})")


async def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = db.create_engine(settings.database_url)
    try:
        if await db.pending_migrations(engine):
            raise MigrationsPending(
                "the database is not at the latest migration; run `switchboard db upgrade`"
            )
        async with db.transaction(db.session_factory(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()


def read_password(*, interactive: bool) -> str:
    """Twice with getpass on a terminal; otherwise the first line of stdin."""
    if interactive:
        first = getpass.getpass("password: ")
        if first != getpass.getpass("password (again): "):
            raise CliError("the passwords differ")
    else:
        first = sys.stdin.readline().rstrip("\r\n")
    if not first:
        raise CliError(
            "no password given (type it at the prompt or pipe one line on stdin; "
            "--no-password makes a token-only user)"
        )
    return first


async def cmd_user_add(args: argparse.Namespace) -> None:
    if args.password is not None:
        raise CliError(
            "--password was removed (command lines are visible to other users and kept in "
            "shell history): type the password at the prompt or pipe it on stdin"
        )
    password = (
        None
        if args.no_password
        else await asyncio.to_thread(read_password, interactive=sys.stdin.isatty())
    )

    async def work(session: AsyncSession) -> str:
        now = utc_now()
        user_id = await tickets.create_user(
            session,
            args.email,
            Role(args.role),
            now,
            name=args.name,
            password=password,
            languages=args.language or [],
        )
        if args.queue:
            queue_ids = [await tickets.ensure_queue(session, q, now=now) for q in args.queue]
        else:
            queue_ids = [await default_queue_id(session, now)]
        for queue_id in queue_ids:
            await tickets.add_queue_member(session, queue_id, user_id, now=now)
        return f"user {args.email.strip().lower()} added as {args.role}"

    print(await _with_session(_settings(args), work))


async def cmd_user_deactivate(args: argparse.Namespace) -> None:
    await _with_session(
        _settings(args), lambda s: tickets.deactivate_user(s, args.email, utc_now())
    )
    print(f"user {args.email.strip().lower()} deactivated (tokens and password no longer work)")


async def cmd_token_add(args: argparse.Namespace) -> None:
    token = await _with_session(
        _settings(args),
        lambda s: tickets.create_token(s, args.email, utc_now(), label=args.label or ""),
    )
    print(f"token for {args.email.lower()} (shown once; store it safely):")
    print(token)


def _when(at: datetime | None) -> str:
    return "never" if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


async def cmd_token_list(args: argparse.Namespace) -> None:
    found = await _with_session(_settings(args), lambda s: tickets.list_tokens(s, args.email))
    if not found:
        print(f"no tokens for {args.email.strip().lower()}")
        return
    print(f"{'ID':>6}  {'CREATED':<23}  {'LAST USED':<23}  LABEL")
    for t in found:
        print(f"{t.id:>6}  {_when(t.created_at):<23}  {_when(t.last_used_at):<23}  {t.label}")


async def cmd_token_revoke(args: argparse.Namespace) -> None:
    await _with_session(_settings(args), lambda s: tickets.revoke_token(s, args.id, utc_now()))
    print(f"token {args.id} revoked")


async def cmd_session_list(args: argparse.Namespace) -> None:
    async def work(session: AsyncSession) -> list[tickets.WebSession]:
        user_id = await tickets.user_id_by_email(session, args.email)
        return await tickets.sessions_of(session, user_id, utc_now())

    found = await _with_session(_settings(args), work)
    if not found:
        print(f"no web sessions for {args.email.strip().lower()}")
        return
    print(f"{'ID':>6}  {'SIGNED IN':<23}  {'LAST SEEN':<23}  FROM")
    for w in found:
        print(f"{w.id:>6}  {_when(w.created_at):<23}  {_when(w.last_seen_at):<23}  {w.address}")


async def cmd_session_end(args: argparse.Namespace) -> None:
    ended = await _with_session(
        _settings(args),
        lambda s: tickets.end_session(s, args.id, tickets.Actor.system("cli"), utc_now()),
    )
    if not ended:
        raise tickets.NotFound(f"no web session {args.id}")
    print(f"web session {args.id} ended")


async def cmd_session_end_all(args: argparse.Namespace) -> None:
    async def work(session: AsyncSession) -> int:
        user_id = await tickets.user_id_by_email(session, args.email)
        return await tickets.end_sessions_of(
            session, user_id, tickets.Actor.system("cli"), utc_now()
        )

    ended = await _with_session(_settings(args), work)
    print(f"{ended} web session(s) of {args.email.strip().lower()} ended")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchboard", description="Switchboard contact center")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser, http: bool = False) -> None:
        p.add_argument("--database-url", help="overrides SWITCHBOARD_DATABASE_URL")
        if http:
            p.add_argument("--host", help="overrides SWITCHBOARD_HOST")
            p.add_argument("--port", type=int, help="overrides SWITCHBOARD_PORT")

    p = sub.add_parser("serve", help="serve the web app, API, chat and webhooks")
    common(p, http=True)
    p.add_argument(
        "--no-workers",
        action="store_true",
        help="leave the outbox and timers to `switchboard worker`",
    )
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser("worker", help="run the background workers (outbox, timers) without HTTP")
    common(p)
    p.add_argument(
        "--telegram-polling",
        action="store_true",
        help="also long-poll Telegram for updates (no public URL needed; no webhook set)",
    )
    p.set_defaults(run=cmd_worker)

    p = sub.add_parser(
        "demo", help="migrate, seed a demo company and serve everything in one process"
    )
    common(p, http=True)
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("db", help="database commands")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="SUBCOMMAND")
    q = dbsub.add_parser("upgrade", help="migrate the database to the latest schema")
    common(q)
    q.set_defaults(run=cmd_db_upgrade)

    p = sub.add_parser("user", help="staff users")
    usub = p.add_subparsers(dest="user_command", required=True, metavar="SUBCOMMAND")
    q = usub.add_parser("add", help="add a staff user")
    q.add_argument("email")
    q.add_argument("--role", required=True, choices=[r.value for r in Role])
    q.add_argument(
        "--no-password",
        action="store_true",
        help="no web login, API tokens only (otherwise the password is prompted for, "
        "or read as one line from stdin)",
    )
    q.add_argument("--password", help=argparse.SUPPRESS)
    q.add_argument("--name", help="display name (default: the part before @)")
    q.add_argument("--language", action="append", help="a language the user speaks (repeatable)")
    q.add_argument(
        "--queue",
        action="append",
        help="a queue the user works (repeatable; made if missing; default: the default queue)",
    )
    common(q)
    q.set_defaults(run=cmd_user_add)
    q = usub.add_parser("deactivate", help="sign a user out for good and take them off routing")
    q.add_argument("email")
    common(q)
    q.set_defaults(run=cmd_user_deactivate)

    p = sub.add_parser("token", help="API tokens")
    tsub = p.add_subparsers(dest="token_command", required=True, metavar="SUBCOMMAND")
    q = tsub.add_parser(
        "add", help="make an API token for a user; prints it alone on the last line"
    )
    q.add_argument("email")
    q.add_argument("--label", help="what the token is for")
    common(q)
    q.set_defaults(run=cmd_token_add)
    cli_events.add_parser(sub, common)
    cli_kb.add_parser(sub, common)
    cli_erp.add_parser(sub, common)
    cli_telegram.add_parser(sub, common)
    q = tsub.add_parser("list", help="a user's tokens: id, created, last used, label (no secrets)")
    q.add_argument("email")
    common(q)
    q.set_defaults(run=cmd_token_list)
    q = tsub.add_parser("revoke", help="revoke a token by its id (see `token list`); at once")
    q.add_argument("id", type=int)
    common(q)
    q.set_defaults(run=cmd_token_revoke)

    p = sub.add_parser("session", help="web sign-in sessions (end one at once)")
    ssub = p.add_subparsers(dest="session_command", required=True, metavar="SUBCOMMAND")
    q = ssub.add_parser("list", help="a user's web sessions: id, signed in, last seen, from")
    q.add_argument("email")
    common(q)
    q.set_defaults(run=cmd_session_list)
    q = ssub.add_parser("end", help="end one web session by its id; the browser is out at once")
    q.add_argument("id", type=int)
    common(q)
    q.set_defaults(run=cmd_session_end)
    q = ssub.add_parser("end-all", help="end every web session of a user")
    q.add_argument("email")
    common(q)
    q.set_defaults(run=cmd_session_end_all)
    cli_voice.add_parser(sub, common)
    return parser


def _explain(err: BaseException) -> str | None:
    if isinstance(
        err,
        CliError
        | SettingsError
        | MigrationsPending
        | TicketError
        | cli_events.EventsError
        | cli_kb.KbError
        | cli_erp.ErpCliError
        | cli_voice.VoiceCliError
        | cli_telegram.TelegramCliError,
    ):
        return str(err)
    if (isinstance(err, OperationalError | ProgrammingError) and "no such table" in str(err)) or (
        isinstance(err, ProgrammingError) and "does not exist" in str(err)
    ):
        return "the database has no schema yet; run `switchboard db upgrade`"
    if isinstance(err, DBAPIError | OSError | ConnectionError):
        return f"cannot use the database: {str(getattr(err, 'orig', err) or err).splitlines()[0]}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings_level = Settings.load()
    except SettingsError as err:
        print(f"error: {redact(str(err))}", file=sys.stderr)
        return 2
    logs.configure(settings_level.log_level, settings_level.log_format)
    try:
        asyncio.run(args.run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as err:
        message = _explain(err)
        if message is None:
            raise
        print(f"error: {redact(message)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
