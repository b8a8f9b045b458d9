"""The ``switchboard`` command: serve, worker, demo, db upgrade, user add, token add.

Failures a user can cause (bad URL, port in use, database not migrated, unknown user)
end with one ``error: ...`` line and exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

import tickets
from switchboard import cli_events, db, logs
from switchboard.app import (
    MigrationsPending,
    build_runtime,
    create_app,
    start_runtime,
    stop_runtime,
)
from switchboard.clock import utc_now
from switchboard.seed import DEMO_PASSWORD, DEMO_USERS, seed_demo
from switchboard.settings import Settings, SettingsError
from tickets import Role, TicketError

log = logging.getLogger("switchboard")


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
            "serving on http://%s:%s (chat: /chat, API: /api/v1)", settings.host, settings.port
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
    runtime = await build_runtime(settings)
    await start_runtime(runtime, workers=True)
    try:
        await _until_signalled()
    finally:
        await stop_runtime(runtime)


async def cmd_demo(args: argparse.Namespace) -> None:
    settings = _settings(args)
    await _upgrade(settings)
    engine = db.create_engine(settings.database_url)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            created = await seed_demo(session, utc_now())
    finally:
        await engine.dispose()
    log.info("demo data %s", "created" if created else "already present (reused)")
    for user in DEMO_USERS:
        log.info(
            "demo login: %-24s role=%-10s password=%s", user.email, user.role.value, DEMO_PASSWORD
        )
    log.info("customer chat: http://%s:%s/chat", settings.host, settings.port)
    await _serve(settings, workers=True)


async def _upgrade(settings: Settings) -> None:
    engine = db.create_engine(settings.database_url)
    try:
        await db.upgrade(engine)
    finally:
        await engine.dispose()


async def cmd_db_upgrade(args: argparse.Namespace) -> None:
    settings = _settings(args)
    await _upgrade(settings)
    print(f"database is at the latest migration ({settings.backend})")


async def _with_session(settings: Settings, work: Callable[..., Awaitable[str]]) -> str:
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


async def cmd_user_add(args: argparse.Namespace) -> None:
    async def work(session: object) -> str:
        await tickets.create_user(
            session,  # type: ignore[arg-type]
            args.email,
            Role(args.role),
            utc_now(),
            name=args.name,
            password=args.password,
            languages=args.language or [],
        )
        for queue in args.queue or []:
            from tickets.models import QueueMember

            user_id = await tickets.user_id_by_email(session, args.email)  # type: ignore[arg-type]
            queue_id = await tickets.ensure_queue(session, queue)  # type: ignore[arg-type]
            session.add(QueueMember(queue_id=queue_id, user_id=user_id))  # type: ignore[attr-defined]
        return f"user {args.email.lower()} added as {args.role}"

    print(await _with_session(_settings(args), work))


async def cmd_token_add(args: argparse.Namespace) -> None:
    async def work(session: object) -> str:
        return await tickets.create_token(session, args.email, utc_now(), label=args.label or "")  # type: ignore[arg-type]

    token = await _with_session(_settings(args), work)
    print(f"token for {args.email.lower()} (shown once; store it safely):")
    print(token)


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
        "--password", help="login password for the web app (optional for API-only users)"
    )
    q.add_argument("--name", help="display name (default: the part before @)")
    q.add_argument("--language", action="append", help="a language the user speaks (repeatable)")
    q.add_argument(
        "--queue", action="append", help="a queue the user works (repeatable; made if missing)"
    )
    common(q)
    q.set_defaults(run=cmd_user_add)

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
    return parser


def _explain(err: BaseException) -> str | None:
    if isinstance(
        err, CliError | SettingsError | MigrationsPending | TicketError | cli_events.EventsError
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
        print(f"error: {err}", file=sys.stderr)
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
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
