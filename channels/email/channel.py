"""The email channel as the app runs it: the intake, the SMTP receiver on the app's
loop, the IMAP pollers (worker processes only) and the outbound sender. Each part is on
only when its settings are there; a missing one is one log line, never a crash."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from channels.email.imap import ImapAccount, ImapPoller
from channels.email.intake import EmailIntake
from channels.email.sender import EmailSender
from channels.email.smtpd import GroupCommit, serve

log = logging.getLogger(__name__)


class EmailChannel:
    def __init__(
        self,
        intake: EmailIntake,
        *,
        sender: EmailSender | None = None,
        listen: tuple[str, int] | None = None,
        max_bytes: int = 25 * 1024 * 1024,
        imap: ImapAccount | None = None,
        more_imap: tuple[ImapAccount, ...] = (),
    ) -> None:
        self.intake = intake
        self.sender = sender
        self.listen = listen
        self.max_bytes = max_bytes
        self.imap = imap
        self.accounts = (*((imap,) if imap is not None else ()), *more_imap)
        """Every IMAP account polled (``imap`` first)."""
        self.smtp_server: asyncio.Server | None = None
        self.commit: GroupCommit | None = None
        self.pollers: list[ImapPoller] = []
        self.tasks: list[asyncio.Task[None]] = []

    @property
    def smtp_port(self) -> int | None:
        if self.smtp_server is None or not self.smtp_server.sockets:
            return None
        return int(self.smtp_server.sockets[0].getsockname()[1])

    async def start(self, *, workers: bool) -> None:
        if self.listen is not None:
            host, port = self.listen
            self.smtp_server, self.commit = await serve(self.intake, host, port, self.max_bytes)
            log.info("email: SMTP receiver on %s:%s", host, self.smtp_port)
        if not workers:
            return
        for account in self.accounts:
            for mailbox in account.mailboxes:
                poller = ImapPoller(self.intake, account, mailbox)
                self.pollers.append(poller)
                self.tasks.append(asyncio.create_task(poller.run(), name=f"imap:{poller.name}"))
            log.info(
                "email: polling %s of %s on %s",
                ",".join(account.mailboxes),
                account.username,
                account.host,
            )

    async def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()
        if self.smtp_server is not None:
            self.smtp_server.close()
            await self.smtp_server.wait_closed()
            self.smtp_server = None
        if self.commit is not None:
            await self.commit.close()
