"""Which queue a new ticket enters: the queues' routing rules in ``position`` order, each
matching on channel, keywords in the subject and text, the language detected from the
text, and (applied by the engine, which knows the customer) the customer's tier. A rule
with no condition of a kind matches every value of it. The first matching queue wins, then
the default queue.

Until the engine has loaded the queues' rules (or when no queue has any), a built-in
keyword rule sends order questions to ``Orders`` and the rest to ``Repairs``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from routing.loader import QueueConfig
from tickets import InboundMessage, detect_language

FALLBACK_ORDERS = re.compile(
    r"\bSO-?\d+|\border\b|\bdelivery\b|\brefund\b|\binvoice\b|订单|物流|发货|快递|退款|发票|到货",
    re.IGNORECASE,
)


class QueueRules:
    def __init__(self, queues: Iterable[QueueConfig] = ()) -> None:
        self.update(queues)

    def update(self, queues: Iterable[QueueConfig]) -> None:
        ordered = sorted(queues, key=lambda q: (q.position, q.id))
        self.rules = [q for q in ordered if q.channels or q.keywords or q.languages or q.tiers]
        self.defaults = [q.name for q in ordered if q.is_default]

    def choose(self, channel: str, text: str, tier: str | None = None) -> list[str]:
        """Candidate queue names, best first."""
        if not self.rules and not self.defaults:
            return (["Orders"] if FALLBACK_ORDERS.search(text) else []) + ["Repairs"]
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

    def __call__(self, msg: InboundMessage) -> Sequence[str]:
        return self.choose(msg.channel.value, f"{msg.subject or ''}\n{msg.text}")

    @property
    def uses_tiers(self) -> bool:
        return any(q.tiers for q in self.rules)
