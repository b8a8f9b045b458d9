"""Email threading: which ticket an inbound mail belongs to, and why.

In this order (the first that matches wins, and its name is stored on the message as
``thread_reason``, shown to agents and in the API):

1. ``in_reply_to``: the In-Reply-To id is a message of a ticket (ours, sent with our
   Message-ID, or the customer's own earlier mail);
2. ``references``: any id of References, newest first (Outlook keeps only References);
3. ``subject_token``: ``[#SB-1234]`` in the subject;
4. ``subject``: an open email ticket of the same sender with the same normalized subject
   (Re:, Fwd:, 回复:, 转发: ... removed) updated within ``subject_days`` days (0 turns the
   rule off);
5. otherwise ``new``.

A thread id or ticket number found in a mail does not glue strangers together: the sender
must be the ticket's customer or one of its participants (CC of an earlier mail), else the
rule is skipped and the next one tried (newsletters and shared threads used to glue
strangers' replies onto one ticket elsewhere). A closed ticket gets a follow-up instead
(``follow_up``, handled by the caller).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Protocol

from tickets.contracts import InboundMessage
from tickets.ingest.store import TicketRef
from tickets.models import parse_number

SUBJECT_TOKEN = re.compile(r"\[#(SB-\d+)\]", re.IGNORECASE)
_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|aw|wg|sv|vs|antw|tr|rif|r|答复|答覆|回复|回覆|转发|轉寄|转|轉發)"
    r"\s*(\[\d+\])?\s*[:：]\s*|\[#SB-\d+\]\s*)",
    re.IGNORECASE,
)
DEFAULT_SUBJECT_DAYS = 7
MAX_REFS = 20


class ThreadStore(Protocol):
    async def ticket_by_email_refs(self, refs: list[str]) -> TicketRef | None: ...

    async def ticket_by_id(self, ticket_id: int) -> TicketRef | None: ...

    async def may_write(self, ticket_id: int, customer_id: int, address: str) -> bool: ...

    async def open_email_tickets(
        self, customer_id: int, since: datetime
    ) -> list[tuple[int, str, str]]: ...


def normalize_subject(subject: str | None) -> str:
    """The subject without reply/forward prefixes (any language, repeated) and ticket
    tokens, whitespace collapsed and lower-cased: what two mails of one thread share."""
    return clean_subject(subject or "").lower()


def clean_subject(subject: str) -> str:
    """The subject a new email ticket gets: prefixes and ticket tokens removed, case kept."""
    text = SUBJECT_TOKEN.sub(" ", subject)
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    return " ".join(text.split())


async def thread_email(
    store: ThreadStore,
    msg: InboundMessage,
    customer_id: int,
    address: str,
    now: datetime,
    subject_days: int = DEFAULT_SUBJECT_DAYS,
) -> tuple[TicketRef | None, str]:
    """A noise mail (a bounce from MAILER-DAEMON quoting our Message-ID) follows its ids
    without the participant check: it is only recorded, never answered or announced."""

    async def allowed(found: TicketRef | None) -> bool:
        if found is None:
            return False
        return bool(msg.noise) or await store.may_write(found.id, customer_id, address)

    if msg.thread.in_reply_to:
        found = await store.ticket_by_email_refs([msg.thread.in_reply_to])
        if await allowed(found):
            return found, "in_reply_to"
    refs = [r for r in reversed(msg.thread.references) if r and r != msg.thread.in_reply_to]
    for ref in refs[:MAX_REFS]:
        found = await store.ticket_by_email_refs([ref])
        if await allowed(found):
            return found, "references"
    match = SUBJECT_TOKEN.search(msg.subject or "")
    ticket_id = parse_number(match.group(1)) if match else None
    if ticket_id is not None:
        found = await store.ticket_by_id(ticket_id)
        if found is not None and await store.may_write(found.id, customer_id, address):
            return found, "subject_token"
    wanted = normalize_subject(msg.subject)
    if subject_days > 0 and wanted:
        since = now - timedelta(days=subject_days)
        for tid, status, subject in await store.open_email_tickets(customer_id, since):
            if normalize_subject(subject) == wanted:
                return TicketRef(tid, status), "subject"
    return None, "new"
