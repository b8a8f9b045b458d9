"""The outbound mail as built (headers that thread, token once, escaped HTML) and the
error classes the outbox acts on: no server is temporary, a 4xx is temporary, a 5xx at
DATA is permanent with the server's words."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.base import PermanentFailure, TemporaryFailure
from channels.email.sender import EmailSender, SmtpServer, subject_for
from tickets import Channel, OutboundMessage, ThreadHints


def outbound(**kw: object) -> OutboundMessage:
    values: dict[str, object] = {
        "message_id": 7,
        "ticket_number": "SB-1042",
        "channel": Channel.EMAIL,
        "recipient": "li@example.cn",
        "text": "您好 <b>不是标签</b>\n\n第二段",
        "html": None,
        "idempotency_key": "0123456789abcdef0123456789abcdef",
        "subject": "空调不制冷",
        "thread": ThreadHints(in_reply_to="<c2@x>", references=("<c1@x>",)),
        "author": "王芳 Wang Fang",
        "created_at": datetime(2026, 12, 1, tzinfo=UTC),
        "cc": ("wife@example.cn",),
        "reply_from": "orders@example.com",
    }
    values.update(kw)
    return OutboundMessage(**values)  # type: ignore[arg-type]


def test_subject_token_is_added_once() -> None:
    assert subject_for("空调不制冷", "SB-1042") == "Re: 空调不制冷 [#SB-1042]"
    assert subject_for("Re: x [#SB-1042]", "SB-1042") == "Re: x [#SB-1042]"
    assert subject_for("", "SB-1042") == "Re: SB-1042 [#SB-1042]"


async def test_built_mail_threads_and_escapes() -> None:
    sender = EmailSender(SmtpServer("127.0.0.1"), "service@example.com", "example.com")
    mail = await sender.build(outbound())
    assert mail["Message-ID"] == "<sb-0123456789abcdef0123456789abcdef@example.com>"
    assert mail["In-Reply-To"] == "<c2@x>" and mail["References"] == "<c1@x> <c2@x>"
    assert mail["From"].addresses[0].addr_spec == "orders@example.com"
    assert mail["From"].addresses[0].display_name == "王芳 Wang Fang"
    assert mail["Cc"] == "wife@example.cn" and mail["Subject"] == "Re: 空调不制冷 [#SB-1042]"
    html = mail.get_body(("html",))
    assert html is not None
    assert "&lt;b&gt;" in html.get_content() and "<b>" not in html.get_content()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_no_server_is_a_temporary_failure() -> None:
    sender = EmailSender(
        SmtpServer("127.0.0.1", free_port(), tls=False, timeout_s=2), "s@example.com", "x"
    )
    with pytest.raises(TemporaryFailure):
        await sender.send(outbound())


class Refusing:
    def __init__(self, code: str) -> None:
        self.code = code

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self.code


@pytest.fixture
async def refusing() -> AsyncIterator[tuple[Refusing, int]]:
    handler = Refusing("554 5.7.1 Message rejected as spam")
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(handler), "127.0.0.1", 0)
    yield handler, int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


async def test_5xx_is_permanent_and_4xx_temporary(refusing: tuple[Refusing, int]) -> None:
    handler, port = refusing
    sender = EmailSender(SmtpServer("127.0.0.1", port, tls=False), "s@example.com", "x")
    with pytest.raises(PermanentFailure, match="rejected as spam"):
        await sender.send(outbound())
    handler.code = "451 4.7.1 Greylisted, try again"
    with pytest.raises(TemporaryFailure, match="Greylisted"):
        await sender.send(outbound())
