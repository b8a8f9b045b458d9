"""The SMTP receiver and the sender through the running app, with real SMTP on both
sides (aiosmtplib as the customer's server, aiosmtpd as the customer's mailbox):
250 after the commit, 550 for relaying, 552 over the limit, 451 on a passing failure;
the round trip customer -> ticket -> agent reply with threading headers -> the customer's
Outlook reply (References only) on the same ticket; a refused recipient and a DSN bounce
mark the reply failed with the server's reason; one Message-ID by IMAP and SMTP is one
message. On SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aioimaplib
import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.email.imap import ImapAccount, ImapPoller
from tests.apphelpers import Api, start_api
from tests.channels.email.dovecot import Dovecot, dovecot  # noqa: F401
from tests.channels.email.test_parse import FIXTURES
from tests.conftest import Stack
from tests.helpers import eventually


@dataclass
class Sink:
    """The customer's mail server: keeps what it accepts, refuses ``nobody@`` with 550."""

    received: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    server: asyncio.Server | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 <nobody@customer.example>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(parsed, EmailMessage)
        self.received.append((envelope, parsed))
        return "250 OK"

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    found = Sink()
    found.server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(found, enable_SMTPUTF8=True, decode_data=False), "127.0.0.1", 0
    )
    yield found
    found.server.close()
    await found.server.wait_closed()


@pytest.fixture
async def api(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, sink: Sink, tmp_path: Path
) -> Api:
    return await start_api(
        aiohttp_client,
        stack,
        redis_prefix,
        support_address="service@example.com",
        email_queues="service@example.com=Repairs,orders@example.com=Orders",
        smtp_listen="127.0.0.1:0",
        smtp_max_bytes=50_000,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_tls=False,
        outbox_base_delay_s=0.05,
        blob_dir=str(tmp_path / "blobs"),
    )


def port_of(api: Api) -> int:
    assert api.runtime.email is not None and api.runtime.email.smtp_port
    return api.runtime.email.smtp_port


async def mail_in(api: Api, raw: bytes, to: str = "service@example.com") -> tuple[int, str]:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port_of(api)) as client:
        await client.sendmail("customer@example.org", [to], raw)
        code, message = await client.quit()
    return code, message


async def send_raw(api: Api, raw: bytes, to: str = "service@example.com") -> str:
    errors, response = await aiosmtplib.send(
        raw, hostname="127.0.0.1", port=port_of(api), sender="c@example.org", recipients=[to]
    )
    assert not errors
    return response


async def ticket_of(api: Api, sender: str) -> dict[str, Any]:
    async def find() -> dict[str, Any] | None:
        listing = await api.get(f"/api/v1/tickets?q={sender}")
        return listing["tickets"][0] if listing["tickets"] else None

    found: dict[str, Any] = await eventually(find)
    detail: dict[str, Any] = await api.get(f"/api/v1/tickets/{found['number']}")
    return detail


async def test_receiver_answers_250_after_commit_and_refuses_relaying_and_big_mail(
    api: Api,
) -> None:
    raw = (FIXTURES / "plain__utf8.eml").read_bytes()
    response = await send_raw(api, raw)
    assert response.startswith("2.0.0 OK SB-")  # the ticket exists once 250 is said
    number = response.split()[-1]
    detail = await api.get(f"/api/v1/tickets/{number}")
    assert detail["queue"] == "Repairs" and detail["messages"][0]["thread_reason"] == "new"
    assert detail["messages"][0]["email"]["from"] == "li.ming@example.cn"

    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send_raw(api, raw, to="someone@elsewhere.example")
    assert refused.value.recipients[0].code == 550

    big = (FIXTURES / "attachment__over_limit.eml").read_bytes()  # > smtp_max_bytes
    with pytest.raises(aiosmtplib.SMTPResponseException) as too_big:
        await send_raw(api, big)
    assert too_big.value.code == 552


async def test_a_passing_failure_answers_451_and_the_retry_stores_once(api: Api) -> None:
    assert api.runtime.email is not None
    desk = api.runtime.email.intake.desk
    real = desk.ingest_many

    async def down(msgs: Any) -> list[Any]:
        return [ConnectionError("database unavailable") for _ in msgs]

    desk.ingest_many = down  # type: ignore[method-assign]
    raw = (FIXTURES / "charset__big5.eml").read_bytes()
    with pytest.raises(aiosmtplib.SMTPDataError) as deferred:
        await send_raw(api, raw)
    assert deferred.value.code == 451
    desk.ingest_many = real  # type: ignore[method-assign]
    first = await send_raw(api, raw)
    again = await send_raw(api, raw)  # the sender's own retry after a lost 250
    assert first == again
    detail = await ticket_of(api, "lin@example.com.tw")
    assert len(detail["messages"]) == 1


