"""One test per fixture through the real intake (parse, classify, store blobs, ingest):
the ticket and message it yields, on SQLite and PostgreSQL. Plus: the same mail twice
is one message, the support address picks the queue, the raw original is kept."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.email.intake import EmailIntake
from tests.channels.email.test_parse import EXPECTED, FIXTURES
from tickets import IngestResult
from tickets.models import Attachment, Message, Queue, Ticket, TicketParticipant

# Attachment content types as stored: sniffed from the bytes, never the header's.
STORED_TYPES = {
    "inline__image.eml": ["image/png"],
    "attachment__pdf_chinese_rfc2231.eml": ["application/pdf"],
    "attachment__xlsx_chinese_encoded_word.eml": ["application/octet-stream"],
    "attachment__lying_type.eml": ["application/octet-stream"],
    "attachment__over_limit.eml": [],
}


async def facts(intake: EmailIntake, result: IngestResult) -> dict[str, Any]:
    async def read(session: AsyncSession) -> dict[str, Any]:
        ticket = await session.get(Ticket, result.ticket_id)
        msg = await session.get(Message, result.message_id)
        assert ticket is not None and msg is not None
        queue = await session.get(Queue, ticket.queue_id) if ticket.queue_id else None
        files = (
            await session.execute(
                select(Attachment.name, Attachment.content_type).where(
                    Attachment.message_id == msg.id
                )
            )
        ).all()
        people = (
            await session.execute(
                select(TicketParticipant.address).where(TicketParticipant.ticket_id == ticket.id)
            )
        ).scalars()
        return {
            "subject": ticket.subject,
            "channel": ticket.channel,
            "queue": queue.name if queue else None,
            "text": msg.text,
            "html": msg.html,
            "reason": msg.thread_reason,
            "meta": msg.email_meta,
            "files": [(n, t) for n, t in files],
            "participants": sorted(people),
        }

    return await intake.desk.read(read)


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_fixture_makes_its_ticket(intake: EmailIntake, name: str) -> None:
    sender, subject, text, files, noise = EXPECTED[name]
    result = await intake.receive((FIXTURES / name).read_bytes())
    assert isinstance(result, IngestResult), result
    if noise is not None:  # refers to no ticket here: recorded nowhere, opens nothing
        assert result.ignored and not result.new_ticket
        return
    assert result.new_ticket
    got = await facts(intake, result)
    assert got["channel"] == "email" and got["reason"] == "new"
    assert got["subject"] and got["subject"] in subject
    if name == "reply__outlook.eml":
        assert got["subject"] == "Leaking unit"
    assert got["text"].startswith(text)
    assert got["meta"]["from"] == sender and got["meta"]["raw_ref"].startswith("sha256:")
    stored = [n for n, _ in got["files"]]
    expected_files = [f for f in files if name != "attachment__over_limit.eml"]
    assert stored == expected_files
    if name in STORED_TYPES:
        assert [t for _, t in got["files"]] == STORED_TYPES[name]
    if name == "attachment__over_limit.eml":
        assert "noise.mp4" in got["text"] and got["meta"]["skipped"] == ["noise.mp4"]
    if name == "html__hostile.eml":
        assert "script" not in got["html"] and "onclick" not in got["html"]
        assert "javascript:" not in got["html"]
    if name == "cc__participants.eml":
        assert got["participants"] == ["assistant@corp.example", "facilities@corp.example"]
    assert got["queue"] == "Repairs"  # sent to service@, which feeds Repairs


async def test_the_same_mail_twice_is_one_message(intake: EmailIntake) -> None:
    raw = (FIXTURES / "malformed__missing_message_id.eml").read_bytes()
    first = await intake.receive(raw)
    second = await intake.receive(raw)
    assert isinstance(first, IngestResult) and isinstance(second, IngestResult)
    assert second.duplicate and second.message_id == first.message_id

    async def thread_id(session: AsyncSession) -> str | None:
        msg = await session.get(Message, first.message_id)
        assert msg is not None
        return msg.email_message_id

    # the stand-in id dedupes, but is never offered to a reply as In-Reply-To
    assert await intake.desk.read(thread_id) is None


async def test_support_address_picks_the_queue(intake: EmailIntake) -> None:
    raw = (
        (FIXTURES / "charset__gbk_8bit.eml")
        .read_bytes()
        .replace(b"To: service@example.com", b"To: orders@example.com")
    )
    result = await intake.receive(raw)
    assert isinstance(result, IngestResult)
    got = await facts(intake, result)
    assert got["queue"] == "Orders" and got["meta"]["support_address"] == "orders@example.com"


async def test_raw_original_is_kept_byte_for_byte(intake: EmailIntake) -> None:
    raw = (FIXTURES / "charset__big5.eml").read_bytes()
    result = await intake.receive(raw)
    assert isinstance(result, IngestResult)
    got = await facts(intake, result)
    assert intake.blobs is not None
    assert await intake.blobs.open(got["meta"]["raw_ref"]) == raw


async def test_a_batch_commits_together_and_threads_within_itself(intake: EmailIntake) -> None:
    first = (FIXTURES / "plain__utf8.eml").read_bytes()
    reply = first.replace(b"<plain-utf8@mail.example.cn>", b"<plain-reply@mail.example.cn>")
    reply = reply.replace(
        b"MIME-Version", b"In-Reply-To: <plain-utf8@mail.example.cn>\r\nMIME-Version"
    )
    results = await intake.receive_many([(first, ()), (reply, ()), (first, ())])
    assert all(isinstance(r, IngestResult) for r in results)
    a, b, c = (r for r in results if isinstance(r, IngestResult))
    assert b.ticket_id == a.ticket_id and not b.new_ticket
    assert c.duplicate


async def test_mail_without_sender_is_refused_not_dropped_silently(intake: EmailIntake) -> None:
    result = await intake.receive(b"Subject: nobody\r\n\r\nno sender at all\r\n")
    assert isinstance(result, ValueError)
