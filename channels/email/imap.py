"""The IMAP poller (aioimaplib, the only module that imports it): one task per mailbox.

It never relies on the \\Seen flag (someone reading the mailbox in a mail client must not
hide mail from us, which is how other helpdesks skip messages). The database keeps
UIDVALIDITY and the last UID whose message is committed (``MailboxState``); every round
fetches the UIDs above it with ``BODY.PEEK[]`` (which sets no flag), in batches that are
ingested in one transaction each. Only after that commit is the batch flagged \\Seen or
moved (``SWITCHBOARD_IMAP_MOVE_TO``) and the last UID advanced. So a crash before the
commit loses nothing (the batch is fetched again), and a crash after it duplicates
nothing (the refetched mails are the same Message-IDs, no-ops for ``ingest``). A changed
UIDVALIDITY means the server renumbered the mailbox: it is read again from the start, and
the Message-IDs keep that from duplicating anything.

Between rounds the poller waits in IDLE when the server offers it (new mail wakes it at
once), else sleeps ``SWITCHBOARD_IMAP_POLL_S``. A broken connection or a failing database
backs off (1 s doubling to 5 minutes) and reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import aioimaplib
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.email.intake import EmailIntake
from channels.email.models import MailboxState
from tickets import Event, IngestResult

log = logging.getLogger(__name__)
UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
FETCH_UID = re.compile(rb"\bUID (\d+)")
MAX_BACKOFF_S = 300.0
PARALLEL_BATCHES = 4
Results = list[IngestResult | Exception]


class ImapError(Exception):
    pass


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int = 993
    username: str = ""
    password: str = field(default="", repr=False)
    tls: bool = True
    mailboxes: tuple[str, ...] = ("INBOX",)
    move_to: str | None = None
    poll_s: float = 60.0
    batch: int = 200
    timeout_s: float = 30.0
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)

    def state_name(self, mailbox: str) -> str:
        return f"{self.username}@{self.host}:{self.port}/{mailbox}"[:500]


class ImapPoller:
    def __init__(self, intake: EmailIntake, account: ImapAccount, mailbox: str = "INBOX") -> None:
        self.intake = intake
        self.account = account
        self.mailbox = mailbox
        self.name = account.state_name(mailbox)
        self._stopping = False
        self.rounds = 0
        """Completed sync rounds (tests wait on it)."""

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
        backoff = 1.0
        while not self._stopping:
            client: aioimaplib.IMAP4 | None = None
            try:
                client = await self.connect()
                backoff = 1.0
                while not self._stopping:
                    await self.sync(client)
                    await self.wait(client)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning(
                    "IMAP %s: %s: %s; reconnecting in %.0f s",
                    self.name,
                    type(err).__name__,
                    err,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)
            finally:
                if client is not None:
                    await _logout(client)

    async def connect(self) -> aioimaplib.IMAP4:
        a = self.account
        client = (
            aioimaplib.IMAP4_SSL(a.host, a.port, timeout=a.timeout_s, ssl_context=a.ssl_context)
            if a.tls
            else aioimaplib.IMAP4(a.host, a.port, timeout=a.timeout_s)
        )
        await client.wait_hello_from_server()
        _ok(await client.login(a.username, a.password), "LOGIN")
        return client

    async def sync(self, client: aioimaplib.IMAP4) -> int:
        """One round: everything above the last committed UID; returns mails ingested."""
        selected = await client.select(self.mailbox)
        _ok(selected, f"SELECT {self.mailbox}")
        validity = _uidvalidity(selected.lines)
        state = await self.intake.desk.read(self._load)
        last_uid = 0
        if state is not None and state[0] == validity:
            last_uid = state[1]
        elif state is not None:
            log.warning(
                "IMAP %s: UIDVALIDITY changed (%s -> %s); reading the mailbox again",
                self.name,
                state[0],
                validity,
            )
        found = await client.uid_search(f"UID {last_uid + 1}:*", charset=None)
        _ok(found, "UID SEARCH")
        uids = sorted({int(u) for line in found.lines for u in line.split() if u.isdigit()})
        uids = [u for u in uids if u > last_uid]
        # Batches are fetched one after another on the connection, and ingested while the
        # next is fetched (several at once where the database writes in parallel); each
        # is acknowledged, and the last UID advanced, strictly in UID order.
        parallel = PARALLEL_BATCHES if self.intake.desk.parallel_writes else 1
        pending: deque[tuple[list[int], list[tuple[int, bytes]], asyncio.Task[Results]]] = deque()
        done = 0
        try:
            for start in range(0, len(uids), self.account.batch):
                chunk = uids[start : start + self.account.batch]
                mails = await self.fetch(client, chunk)
                work = self.intake.receive_many([(raw, ()) for _, raw in mails])
                pending.append((chunk, mails, asyncio.create_task(work)))
                while pending and (len(pending) >= parallel or pending[0][2].done()):
                    done += await self._finish(client, validity, *pending.popleft())
            while pending:
                done += await self._finish(client, validity, *pending.popleft())
        finally:
            for *_, task in pending:  # an earlier batch failed: later ones are refetched
                task.cancel()
            if pending:
                await asyncio.gather(*(t for *_, t in pending), return_exceptions=True)
        self.rounds += 1
        return done

    async def _finish(
        self,
        client: aioimaplib.IMAP4,
        validity: int,
        chunk: list[int],
        mails: list[tuple[int, bytes]],
        task: asyncio.Task[Results],
    ) -> int:
        results = await task
        for (uid, _), result in zip(mails, results, strict=True):
            if isinstance(result, ValueError):
                log.warning("IMAP %s: UID %s refused: %s", self.name, uid, result)
            elif not isinstance(result, IngestResult):
                raise result  # nothing from here on is acknowledged; refetched next round
        await self.acknowledge(client, [uid for uid, _ in mails])
        await self.intake.desk.write(self._save(validity, chunk[-1]))
        return len(mails)

    async def fetch(self, client: aioimaplib.IMAP4, uids: Sequence[int]) -> list[tuple[int, bytes]]:
        response = await client.uid("fetch", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
        _ok(response, "UID FETCH")
        out: list[tuple[int, bytes]] = []
        uid: int | None = None
        for line in response.lines:
            if isinstance(line, bytearray):
                if uid is not None:
                    out.append((uid, bytes(line)))
                uid = None
                continue
            match = FETCH_UID.search(line)
            if match and b"FETCH" in line:
                uid = int(match.group(1))
        wanted = set(uids)
        return sorted((u, raw) for u, raw in out if u in wanted)

    async def acknowledge(self, client: aioimaplib.IMAP4, uids: Sequence[int]) -> None:
        """After the commit: flag the mails \\Seen, or move them to the done folder."""
        if not uids:
            return
        uid_set = ",".join(map(str, uids))
        target = self.account.move_to
        if target and client.has_capability("MOVE"):
            _ok(await client.uid("move", uid_set, target), "UID MOVE")
            return
        if target:
            _ok(await client.uid("copy", uid_set, target), "UID COPY")
            _ok(await client.uid("store", uid_set, "+FLAGS.SILENT", r"(\Seen \Deleted)"), "STORE")
            if client.has_capability("UIDPLUS"):
                _ok(await client.uid("expunge", uid_set), "UID EXPUNGE")
            return
        _ok(await client.uid("store", uid_set, "+FLAGS.SILENT", r"(\Seen)"), "UID STORE")

    async def wait(self, client: aioimaplib.IMAP4) -> None:
        if self._stopping:
            return
        if not client.has_capability("IDLE"):
            await asyncio.sleep(self.account.poll_s)
            return
        idle = await client.idle_start(timeout=self.account.poll_s + 30)
        try:
            await client.wait_server_push(timeout=self.account.poll_s)
        except TimeoutError:
            pass
        finally:
            client.idle_done()
            await asyncio.wait_for(idle, self.account.timeout_s)

    async def _load(self, session: AsyncSession) -> tuple[int, int] | None:
        row = (
            await session.execute(
                select(MailboxState.uidvalidity, MailboxState.last_uid).where(
                    MailboxState.name == self.name
                )
            )
        ).first()
        return None if row is None else (int(row[0]), int(row[1]))

    def _save(
        self, validity: int, last_uid: int
    ) -> Callable[[AsyncSession, datetime], Awaitable[tuple[None, list[Event]]]]:
        name = self.name

        async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            state = await session.get(MailboxState, name, with_for_update=True)
            if state is None:
                session.add(
                    MailboxState(name=name, uidvalidity=validity, last_uid=last_uid, updated_at=now)
                )
            elif state.uidvalidity != validity or state.last_uid < last_uid:
                state.uidvalidity, state.last_uid, state.updated_at = validity, last_uid, now
            return None, []

        return work


def _uidvalidity(lines: Sequence[bytes | bytearray]) -> int:
    for line in lines:
        match = UIDVALIDITY.search(bytes(line))
        if match:
            return int(match.group(1))
    raise ImapError("the server sent no UIDVALIDITY")


def _ok(response: aioimaplib.Response, what: str) -> None:
    if response.result != "OK":
        detail = b" ".join(bytes(x) for x in response.lines[-1:]).decode("utf-8", "replace")
        raise ImapError(f"{what} failed: {response.result} {detail}"[:500])


async def _logout(client: aioimaplib.IMAP4) -> None:
    try:
        await asyncio.wait_for(client.logout(), 5.0)
    except Exception:  # the connection is gone anyway
        return
