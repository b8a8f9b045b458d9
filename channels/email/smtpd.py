"""The SMTP receiver for direct delivery (aiosmtpd, served on the app's own event loop, so
it shares the database pool and the desk instead of running a thread of its own).

What a sending MTA sees, each answer chosen so that no mail is lost or duplicated:
- ``550 5.7.1`` at RCPT for an address that is not ours (no relaying);
- ``552 5.3.4`` when the mail is over ``SWITCHBOARD_SMTP_MAX_BYTES`` (aiosmtpd refuses it
  while reading DATA, before it fills memory);
- ``250`` only after the message is committed (the sender may then forget it);
- ``451 4.3.0`` when storing failed for a passing reason (database down, pool
  exhausted): the sender keeps the mail and retries, and the retry is idempotent;
- ``550 5.6.0`` for a mail we can never take (no sender address at all).

Mails arriving together are committed together (``GroupCommit``): eight concurrent
senders cost one transaction per burst, not one each, while every sender still hears
250 only after its own mail is in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Sequence
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.email.intake import EmailIntake
from tickets import IngestResult

log = logging.getLogger(__name__)
MAX_BATCH = 64
PARALLEL_BATCHES = 2


class GroupCommit:
    """Gathers mails submitted while a commit is running and ingests them as one batch."""

    def __init__(
        self, intake: EmailIntake, max_batch: int = MAX_BATCH, parallel: int | None = None
    ) -> None:
        self.intake = intake
        self.max_batch = max_batch
        self.slots = asyncio.Semaphore(
            parallel or (PARALLEL_BATCHES if intake.desk.parallel_writes else 1)
        )
        self._running: set[asyncio.Task[None]] = set()
        self._queue: asyncio.Queue[
            tuple[bytes, tuple[str, ...], asyncio.Future[IngestResult | Exception]]
        ] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, raw: bytes, envelope_to: Sequence[str]) -> IngestResult | Exception:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name="email:group-commit")
        future: asyncio.Future[IngestResult | Exception] = (
            asyncio.get_running_loop().create_future()
        )
        await self._queue.put((raw, tuple(envelope_to), future))
        return await future

    async def _run(self) -> None:
        """Takes what has queued up as one batch whenever a slot is free: while a batch
        commits, the next one gathers (several commit at once on PostgreSQL)."""
        while True:
            await self.slots.acquire()
            first = await self._queue.get()
            batch = [first]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            task = asyncio.create_task(self._commit(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _commit(
        self, batch: list[tuple[bytes, tuple[str, ...], asyncio.Future[IngestResult | Exception]]]
    ) -> None:
        try:
            results = await self.intake.receive_many([(raw, to) for raw, to, _ in batch])
        except asyncio.CancelledError:
            for *_, future in batch:
                future.cancel()
            raise
        except Exception as err:  # storing the blobs failed: every sender retries
            results = [err] * len(batch)
        finally:
            self.slots.release()
        for (*_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def close(self) -> None:
        tasks = [t for t in (self._worker, *self._running) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class SmtpHandler:
    def __init__(self, intake: EmailIntake, commit: GroupCommit, max_bytes: int) -> None:
        self.intake = intake
        self.commit = commit
        self.max_bytes = max_bytes

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self.intake.config.is_ours(address):
            return "550 5.7.1 Relaying denied: this server only accepts mail for its own addresses"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = bytes(envelope.original_content or b"")
        if len(raw) > self.max_bytes:
            return f"552 5.3.4 Message too big: the limit is {self.max_bytes} bytes"
        result = await self.commit.submit(raw, [str(a) for a in envelope.rcpt_tos])
        if isinstance(result, IngestResult):
            return "250 2.0.0 OK" + (f" {result.number}" if not result.ignored else "")
        if isinstance(result, ValueError):  # no usable sender: retrying cannot help
            log.warning("SMTP: refused a mail: %s", result)
            return f"550 5.6.0 {str(result)[:200]}"
        log.warning("SMTP: storing a mail failed (%s); answered 451", type(result).__name__)
        return "451 4.3.0 Temporary failure storing the message, please try again later"


async def serve(
    intake: EmailIntake, host: str, port: int, max_bytes: int
) -> tuple[asyncio.Server, GroupCommit]:
    commit = GroupCommit(intake)
    handler = SmtpHandler(intake, commit, max_bytes)

    def factory() -> Any:
        return SMTP(
            handler,
            enable_SMTPUTF8=True,
            data_size_limit=max_bytes,
            decode_data=False,
            hostname=intake.config.message_domain,
            ident="Switchboard ESMTP",
        )

    # SO_REUSEPORT: every `switchboard serve` process on a host listens on the one port,
    # and the kernel spreads connections over them.
    server = await asyncio.get_running_loop().create_server(
        factory, host, port, reuse_port=port != 0 and hasattr(socket, "SO_REUSEPORT")
    )
    return server, commit


def parse_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"SWITCHBOARD_SMTP_LISTEN must be host:port, not {value!r}")
    return host.strip("[]"), int(port)
