"""Builds the email channel from settings (the composition root's part of it): the
receiver, the pollers and the sender each switch on with their own settings; without a
support address the whole channel is off, said once in the log.

More than one mailbox account (``service@`` and ``orders@`` each with their own login, as
Zammad's several email channels): ``SWITCHBOARD_IMAP_ACCOUNTS`` lists IMAP URLs separated
by spaces, ``imaps://USER:PASSWORD@HOST[:PORT]/[FOLDER[,FOLDER...]]`` (``imaps`` is TLS,
993 by default; ``imap`` is plain, 143; user and password percent-encoded, so
``orders%40example.com``; folders default to ``INBOX``). They are polled beside the
account of ``SWITCHBOARD_IMAP_HOST``; each folder keeps its own UIDVALIDITY and last UID
under ``user@host:port/folder``. The setting is a secret: it is never logged or shown."""

from __future__ import annotations

import logging
from urllib.parse import unquote, urlsplit

from channels.attachments import BlobStore
from channels.email.channel import EmailChannel
from channels.email.imap import ImapAccount
from channels.email.intake import EmailConfig, EmailIntake
from channels.email.sender import EmailSender, SmtpServer
from channels.email.smtpd import parse_listen
from switchboard.settings import Settings, SettingsError
from tickets import Desk

log = logging.getLogger(__name__)


def make_email(settings: Settings, desk: Desk, blobs: BlobStore) -> EmailChannel | None:
    config = EmailConfig.parse(
        settings.support_address,
        settings.email_queues,
        settings.email_domains,
        settings.attachment_max_bytes,
    )
    desk.subject_days = max(0, settings.email_subject_days)
    if not config.enabled:
        log.info("email: off (set SWITCHBOARD_SUPPORT_ADDRESS to turn it on)")
        return None
    listen = None
    if settings.smtp_listen:
        try:
            listen = parse_listen(settings.smtp_listen)
        except ValueError as err:
            raise SettingsError(str(err)) from err
    sender = None
    if settings.smtp_host:
        sender = EmailSender(
            SmtpServer(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_username,
                settings.smtp_password,
                settings.smtp_tls,
                timeout_s=min(20.0, settings.outbox_send_timeout_s),
            ),
            default_from=next(iter(config.addresses)),
            domain=config.message_domain,
            blobs=blobs,
        )
    else:
        log.info("email: replies off (set SWITCHBOARD_SMTP_HOST to send mail)")
    imap = None
    if settings.imap_host and settings.imap_username and settings.imap_password:
        imap = ImapAccount(
            settings.imap_host,
            settings.imap_port,
            settings.imap_username,
            settings.imap_password,
            settings.imap_tls,
            mailboxes=tuple(m.strip() for m in settings.imap_mailboxes.split(",") if m.strip()),
            move_to=settings.imap_move_to,
            poll_s=settings.imap_poll_s,
        )
    elif settings.imap_host:
        log.info("email: IMAP polling off (SWITCHBOARD_IMAP_USERNAME/_PASSWORD missing)")
    return EmailChannel(
        EmailIntake(desk, blobs, config),
        sender=sender,
        listen=listen,
        max_bytes=settings.smtp_max_bytes,
        imap=imap,
        more_imap=parse_accounts(
            settings.imap_accounts, settings.imap_move_to, settings.imap_poll_s
        ),
    )


def parse_accounts(
    raw: str | None, move_to: str | None = None, poll_s: float = 60.0
) -> tuple[ImapAccount, ...]:
    """``SWITCHBOARD_IMAP_ACCOUNTS`` as accounts; ``SettingsError`` naming the bad entry
    (by position: the entry holds a password)."""
    accounts = []
    for n, url in enumerate((raw or "").split(), start=1):
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (
            parts.scheme not in ("imap", "imaps")
            or not parts.hostname
            or not parts.username
            or not parts.password
            or port == -1
        ):
            raise SettingsError(
                f"SWITCHBOARD_IMAP_ACCOUNTS: entry {n} is not "
                "imaps://USER:PASSWORD@HOST[:PORT]/[FOLDER,...]"
            )
        tls = parts.scheme == "imaps"
        folders = tuple(f.strip() for f in unquote(parts.path.lstrip("/")).split(",") if f.strip())
        accounts.append(
            ImapAccount(
                parts.hostname,
                port or (993 if tls else 143),
                unquote(parts.username),
                unquote(parts.password),
                tls,
                mailboxes=folders or ("INBOX",),
                move_to=move_to,
                poll_s=poll_s,
            )
        )
    return tuple(accounts)
