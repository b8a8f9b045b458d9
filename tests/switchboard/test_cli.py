"""The ``switchboard`` command as a user runs it: subprocesses, real exit codes, one-line
errors for the mistakes users make."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import aiohttp

from tests.conftest import Stack
from tests.helpers import eventually


async def run(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str = "",
) -> tuple[int, str, str]:
    """Runs the command with ``stdin`` piped in (never a terminal)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "switchboard.cli",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_user_and_token_on_a_migrated_database(stack: Stack) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": stack.database_url}
    code, out, err = await run(
        "user",
        "add",
        "Wang.Fang@Example.com",
        "--role",
        "agent",
        "--language",
        "zh",
        "--queue",
        "Repairs",
        env=env,
        stdin="pw\n",
    )
    assert code == 0, err
    assert "wang.fang@example.com" in out
    code, out, err = await run("token", "add", "wang.fang@example.com", env=env)
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    assert token.startswith("sb_") and " " not in token
    code, _, err = await run(
        "user", "add", "wang.fang@example.com", "--role", "agent", env=env, stdin="x\n"
    )
    assert code == 2 and err.startswith("error: ") and "already exists" in err
    code, _, err = await run("token", "add", "nobody@example.com", env=env)
    assert code == 2 and "no user" in err


async def test_clear_errors(tmp_path: Path) -> None:
    code, _, err = await run("db", "upgrade", env={"SWITCHBOARD_DATABASE_URL": "mysql://x"})
    assert code == 2 and err.strip().startswith("error: unsupported database URL")
    code, _, err = await run("db", "upgrade", env={"SWITCHBOARD_DATABASE_URL": "::nonsense::"})
    assert code == 2 and "bad database URL" in err and len(err.strip().splitlines()) == 1
    fresh = {"SWITCHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"}
    code, _, err = await run("serve", "--port", "0", env=fresh)
    assert code == 2 and "switchboard db upgrade" in err
    code, _, err = await run("token", "add", "a@b.c", env=fresh)
    assert code == 2 and "switchboard db upgrade" in err
    code, out, _ = await run("db", "upgrade", env=fresh)
    assert code == 0 and "latest migration" in out
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = await run("serve", "--port", str(port), env=fresh)
    assert code == 2 and "port is in use" in err


async def test_help_for_every_command() -> None:
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["worker", "--help"],
        ["demo", "--help"],
        ["db", "upgrade", "--help"],
        ["user", "add", "--help"],
        ["user", "deactivate", "--help"],
        ["token", "add", "--help"],
        ["token", "list", "--help"],
        ["token", "revoke", "--help"],
    ):
        code, out, _ = await run(*args)
        assert code == 0 and "usage: switchboard" in out


async def test_demo_seeds_once_and_serves_chat(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SWITCHBOARD_PORT": str(port)}
    env.pop("SWITCHBOARD_DATABASE_URL", None)
    for attempt in (1, 2):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "switchboard.cli",
            "demo",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with aiohttp.ClientSession() as http:

                async def up() -> bool:
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                            return r.status == 200
                    except aiohttp.ClientError:
                        return False

                await eventually(up, timeout=30, interval=0.2)
                async with http.get(f"http://127.0.0.1:{port}/chat") as r:
                    assert r.status == 200 and "<html" in await r.text()
        finally:
            proc.terminate()
            _out, err = await asyncio.wait_for(proc.communicate(), 30)
        log = err.decode()
        assert proc.returncode == 0, log
        assert ("demo data created" if attempt == 1 else "already present") in log
        assert "agent1@example.com" in log and "password=demo" in log
    assert (tmp_path / "switchboard.db").exists()
