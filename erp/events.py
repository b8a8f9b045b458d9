"""The ERP room's event: the background lookups attached new findings to a ticket (the
ticket page and API show its ``erp`` section; screens showing the ticket refresh)."""

from __future__ import annotations

from dataclasses import dataclass

from tickets import Event, register_event


@register_event
@dataclass(frozen=True, slots=True)
class ErpFindingsUpdated(Event):
    ticket_id: int
    number: str
    found: int
    unavailable: int
