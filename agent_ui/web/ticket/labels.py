"""The words the ticket page shows for our own codes (channels, statuses, priorities,
delivery states, SLA clocks), translated at render time in the user's language. ``N_``
marks a message for extraction without translating it at import."""

from __future__ import annotations

from agent_ui.web.i18n import gettext_


def N_(message: str) -> str:
    return message


CHANNELS = {
    "email": N_("Email"),
    "sms": N_("SMS"),
    "voice": N_("Voice call"),
    "phone": N_("Phone"),
    "webchat": N_("Web chat"),
    "telegram": N_("Telegram"),
    "api": N_("API"),
}
STATUSES = {
    "new": N_("New"),
    "open": N_("Open"),
    "pending": N_("Pending"),
    "waiting_parts": N_("Waiting for parts"),
    "solved": N_("Solved"),
    "closed": N_("Closed"),
}
PRIORITIES = {
    "low": N_("Low"),
    "normal": N_("Normal"),
    "high": N_("High"),
    "urgent": N_("Urgent"),
}
DELIVERY = {
    "queued": N_("Queued"),
    "sent": N_("Sent"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
}
SLA_CLOCKS = {
    "first_response": N_("First response"),
    "next_response": N_("Next response"),
    "resolution": N_("Resolution"),
}


def _label(table: dict[str, str], code: object) -> str:
    text = str(code or "")
    return gettext_(table[text]) if text in table else text


def channel_name(code: object) -> str:
    return _label(CHANNELS, code)


def status_name(code: object) -> str:
    return _label(STATUSES, code)


def priority_name(code: object) -> str:
    return _label(PRIORITIES, code)


def delivery_name(code: object) -> str:
    return _label(DELIVERY, code)


def sla_name(code: object) -> str:
    return _label(SLA_CLOCKS, code)


def duration(seconds: float | int | None) -> str:
    """``2d 3h``, ``1h 05m``, ``4m 09s``: the same format ``ticket.js`` counts down in."""
    if seconds is None:
        return ""
    left = abs(int(seconds))
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"
