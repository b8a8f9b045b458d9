"""Staff administration through the ``switchboard`` command: passwords never on the
command line, the default queue of a fresh install, token listing, last use and
revocation (checked against the REST API), deactivation, and the ``StaffChanged`` events
every process needs to see staff changes without a restart."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import sys
from datetime import timedelta
from typing import Any

from sqlalchemy import select as sql_select

import tickets
from switchboard import db
from switchboard.app import create_app
from switchboard.seed import seed_demo
from tests.conftest import Stack
from tests.helpers import T0, Clock, auth
from tests.switchboard.test_cli import run
from tickets.models import EventRecord, Queue, QueueMember, User


def _in_terminal(args: list[str], env: dict[str, str], answers: list[str]) -> tuple[int, str]:
    """Runs the command on a pseudo-terminal, typing each answer after each prompt."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the command
        os.execve(sys.executable, [sys.executable, "-m", "switchboard.cli", *args], env)
    output, pending, prompts = b"", list(answers), 0
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 60)
            if not ready:
                raise AssertionError(f"no output from the command: {output!r}")
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if output.count(b"password") > prompts and pending:
                prompts += 1
                os.write(fd, pending.pop(0).encode() + b"\n")
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


async def _staff_by_password(url: str, email: str, password: str) -> tickets.StaffUser | None:
    engine = db.create_engine(url)
    try:
        async with db.session_factory(engine)() as session:
            return await tickets.staff_for_password(session, email, password)
    finally:
        await engine.dispose()


async def _read(url: str, statement: Any) -> list[Any]:
    engine = db.create_engine(url)
    try:
        async with db.session_factory(engine)() as session:
            return list((await session.execute(statement)).all())
    finally:
        await engine.dispose()


async def test_password_comes_from_stdin_never_the_command_line(sqlite_url: str) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": sqlite_url}
    code, _, err = await run(
        "user", "add", "a@example.com", "--role", "agent", "--password", "pw", env=env
    )
    assert code == 2 and "--password was removed" in err
    code, _, err = await run("user", "add", "a@example.com", "--role", "agent", env=env)
    assert code == 2 and "no password given" in err and "--no-password" in err

    code, _, err = await run(
        "user", "add", "a@example.com", "--role", "agent", env=env, stdin="s3cret pass\n"
    )
    assert code == 0, err
    assert await _staff_by_password(sqlite_url, "a@example.com", "s3cret pass")
    assert not await _staff_by_password(sqlite_url, "a@example.com", "s3cret pass\n")

    code, _, err = await run(
        "user", "add", "bot@example.com", "--role", "agent", "--no-password", env=env
    )
    assert code == 0, err
    assert not await _staff_by_password(sqlite_url, "bot@example.com", "")


async def test_password_is_asked_twice_on_a_terminal(sqlite_url: str) -> None:
    env = {**os.environ, "SWITCHBOARD_DATABASE_URL": sqlite_url}
    args = ["user", "add", "tty@example.com", "--role", "supervisor"]
    code, out = await asyncio.to_thread(_in_terminal, args, env, ["one", "two"])
    assert code == 2 and "passwords differ" in out
    code, out = await asyncio.to_thread(_in_terminal, args, env, ["typed pw", "typed pw"])
    assert code == 0, out
    assert out.count("password") >= 2 and "typed pw" not in out  # no echo
    assert await _staff_by_password(sqlite_url, "tty@example.com", "typed pw")


async def _memberships(url: str) -> dict[str, set[str]]:
    rows = await _read(
        url,
        sql_select(User.email, Queue.name)
        .join(QueueMember, QueueMember.user_id == User.id)
        .join(Queue, Queue.id == QueueMember.queue_id),
    )
    out: dict[str, set[str]] = {}
    for email, queue in rows:
        out.setdefault(email, set()).add(queue)
    return out


async def test_fresh_install_has_a_default_queue_for_new_staff(sqlite_url: str) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": sqlite_url}
    for _ in range(2):
        code, _, err = await run("db", "upgrade", env=env)
        assert code == 0, err
    assert [r[0] for r in await _read(sqlite_url, sql_select(Queue.name))] == ["General"]
    code, _, err = await run(
        "user", "add", "first@example.com", "--role", "agent", "--no-password", env=env
    )
    assert code == 0, err
    code, _, err = await run(
        "user",
        "add",
        "sales@example.com",
        "--role",
        "agent",
        "--no-password",
        "--queue",
        "Sales",
        env=env,
    )
    assert code == 0, err
    assert await _memberships(sqlite_url) == {
        "first@example.com": {"General"},
        "sales@example.com": {"Sales"},
    }


