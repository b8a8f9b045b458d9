"""Log lines a client cannot forge, and malformed HTTP as one warning line: checked on the
stderr of a real ``switchboard serve``, with raw sockets for what no HTTP client sends."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from switchboard import logs
from tests.helpers import eventually

FORGED = "2026-01-01 00:00:00,000 ERROR switchboard: forged"


@dataclass
class Served:
    port: int
    proc: asyncio.subprocess.Process

    async def stop(self) -> list[str]:
        self.proc.terminate()
        _, err = await asyncio.wait_for(self.proc.communicate(), 30)
        return err.decode().splitlines()


@pytest.fixture
async def served(sqlite_url: str) -> AsyncIterator[Served]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SWITCHBOARD_DATABASE_URL": sqlite_url, "SWITCHBOARD_LOG_LEVEL": "INFO"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "switchboard.cli", "serve", "--port", str(port)),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    served = Served(port, proc)
    try:
        async with aiohttp.ClientSession() as http:

            async def up() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                        return r.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(up, timeout=60, interval=0.2)
        yield served
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()


async def test_a_request_path_cannot_start_a_log_line(served: Served) -> None:
    path = "/api/v1/tickets/SB-1%0a" + FORGED.replace(" ", "%20") + "%0d%1b[2J"
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{served.port}{path}") as response,
    ):
        assert response.status == 401
    lines = await served.stop()
    assert not [line for line in lines if line.startswith(FORGED[:10])], lines
    [logged] = [line for line in lines if "forged" in line]
    assert "GET /api/v1/tickets/SB-1\\n2026-01-01" in logged and "\\r\\x1b[2J" in logged
    assert "\x1b" not in "\n".join(lines)


async def test_malformed_http_is_one_warning_line(served: Served) -> None:
    too_long = b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 10_000 + b"\r\n\r\n"
    assert (await raw(served.port, too_long)).startswith(b"HTTP/1.0 400")
    assert (await raw(served.port, b"GE(T / HTTP/1.1\r\nHost: x\r\n\r\n")).startswith(
        b"HTTP/1.0 400"
    )
    lines = await served.stop()
    assert not [line for line in lines if "ERROR" in line or "Traceback" in line], lines
    bad = [line for line in lines if "bad HTTP request from 127.0.0.1" in line]
    assert len(bad) == 2, lines
    assert all(" WARNING aiohttp.server: " in line for line in bad)
    assert "Got more than 8190 bytes" in bad[0] and len(bad[0]) < 400
    assert "GE(T" in bad[1]


def _render(fmt: str, *args: object, exc: BaseException | None = None) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter() if fmt == "json" else logs.TextFormatter())
    logger = logging.getLogger(f"test.logs.{fmt}")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        if exc is None:
            logger.warning(*args)
        else:
            try:
                raise exc
            except BaseException:
                logger.exception(*args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_tracebacks_are_indented_and_json_lines_stay_one_line() -> None:
    text = _render("text", "failed for %s", "x", exc=ValueError("bad\n" + FORGED))
    first, *rest = text.rstrip("\n").split("\n")
    assert first.endswith("failed for x")
    assert rest and all(line.startswith("    ") for line in rest), text
    line = _render("json", "name %s", "a\nb\u2028c postgresql://u:hunter2@db/x")
    assert line.count("\n") == 1
    data = json.loads(line)
    assert data["msg"] == "name a\nb\u2028c postgresql://u:***@db/x"
