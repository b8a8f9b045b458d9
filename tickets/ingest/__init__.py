"""Ingest: one inbound message into the ticket store in one transaction. The policy
(identity, duplicates, threading) lives once in ``policy``; ``store`` is the port it works
through, with a portable SQLAlchemy store (``sql``) and a fast path per database
(``pg``: prepared asyncpg statements; ``sqlite``: one trip to aiosqlite's thread per
statement)."""

from tickets.ingest.policy import IngestResult, QueueChooser, ingest, ingest_with

__all__ = ["IngestResult", "QueueChooser", "ingest", "ingest_with"]