async def test_the_routing_default_queue_wins_over_general(sqlite_url: str) -> None:
    engine = db.create_engine(sqlite_url)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            await seed_demo(session, T0)  # Repairs is the routing default
    finally:
        await engine.dispose()
    env = {"SWITCHBOARD_DATABASE_URL": sqlite_url}
    assert (await run("db", "upgrade", env=env))[0] == 0
    code, _, err = await run(
        "user", "add", "new@example.com", "--role", "agent", "--no-password", env=env
    )
    assert code == 0, err
    assert (await _memberships(sqlite_url))["new@example.com"] == {"Repairs"}
    names = {r[0] for r in await _read(sqlite_url, sql_select(Queue.name))}
    assert "General" not in names


async def test_staff_changes_are_events_and_deactivation_locks_out_at_once(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": stack.database_url}
    code, _, err = await run(
        "user",
        "add",
        "ev@example.com",
        "--role",
        "agent",
        "--queue",
        "Night",
        env=env,
        stdin="pw\n",
    )
    assert code == 0, err
    token = await _make_token(stack.database_url, "ev@example.com")
    client = await aiohttp_client(create_app(stack.settings(), redis_prefix=redis_prefix))
    assert (await client.get("/api/v1/tickets", headers=auth(token))).status == 200

    code, out, err = await run("user", "deactivate", "ev@example.com", env=env)
    assert code == 0 and "deactivated" in out, err
    assert (await client.get("/api/v1/tickets", headers=auth(token))).status == 401
    assert not await _staff_by_password(stack.database_url, "ev@example.com", "pw")

    [(user_id,)] = await _read(
        stack.database_url, sql_select(User.id).where(User.email == "ev@example.com")
    )
    [(queue_id,)] = await _read(
        stack.database_url, sql_select(Queue.id).where(Queue.name == "Night")
    )
    rows = await _read(
        stack.database_url,
        sql_select(EventRecord.payload)
        .where(EventRecord.type == "StaffChanged")
        .order_by(EventRecord.id),
    )
    assert [(p["user_id"], p["queue_id"], p["what"]) for (p,) in rows] == [
        (user_id, None, "user.created"),
        (None, queue_id, "queue.created"),
        (user_id, queue_id, "queue.members"),
        (user_id, None, "user.deactivated"),
    ]


async def _make_token(url: str, email: str, label: str = "") -> str:
    engine = db.create_engine(url)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            if label:
                await tickets.create_user(session, email, tickets.Role.SUPERVISOR, T0)
            return await tickets.create_token(session, email, T0, label=label)
    finally:
        await engine.dispose()


async def _last_used(url: str, email: str) -> list[Any]:
    engine = db.create_engine(url)
    try:
        async with db.session_factory(engine)() as session:
            return [t.last_used_at for t in await tickets.list_tokens(session, email)]
    finally:
        await engine.dispose()


async def test_tokens_are_listed_stamped_once_a_minute_and_revoked(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": stack.database_url}
    token = await _make_token(stack.database_url, "ci@example.com", label="deploy bot")
    clock = Clock()
    client = await aiohttp_client(
        create_app(stack.settings(), clock=clock, redis_prefix=redis_prefix)
    )

    async def call() -> int:
        response = await client.get("/api/v1/tickets", headers=auth(token))
        return int(response.status)

    assert await _last_used(stack.database_url, "ci@example.com") == [None]
    assert await call() == 200
    assert await _last_used(stack.database_url, "ci@example.com") == [T0]
    clock.advance(30)
    assert await call() == 200
    assert await _last_used(stack.database_url, "ci@example.com") == [T0]  # within the minute
    clock.advance(31)
    assert await call() == 200
    stamped = T0 + timedelta(seconds=61)
    assert await _last_used(stack.database_url, "ci@example.com") == [stamped]

    code, out, err = await run("token", "list", "ci@example.com", env=env)
    assert code == 0, err
    assert token not in out and token[3:12] not in out  # never the secret
    header, row = out.strip().splitlines()
    assert header.split() == ["ID", "CREATED", "LAST", "USED", "LABEL"]
    token_id = row.split()[0]
    assert row.endswith("deploy bot") and stamped.strftime("%Y-%m-%d %H:%M:%S UTC") in row

    code, out, err = await run("token", "revoke", token_id, env=env)
    assert code == 0 and f"token {token_id} revoked" in out, err
    assert await call() == 401
    code, out, _ = await run("token", "list", "ci@example.com", env=env)
    assert code == 0 and "no tokens" in out
    code, _, err = await run("token", "revoke", token_id, env=env)
    assert code == 2 and f"no token {token_id}" in err
