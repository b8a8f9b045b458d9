"""Finds order references, serial numbers, part numbers and product models in a
customer's text, so the ERP is asked before the agent has to.

The defaults cover the demo's and the adapters' usual numbering: orders ``SO-2291``,
ERPNext's ``SAL-ORD-2026-00042`` and Odoo's ``S00042``; serials ``SN-AC-2026-0042``; parts
``CP-KFR35-01``; appliance models ``KFR-35GW/BpTYC1``, ``XQG80-BD14126``, ``BCD-470WDPG``,
``ES60H-J5``. Each pattern is replaced by a setting (``SWITCHBOARD_ERP_ORDER_PATTERN`` ...)
for a company's own numbering. A span claimed by an earlier kind (serials, then orders,
then parts, then models) is not read again, so the ``KFR35`` inside ``CP-KFR35-01`` is no
model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_PER_KIND = 5
"""A message listing fifty serials is a spreadsheet, not a question: the first few count."""

_B0, _B1 = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"
"""ASCII word edges: Chinese text runs straight into a number (订单SO-2291到了吗)."""
DEFAULT_PATTERNS = {
    "serials": _B0 + r"SN-[A-Z]{2}-\d{4}-\d{4}" + _B1,
    "orders": _B0 + r"(?:SO-\d{4,6}|SAL-ORD-\d{4}-\d{5}|S\d{5})" + _B1,
    "parts": _B0 + r"[A-Z]{2}-[A-Z]{2,5}\d{2,4}[A-Z]?-\d{2}" + _B1,
    "models": _B0
    + r"(?:KFR|KFRd|XQG|XQB|BCD|ES|JSQ)-?\d{2,3}[A-Za-z0-9]*(?:-[A-Za-z0-9]+)?(?:/[A-Za-z0-9]+)?"
    + _B1,
}
KINDS = ("serials", "orders", "parts", "models")
_CASE_FREE = {"serials", "orders"}


@dataclass(frozen=True, slots=True)
class Found:
    serials: tuple[str, ...] = ()
    orders: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    models: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.serials or self.orders or self.parts or self.models)


@dataclass
class Detector:
    patterns: dict[str, re.Pattern[str]] = field(default_factory=dict)

    @classmethod
    def with_overrides(cls, overrides: dict[str, str | None] | None = None) -> Detector:
        chosen = dict(DEFAULT_PATTERNS)
        for kind, pattern in (overrides or {}).items():
            if pattern:
                if kind not in chosen:
                    raise ValueError(f"unknown kind {kind!r}")
                chosen[kind] = pattern
        compiled = {}
        for kind in KINDS:
            try:
                compiled[kind] = re.compile(
                    chosen[kind], re.IGNORECASE if kind in _CASE_FREE else 0
                )
            except re.error as err:
                raise ValueError(f"the {kind} pattern is not a regular expression: {err}") from err
        return cls(compiled)

    def scan(self, text: str) -> Found:
        taken: list[tuple[int, int]] = []
        found: dict[str, list[str]] = {}
        for kind in KINDS:
            values: list[str] = []
            for match in self.patterns[kind].finditer(text):
                start, end = match.span()
                if any(start < b and a < end for a, b in taken):
                    continue
                taken.append((start, end))
                value = match.group(0).upper() if kind in _CASE_FREE else match.group(0)
                if value not in values:
                    values.append(value)
                if len(values) >= MAX_PER_KIND:
                    break
            found[kind] = values
        return Found(*(tuple(found[k]) for k in KINDS))
