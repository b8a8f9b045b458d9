"""Builds the email channel from settings (the composition root's part of it): the
receiver, the pollers and the sender each switch on with their own settings; without a
support address the whole channel is off, said once in the log."""

from __future__ import annotations

import logging

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
    )
