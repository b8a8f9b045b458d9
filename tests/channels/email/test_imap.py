"""The IMAP poller against a real dovecot: mail is fetched whatever its \\Seen flag,
acknowledged only after the commit, a crash on either side of the commit neither loses
nor duplicates anything, a UIDVALIDITY change re-reads without duplicates, and IDLE
wakes the poller at once. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aioimaplib
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.email.imap import ImapAccount, ImapPoller
from channels.email.intake import EmailIntake
from channels.email.models import MailboxState
from tests.channels.email.dovecot import Dovecot, dovecot  # noqa: F401
from tests.channels.email.test_parse import FIXTURES
from tickets.models import Message

MAILS = [
    "plain__utf8.eml",
    "charset__gb2312_subject_gbk_chars.eml",
    "charset__big5.eml",
    "attachment__pdf_chinese_rfc2231.eml",
    "malformed__missing_message_id.eml",
]


@pytest.fixture
async def account(dovecot: Dovecot) -> ImapAccount:  # noqa: F811
    user, password = dovecot.add_user()
    return ImapAccount(
        "127.0.0.1", dovecot.port, user, password, tls=False, poll_s=30.0, batch=2, timeout_s=10
    )


@pytest.fixture
async def client(account: ImapAccount) -> AsyncIterator[aioimaplib.IMAP4]:
    imap = aioimaplib.IMAP4("127.0.0.1", account.port, timeout=10)
    await imap.wait_hello_from_server()
    await imap.login(account.username, account.password)
    yield imap
    if imap.get_state() != "LOGOUT":
        with contextlib.suppress(Exception):
            await asyncio.wait_for(imap.logout(), 2)


async def deliver(client: aioimaplib.IMAP4, names: list[str], flags: str | None = None) -> None:
    for name in names:
        response = await client.append((FIXTURES / name).read_bytes(), "INBOX", flags=flags)
        assert response.result == "OK", response.lines


async def messages(intake: EmailIntake) -> int:
    async def read(session: AsyncSession) -> int:
        return int(await session.scalar(select(func.count()).select_from(Message)) or 0)

    return await intake.desk.read(read)


async def flags(client: aioimaplib.IMAP4) -> list[bytes]:
    await client.select("INBOX")
    response = await client.fetch("1:*", "(FLAGS)")
    return [bytes(line) for line in response.lines if re.match(rb"\d+ FETCH", bytes(line))]


async def test_fetches_read_mail_and_flags_only_after_commit(
    intake: EmailIntake, account: ImapAccount, client: aioimaplib.IMAP4
) -> None:
    await deliver(client, MAILS[:2])
    await deliver(client, MAILS[2:], flags=r"(\Seen)")  # read by someone in a mail client
    poller = ImapPoller(intake, account)
    imap = await poller.connect()
    try:
        assert await poller.sync(imap) == len(MAILS)
        assert await poller.sync(imap) == 0
    finally:
        await imap.logout()
    assert await messages(intake) == len(MAILS)
    assert all(b"\\Seen" in line for line in await flags(client))

    async def state(session: AsyncSession) -> int:
        row = (await session.execute(select(MailboxState.last_uid))).scalar_one()
        return int(row)

    assert await intake.desk.read(state) == len(MAILS)


async def test_crash_after_commit_before_flagging_ingests_nothing_twice(
    intake: EmailIntake, account: ImapAccount, client: aioimaplib.IMAP4
) -> None:
    await deliver(client, MAILS)
    crashing = ImapPoller(intake, account)

    async def killed(*_: object) -> None:
        raise RuntimeError("killed between commit and flag-setting")

    crashing.acknowledge = killed  # type: ignore[method-assign,assignment]
    imap = await crashing.connect()
    with pytest.raises(RuntimeError):
        await crashing.sync(imap)
    await imap.logout()
    committed = await messages(intake)
    # The first batch was committed, then the crash (on PostgreSQL later batches may have
    # committed meanwhile: batches are ingested in parallel, acknowledged in order).
    assert committed >= account.batch
    assert not any(b"\\Seen" in line for line in await flags(client))
    restarted = ImapPoller(intake, account)
    imap = await restarted.connect()
    try:
        assert await restarted.sync(imap) == len(MAILS)  # fetched again ...
    finally:
        await imap.logout()
    assert await messages(intake) == len(MAILS)  # ... and ingested once


async def test_crash_before_commit_loses_nothing(
    intake: EmailIntake, account: ImapAccount, client: aioimaplib.IMAP4
) -> None:
    await deliver(client, MAILS)
    poller = ImapPoller(intake, account)
    real = intake.desk.ingest_many

    async def down(*_: object) -> list[object]:
        raise ConnectionError("database went away before the commit")

    intake.desk.ingest_many = down  # type: ignore[method-assign,assignment]
    imap = await poller.connect()
    try:
        with pytest.raises(ConnectionError):
            await poller.sync(imap)
        assert await messages(intake) == 0
        intake.desk.ingest_many = real  # type: ignore[method-assign]
        assert await poller.sync(imap) == len(MAILS)
    finally:
        await imap.logout()
    assert await messages(intake) == len(MAILS)


async def test_uidvalidity_change_rereads_without_duplicates(
    intake: EmailIntake,
    account: ImapAccount,
    client: aioimaplib.IMAP4,
    dovecot: Dovecot,  # noqa: F811
) -> None:
    await deliver(client, MAILS[:3])
    poller = ImapPoller(intake, account)
    imap = await poller.connect()
    assert await poller.sync(imap) == 3
    await imap.logout()
    await client.logout()
    # The server renumbers the mailbox: dovecot makes a new UIDVALIDITY when its UID
    # list is gone.
    maildir = dovecot.root / "homes" / account.username / "Maildir"
    for uidlist in maildir.rglob("dovecot-uidlist"):
        uidlist.unlink()
    for index in maildir.rglob("dovecot.index*"):
        index.unlink()
    again = aioimaplib.IMAP4("127.0.0.1", account.port, timeout=10)
    await again.wait_hello_from_server()
    await again.login(account.username, account.password)
    await deliver(again, MAILS[3:])
    await again.logout()
    imap = await poller.connect()
    try:
        assert await poller.sync(imap) == len(MAILS)  # all re-read ...
    finally:
        await imap.logout()
    assert await messages(intake) == len(MAILS)  # ... none twice


async def test_idle_wakes_the_poller_for_new_mail(
    intake: EmailIntake, account: ImapAccount, client: aioimaplib.IMAP4
) -> None:
    poller = ImapPoller(intake, account)
    task = asyncio.create_task(poller.run())
    try:
        for _ in range(200):
            if poller.rounds:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # now waiting in IDLE (poll_s is 30 s)
        await deliver(client, MAILS[:1])
        for _ in range(100):  # well under poll_s: only IDLE can have woken it
            if await messages(intake):
                break
            await asyncio.sleep(0.05)
        assert await messages(intake) == 1
    finally:
        poller.stop()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_moves_to_the_done_folder_when_asked(
    intake: EmailIntake, account: ImapAccount, client: aioimaplib.IMAP4, tmp_path: Path
) -> None:
    assert (await client.create("Done")).result == "OK"
    await deliver(client, MAILS[:3])
    mover = ImapPoller(intake, ImapAccount(**{**account.__dict__, "move_to": "Done"}))
    imap = await mover.connect()
    try:
        assert await mover.sync(imap) == 3
    finally:
        await imap.logout()
    assert await flags(client) == []
    status = await client.status("Done", "(MESSAGES)")
    assert b"MESSAGES 3" in b" ".join(bytes(line) for line in status.lines)
