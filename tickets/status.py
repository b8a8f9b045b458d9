"""Every status set and the one transition table for ticket status; every status change
(staff, routing, ingest's reopen) goes through ``check_transition``, and no other module
spells out a set of statuses."""

from __future__ import annotations

from tickets.contracts import TicketStatus as S

ALLOWED_TRANSITIONS: dict[S, frozenset[S]] = {
    S.NEW: frozenset({S.OPEN, S.PENDING, S.WAITING_PARTS, S.SOLVED, S.CLOSED}),
    S.OPEN: frozenset({S.PENDING, S.WAITING_PARTS, S.SOLVED, S.CLOSED}),
    S.PENDING: frozenset({S.OPEN, S.WAITING_PARTS, S.SOLVED, S.CLOSED}),
    S.WAITING_PARTS: frozenset({S.OPEN, S.PENDING, S.SOLVED, S.CLOSED}),
    S.SOLVED: frozenset({S.OPEN, S.CLOSED}),
    S.CLOSED: frozenset(),
}

# A customer writing again brings a ticket back to work (a closed one never reopens:
# ingest starts a follow-up ticket instead).
REOPEN_ON_CUSTOMER_MESSAGE = frozenset({S.PENDING, S.SOLVED})


# Work that is not finished (counts against nobody's SLA once done).
OPEN_STATUSES = frozenset({S.NEW, S.OPEN, S.PENDING, S.WAITING_PARTS})
# Finished: frees the agent's capacity, stops the SLA clocks.
DONE_STATUSES = frozenset({S.SOLVED, S.CLOSED})
# Waiting on someone else: the resolution clock pauses, routing leaves the ticket alone.
PAUSED_STATUSES = frozenset({S.PENDING, S.WAITING_PARTS})
# Waiting for an agent: what routing queues.
ROUTABLE_STATUSES = frozenset({S.NEW, S.OPEN})


class TransitionError(ValueError):
    pass


def check_transition(old: S, new: S) -> None:
    if old == new:
        return
    if new not in ALLOWED_TRANSITIONS[old]:
        raise TransitionError(f"a {old} ticket cannot become {new}")


def customer_message_reopens(status: S) -> bool:
    """True when a customer's message brings a ticket in ``status`` back to open."""
    if status not in REOPEN_ON_CUSTOMER_MESSAGE:
        return False
    check_transition(status, S.OPEN)
    return True
