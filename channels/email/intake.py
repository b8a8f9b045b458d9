"""Raw mail into tickets, shared by the SMTP receiver and the IMAP poller.

``EmailIntake.prepare`` parses a mail, classifies it (noise), and stores its attachments
and raw original; ``receive_many`` ingests a batch in one transaction (group commit) and
handles bounces. Everything arrives here idempotent: the external id is the Message-ID
(or a hash of the bytes when there is none), so one mail delivered by both IMAP and SMTP,
or fetched again after a crash, is one message.

Durability: attachment and raw blobs of a batch are written, then flushed to disk once,
before the database commit; the commit is the point after which the mail is
acknowledged (250 to the SMTP client, flag or move on the IMAP server).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from channels.attachments import BlobStore, safe_name, sniff
from channels.email.classify import Noise, classify
from channels.email.parse import ParsedEmail, Part, parse, summary
from tickets import (
    AttachmentRef,
    Channel,
    DeliveryStatus,
    Desk,
    Event,
    InboundMessage,
    IngestResult,
    ThreadHints,
)

log = logging.getLogger(__name__)
RAW_TYPE = "message/rfc822"
OUR_ID_PREFIX = "<sb-"


@dataclass(frozen=True)
class EmailConfig:
    """Our support addresses (each with the queue it feeds, or None for the routing
    rules' choice) and domains whose every address is ours."""

    addresses: dict[str, str | None] = field(default_factory=dict)
    domains: tuple[str, ...] = ()
    max_attachment_bytes: int = 10 * 1024 * 1024
    message_domain: str = "switchboard.invalid"

    @classmethod
    def parse(
        cls,
        support_address: str | None,
        queues: str | None,
        domains: str | None,
        max_attachment_bytes: int,
    ) -> EmailConfig:
        addresses: dict[str, str | None] = {}
        if support_address:
            addresses[support_address.strip().lower()] = None
        for item in (queues or "").split(","):
            address, _, queue = item.partition("=")
            if address.strip():
                addresses[address.strip().lower()] = queue.strip() or None
        first = next(iter(addresses), "")
        return cls(
            addresses=addresses,
            domains=tuple(d.strip().lower().lstrip("@") for d in (domains or "").split(",") if d),
            max_attachment_bytes=max_attachment_bytes,
            message_domain=first.partition("@")[2] or "switchboard.invalid",
        )

    @property
    def enabled(self) -> bool:
        return bool(self.addresses or self.domains)

    def is_ours(self, address: str) -> bool:
        address = address.lower()
        return address in self.addresses or address.partition("@")[2] in self.domains

    def support_for(self, recipients: Sequence[str]) -> tuple[str | None, str | None]:
        """The support address a mail was sent to (the first of ours among To and Cc)
        and the queue it feeds."""
        for address in recipients:
            if address.lower() in self.addresses:
                return address.lower(), self.addresses[address.lower()]
        for address in recipients:
            if self.is_ours(address):
                return address.lower(), None
        return None, None


@dataclass(frozen=True, slots=True)
class Prepared:
    message: InboundMessage | None
    parsed: ParsedEmail
    noise: Noise | None
    skipped: tuple[str, ...] = ()


class EmailIntake:
    def __init__(self, desk: Desk, blobs: BlobStore | None, config: EmailConfig) -> None:
        self.desk = desk
        self.blobs = blobs
        self.config = config

    async def receive(
        self, raw: bytes, *, envelope_to: Sequence[str] = ()
    ) -> IngestResult | Exception:
        return (await self.receive_many([(raw, tuple(envelope_to))]))[0]

    async def receive_many(
        self, mails: Sequence[tuple[bytes, tuple[str, ...]]]
    ) -> list[IngestResult | Exception]:
        """Each mail (raw bytes, envelope recipients) ingested, all in one transaction
        when possible; a mail without a usable sender is refused as an exception in its
        place (never silently)."""
        prepared = await self.prepare_many(mails)
        todo = [p.message for p in prepared if p.message is not None]
        results = iter(await self.desk.ingest_many(todo) if todo else [])
        out: list[IngestResult | Exception] = []
        bounces: list[tuple[str, str]] = []
        for p in prepared:
            if p.message is None:
                out.append(ValueError("the mail has no sender address"))
                continue
            result = next(results)
            out.append(result)
            if isinstance(result, IngestResult) and result.ignored:
                log.info(
                    "email %s (%s) refers to no ticket; not opening one",
                    p.parsed.external_id,
                    p.noise,
                )
            report = p.parsed.report
            if p.noise is Noise.BOUNCE and report and report.original_message_id:
                reason = " ".join(filter(None, [report.status, report.diagnostic])) or "bounced"
                bounces.append((report.original_message_id, reason[:1000]))
        for original, reason in bounces:
            await self.desk.write(_mark_bounced(original, reason))
        return out

    async def prepare_many(self, mails: Sequence[tuple[bytes, tuple[str, ...]]]) -> list[Prepared]:
        parsed = [parse(raw) for raw, _ in mails]
        blobs: list[tuple[bytes, str]] = []
        kept: list[tuple[list[tuple[Part, str]], list[str]]] = []
        for (raw, _), mail in zip(mails, parsed, strict=True):
            keep: list[tuple[Part, str]] = []
            skipped: list[str] = []
            for part in mail.parts:
                if len(part.data) > self.config.max_attachment_bytes:
                    skipped.append(part.name or "file")
                    continue
                keep.append((part, sniff(part.data)))
            kept.append((keep, skipped))
            if self.blobs is not None:
                blobs.append((raw, RAW_TYPE))
                blobs.extend((part.data, ctype) for part, ctype in keep)
        refs = iter(await self._store(blobs))
        out: list[Prepared] = []
        for (_raw, envelope_to), mail, (keep, skipped) in zip(mails, parsed, kept, strict=True):
            raw_ref = next(refs) if self.blobs is not None else None
            attachments = tuple(
                AttachmentRef(
                    safe_name(part.name, ctype),
                    ctype,
                    len(part.data),
                    next(refs) if self.blobs is not None else "",
                )
                for part, ctype in keep
            )
            inline = {
                part.content_id: n for n, (part, _ctype) in enumerate(keep) if part.content_id
            }
            out.append(self._message(mail, envelope_to, raw_ref, attachments, skipped, inline))
        return out

    async def _store(self, blobs: list[tuple[bytes, str]]) -> list[str]:
        if not blobs or self.blobs is None:
            return []
        put_many = getattr(self.blobs, "put_many", None)
        if put_many is not None:
            refs: list[str] = await put_many(blobs)
            return refs
        return list(await asyncio.gather(*(self.blobs.put(d, t) for d, t in blobs)))

    def _message(
        self,
        mail: ParsedEmail,
        envelope_to: Sequence[str],
        raw_ref: str | None,
        attachments: tuple[AttachmentRef, ...],
        skipped: Sequence[str],
        inline: dict[str, int] | None = None,
    ) -> Prepared:
        noise = classify(mail, self.config.addresses)
        if mail.sender is None:
            return Prepared(None, mail, noise)
        support, queue = self.config.support_for([*mail.to, *mail.cc, *envelope_to])
        references = mail.references
        report = mail.report
        if noise is Noise.BOUNCE and report and report.original_message_id:
            references = (*references, report.original_message_id)
        text = mail.text
        if skipped:
            limit = self.config.max_attachment_bytes // (1024 * 1024) or 1
            text += "".join(
                f"\n[{name}: larger than {limit} MB, not stored; see the original]"
                for name in skipped
            )
        extra = summary(mail)
        extra["support_address"] = support
        extra["skipped"] = list(skipped)
        if inline:
            extra["inline"] = inline
        if text != mail.full_text:
            extra["quoted"] = True
        message = InboundMessage(
            channel=Channel.EMAIL,
            external_id=mail.external_id,
            sender=mail.sender,
            text=text or "(no text)",
            received_at=mail.date or self.desk.clock(),
            display_name=mail.display_name,
            subject=mail.subject or None,
            html=mail.html,
            attachments=attachments,
            thread=ThreadHints(
                message_id=mail.message_id,
                in_reply_to=mail.in_reply_to,
                references=references,
            ),
            raw_ref=raw_ref,
            extra=extra,
            cc=tuple(a for a in (*mail.to, *mail.cc) if not self.config.is_ours(a)),
            queue=queue,
            noise=noise.value if noise else None,
        )
        return Prepared(message, mail, noise, tuple(skipped))


def _mark_bounced(
    original_id: str, reason: str
) -> Callable[[AsyncSession, datetime], Awaitable[tuple[None, list[Event]]]]:
    """Marks the outbound mail a bounce names as failed, with the server's reason."""

    async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
        found = await tickets.outbound_by_external_id(session, Channel.EMAIL, original_id)
        if found is None:
            return None, []
        return None, list(
            await tickets.record_delivery(session, found, DeliveryStatus.FAILED, reason)
        )

    return work


__all__ = ["EmailConfig", "EmailIntake", "Prepared"]