async def test_round_trip_threads_both_ways(api: Api, sink: Sink) -> None:
    raw = (FIXTURES / "cc__participants.eml").read_bytes()
    number = (await send_raw(api, raw)).split()[-1]
    reply = await api.send(
        "POST",
        f"/api/v1/tickets/{number}/replies",
        {"text": "We will send a technician tomorrow.\n\nSwitchboard"},
        status=201,
    )
    await eventually(lambda: asyncio.sleep(0, result=bool(sink.received)), timeout=10)
    envelope, sent = sink.received[0]
    assert sorted(envelope.rcpt_tos) == [
        "assistant@corp.example",
        "boss@corp.example",
        "facilities@corp.example",
    ]
    assert sent["In-Reply-To"] == "<cc-participants@corp.example>"
    assert "<cc-participants@corp.example>" in sent["References"]
    assert f"[#{number}]" in sent["Subject"] and sent["Subject"].startswith("Re: ")
    assert sent["From"].addresses[0].addr_spec == "service@example.com"
    assert sent["Cc"] and "assistant@corp.example" in str(sent["Cc"])
    assert sent.get_body(("plain",)) is not None and sent.get_body(("html",)) is not None
    our_id = sent["Message-ID"]
    assert our_id.startswith("<sb-")

    async def sent_status() -> bool:
        detail = await api.get(f"/api/v1/tickets/{number}")
        return any(
            m["id"] == reply["id"] and m["delivery_status"] == "sent" for m in detail["messages"]
        )

    await eventually(sent_status, timeout=10)

    outlook = (
        "From: Boss <boss@corp.example>\r\nTo: service@example.com\r\n"
        "Subject: RE: Office AC broken\r\nMessage-ID: <outlook-answer@corp.example>\r\n"
        f"References: {our_id}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Tomorrow is fine.\r\n\r\n-----Original Message-----\r\nFrom: Support\r\n"
    ).encode()
    answer = await send_raw(api, outlook)
    assert answer.split()[-1] == number
    detail = await api.get(f"/api/v1/tickets/{number}")
    last = detail["messages"][-1]
    assert last["text"] == "Tomorrow is fine." and last["thread_reason"] == "references"
    assert detail["participants"] == ["assistant@corp.example", "facilities@corp.example"]


async def test_refused_recipient_and_dsn_bounce_mark_the_reply_failed(api: Api, sink: Sink) -> None:
    raw = (
        (FIXTURES / "plain__utf8.eml")
        .read_bytes()
        .replace(b"li.ming@example.cn", b"nobody@customer.example")
    )
    number = (await send_raw(api, raw)).split()[-1]
    reply = await api.send(
        "POST", f"/api/v1/tickets/{number}/replies", {"text": "hello"}, status=201
    )

    async def failed() -> dict[str, Any] | None:
        detail = await api.get(f"/api/v1/tickets/{number}")
        found = [m for m in detail["messages"] if m["id"] == reply["id"]]
        return found[0] if found and found[0]["delivery_status"] == "failed" else None

    message = await eventually(failed, timeout=10)
    assert "Recipient address rejected" in message["delivery_error"]

    # A bounce after the server accepted: the DSN quotes our Message-ID.
    raw2 = (FIXTURES / "charset__gbk_8bit.eml").read_bytes()
    number2 = (await send_raw(api, raw2)).split()[-1]
    reply2 = await api.send(
        "POST", f"/api/v1/tickets/{number2}/replies", {"text": "ok"}, status=201
    )

    async def sent_id() -> str | None:
        for _env, mail in sink.received:
            if number2 in mail["Subject"]:
                return str(mail["Message-ID"])
        return None

    our_id = await eventually(sent_id, timeout=10)

    async def is_sent() -> bool:
        detail = await api.get(f"/api/v1/tickets/{number2}")
        return any(
            m["id"] == reply2["id"] and m["delivery_status"] == "sent" for m in detail["messages"]
        )

    await eventually(is_sent, timeout=10)
    dsn = (
        (FIXTURES / "bounce__dsn.eml")
        .read_bytes()
        .replace(b"<sb-0123456789abcdef0123456789abcdef@example.com>", our_id.encode())
    )
    await send_raw(api, dsn)
    detail = await api.get(f"/api/v1/tickets/{number2}")
    bounced = next(m for m in detail["messages"] if m["id"] == reply2["id"])
    assert bounced["delivery_status"] == "failed" and "5.1.1" in bounced["delivery_error"]
    noise = detail["messages"][-1]
    assert noise["email"]["noise"] == "bounce" and detail["status"] != "new"
    assert len([t for t in (await api.get("/api/v1/tickets"))["tickets"]]) == 2


async def test_one_message_id_by_imap_and_smtp_is_one_message(
    api: Api,
    dovecot: Dovecot,  # noqa: F811
) -> None:
    raw = (FIXTURES / "charset__gb2312_subject_gbk_chars.eml").read_bytes()
    await send_raw(api, raw)
    user, password = dovecot.add_user()
    client = aioimaplib.IMAP4("127.0.0.1", dovecot.port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(user, password)
    await client.append(raw, "INBOX")
    await client.logout()
    assert api.runtime.email is not None
    poller = ImapPoller(
        api.runtime.email.intake,
        ImapAccount("127.0.0.1", dovecot.port, user, password, tls=False, timeout_s=10),
    )
    imap = await poller.connect()
    try:
        assert await poller.sync(imap) == 1
    finally:
        await imap.logout()
    detail = await ticket_of(api, "chen.rong@163.com")
    assert len(detail["messages"]) == 1
    assert detail["subject"] == "镕堃喆昇的空调"
