"""Which queue a new ticket enters, by keywords in its subject and text.

This is the first, rule-based cut; the routing engine issue adds tiers, languages and
rules stored with each queue. A rule naming a queue that does not exist is skipped."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tickets.contracts import InboundMessage


@dataclass(frozen=True, slots=True)
class KeywordRule:
    pattern: re.Pattern[str]
    queue: str


DEFAULT_RULES: tuple[KeywordRule, ...] = (
    KeywordRule(
        re.compile(
            r"\bSO-?\d+|\border\b|\bdelivery\b|\brefund\b|\binvoice\b|订单|物流|发货|快递|退款|发票|到货",
            re.IGNORECASE,
        ),
        "Orders",
    ),
)


class QueueRules:
    def __init__(
        self, rules: Sequence[KeywordRule] = DEFAULT_RULES, default: str | None = "Repairs"
    ) -> None:
        self.rules = tuple(rules)
        self.default = default

    def __call__(self, msg: InboundMessage) -> list[str]:
        """Candidate queues, best first; ingest takes the first one that exists."""
        text = f"{msg.subject or ''}\n{msg.text}"
        found = [rule.queue for rule in self.rules if rule.pattern.search(text)]
        return [*found, self.default] if self.default else found
