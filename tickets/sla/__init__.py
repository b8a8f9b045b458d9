"""SLA: business calendars and the clocks that run on them (first response, next
response, resolution), with the watch that fires warnings and breaches once."""

from tickets.sla.calendar import ALWAYS, Calendar
from tickets.sla.clocks import SlaBreached, SlaClocks, SlaStarted, SlaWarning, with_remaining

__all__ = [
    "ALWAYS",
    "Calendar",
    "SlaBreached",
    "SlaClocks",
    "SlaStarted",
    "SlaWarning",
    "with_remaining",
]
