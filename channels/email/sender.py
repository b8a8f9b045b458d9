"""Agent replies by email, sent by the outbox dispatcher through aiosmtplib (the only
module that imports it).

Each reply is multipart (plain text and HTML, plus attachments), From the support address
the customer wrote to with the agent's name, To the customer and CC the ticket's
participants, with the ticket token in the subject and In-Reply-To/References set to the
customer's last mail, so every client threads it and the customer's answer threads back
(Outlook, which keeps only References, included). The Message-ID carries the outbox's
idempotency key (``<sb-KEY@domain>``): a retry after a timeout sends the same id, which
receiving servers and our own intake treat as the same mail.

Errors: a 5xx answer (bad recipient, refused content) is permanent, with the server's
words as the reason the agent sees; 4xx, timeouts and connection trouble are temporary
and retried with backoff by the outbox.
"""

from __future__ import annotations

import html
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from channels.attachments import BlobStore
from channels.base import PermanentFailure, SendResult, TemporaryFailure
from tickets import Channel, DeliveryStatus, OutboundMessage


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    tls: bool = True
    timeout_s: float = 20.0

    def __repr__(self) -> str:
        return f"SmtpServer(host={self.host!r}, port={self.port}, tls={self.tls})"


def message_id_for(key: str, domain: str) -> str:
    return f"<sb-{key}@{domain}>"


class EmailSender:
    channel = Channel.EMAIL

    def __init__(
        self,
        server: SmtpServer,
        default_from: str,
        domain: str,
        blobs: BlobStore | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.server = server
        self.default_from = default_from
        self.domain = domain
        self.blobs = blobs
        self.tls_context = tls_context

    async def build(self, message: OutboundMessage) -> EmailMessage:
        mail = EmailMessage()
        sender = message.reply_from or self.default_from
        local, _, domain = sender.partition("@")
        mail["From"] = Address(message.author or "", local, domain)
        mail["To"] = message.recipient
        if message.cc:
            mail["Cc"] = ", ".join(message.cc)
        mail["Subject"] = subject_for(message.subject or "", message.ticket_number)
        mail["Message-ID"] = message_id_for(message.idempotency_key, self.domain)
        if message.created_at is not None:
            mail["Date"] = format_datetime(message.created_at)
        if message.thread.in_reply_to:
            mail["In-Reply-To"] = message.thread.in_reply_to
        refs = list(message.thread.references)
        if message.thread.in_reply_to and message.thread.in_reply_to not in refs:
            refs.append(message.thread.in_reply_to)
        if refs:
            mail["References"] = " ".join(refs)
        mail["Auto-Submitted"] = "no"
        mail["X-Switchboard-Ticket"] = message.ticket_number
        mail.set_content(message.text)
        mail.add_alternative(message.html or text_to_html(message.text), subtype="html")
        for attachment in message.attachments:
            if self.blobs is None:
                break
            data = await self.blobs.open(attachment.blob_ref)
            maintype, _, subtype = attachment.content_type.partition("/")
            mail.add_attachment(
                data,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=attachment.name,
            )
        return mail

    async def send(self, message: OutboundMessage) -> SendResult:
        mail = await self.build(message)
        recipients = [message.recipient, *message.cc]
        port = self.server.port
        try:
            await aiosmtplib.send(
                mail,
                hostname=self.server.host,
                port=port,
                username=self.server.username,
                password=self.server.password,
                use_tls=self.server.tls and port == 465,
                start_tls=self.server.tls and port != 465,
                tls_context=self.tls_context,
                timeout=self.server.timeout_s,
                recipients=recipients,
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            reasons = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in err.recipients)
            if all(r.code >= 500 for r in err.recipients):
                raise PermanentFailure(f"recipient refused: {reasons}") from err
            raise TemporaryFailure(f"recipient deferred: {reasons}") from err
        except aiosmtplib.SMTPResponseException as err:
            text = f"{err.code} {err.message}"
            if 500 <= err.code < 600:
                raise PermanentFailure(f"the mail server refused the message: {text}") from err
            raise TemporaryFailure(f"the mail server deferred the message: {text}") from err
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
            raise TemporaryFailure(f"cannot reach the mail server: {err}") from err
        return SendResult(external_id=str(mail["Message-ID"]), status=DeliveryStatus.SENT)


def subject_for(subject: str, number: str) -> str:
    token = f"[#{number}]"
    if token.lower() in subject.lower():
        return subject
    base = subject.strip() or number
    return f"Re: {base} {token}"


def text_to_html(text: str) -> str:
    paragraphs = (html.escape(p).replace("\n", "<br>") for p in text.split("\n\n"))
    return "".join(f"<p>{p}</p>" for p in paragraphs)
