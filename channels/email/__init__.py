"""The email channel: intake from an SMTP receiver and IMAP pollers, parsing that survives
real-world mail and Chinese charsets, loop protection, outbound replies that thread back,
and the timeline rendering of mail on the ticket page.

Modules: ``parse`` and ``charsets`` (bytes to our types), ``classify`` (noise),
``intake`` (blobs, batches, ingest), ``smtpd`` (aiosmtpd), ``imap`` (aioimaplib),
``sender`` (aiosmtplib), ``models`` (the poller's place per mailbox), ``timeline`` (the
ticket page), ``channel`` (what the app starts and stops)."""
