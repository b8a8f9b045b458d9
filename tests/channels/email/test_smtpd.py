"""The receiver's socket: several `serve` processes of one host share the SMTP port."""

from __future__ import annotations

import socket

import aiosmtplib

from channels.email.intake import EmailIntake
from channels.email.smtpd import parse_listen, serve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_two_receivers_share_one_port(intake: EmailIntake) -> None:
    port = free_port()
    first, first_commit = await serve(intake, "127.0.0.1", port, 1 << 20)
    second, second_commit = await serve(intake, "127.0.0.1", port, 1 << 20)
    try:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:
            code, _ = await client.noop()
        assert code == 250
    finally:
        for server in (first, second):
            server.close()
            await server.wait_closed()
        await first_commit.close()
        await second_commit.close()


def test_listen_setting() -> None:
    assert parse_listen("0.0.0.0:25") == ("0.0.0.0", 25)
    assert parse_listen("[::1]:2525") == ("::1", 2525)
