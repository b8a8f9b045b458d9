"""Translated names for values the wallboard shows (channels, presences, SLA clocks and
states, histogram buckets): the data stays in our own codes, the page shows words."""

from __future__ import annotations

from agent_ui.web.i18n import _


def channel(code: str) -> str:
    names = {
        "email": _("Email"),
        "sms": _("SMS"),
        "voice": _("Phone"),
        "webchat": _("Web chat"),
        "telegram": _("Telegram"),
        "api": _("API"),
    }
    return names.get(code, code)


def presence(code: str) -> str:
    names = {"online": _("Online"), "away": _("Away"), "offline": _("Offline")}
    return names.get(code, code)


def clock(code: str) -> str:
    names = {
        "first_response": _("First response"),
        "next_response": _("Next response"),
        "resolution": _("Resolution"),
    }
    return names.get(code, code)


def sla_state(code: str) -> str:
    return {"warning": _("At risk"), "breached": _("Breached")}.get(code, code)


def duration(seconds: int) -> str:
    """A short bound such as "5 min", "4 h", "1 d" for a histogram axis."""
    if seconds < 3600:
        return _("{n} min").format(n=seconds // 60)
    if seconds < 86400:
        return _("{n} h").format(n=seconds // 3600)
    return _("{n} d").format(n=seconds // 86400)


def bucket(lower: int | None, upper: int | None) -> str:
    if upper is None:
        return _("≥ {bound}").format(bound=duration(lower or 0))
    return _("< {bound}").format(bound=duration(upper))
