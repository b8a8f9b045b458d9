"""Which queue a new ticket enters, decided once, at ingest: the queues' routing rules in
``position`` order, each matching on channel, keywords in the subject and text, the
language detected from the text, and the customer's tier (ingest passes it). A rule with
no condition of a kind matches every value of it. The first matching queue wins, then
the default queue.

The default queue is the one whose routing row says ``is_default``; when no row marks
one, the queue named ``General`` (which ``switchboard db upgrade`` creates on an empty
install), or else the only queue there is. No other queue name is built in: the demo's
Orders and Repairs rules are demo data in the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from routing.loader import QueueConfig
from tickets import InboundMessage, detect_language

DEFAULT_QUEUE_NAME = "General"


def default_queues(queues: Sequence[QueueConfig]) -> list[QueueConfig]:
    marked = [q for q in queues if q.is_default]
    if marked:
        return marked
    named = [q for q in queues if q.name == DEFAULT_QUEUE_NAME]
    if named:
        return named
    return list(queues) if len(queues) == 1 else []


class QueueRules:
    """A ``tickets.QueueChooser``; the engine updates it whenever the configuration is
    re-read."""

    def __init__(self, queues: Iterable[QueueConfig] = ()) -> None:
        self.update(queues)

    def update(self, queues: Iterable[QueueConfig]) -> None:
        ordered = sorted(queues, key=lambda q: (q.position, q.id))
        self.rules = [q for q in ordered if q.channels or q.keywords or q.languages or q.tiers]
        self.defaults = [q.name for q in default_queues(ordered)]

    def choose(self, channel: str, text: str, tier: str | None = None) -> list[str]:
        """Candidate queue names, best first."""
        language = detect_language(text)
        lowered = text.lower()
        found = [
            q.name
            for q in self.rules
            if (not q.channels or channel in q.channels)
            and (not q.keywords or any(k.lower() in lowered for k in q.keywords))
            and (not q.languages or language in q.languages)
            and (not q.tiers or (tier is not None and tier in q.tiers))
        ]
        return [*found, *self.defaults]

    def __call__(self, msg: InboundMessage, tier: str) -> Sequence[str]:
        return self.choose(msg.channel.value, f"{msg.subject or ''}\n{msg.text}", tier)
