"""Display names of the values the workspace shows (channel, status, priority, view,
sort, presence), translated in the request's language, and the SLA time-left text."""

from __future__ import annotations

from agent_ui.web.i18n import _


def channel(value: str | None) -> str:
    names = {
        "email": _("Email"),
        "sms": _("SMS"),
        "voice": _("Phone"),
        "webchat": _("Web chat"),
        "telegram": _("Telegram"),
        "api": _("Other"),
    }
    return names.get(value or "", value or "")


def status(value: str | None) -> str:
    names = {
        "new": _("New"),
        "open": _("Open"),
        "pending": _("Pending"),
        "waiting_parts": _("Waiting for parts"),
        "solved": _("Solved"),
        "closed": _("Closed"),
    }
    return names.get(value or "", value or "")


def priority(value: str | None) -> str:
    names = {"low": _("Low"), "normal": _("Normal"), "high": _("High"), "urgent": _("Urgent")}
    return names.get(value or "", value or "")


def view(value: str) -> str:
    names = {
        "mine": _("Mine"),
        "unassigned": _("Unassigned"),
        "open": _("All open"),
        "pending": _("Pending"),
        "waiting_parts": _("Waiting for parts"),
        "solved": _("Solved, last 7 days"),
        "all": _("Search results"),
    }
    return names.get(value, value)


def sort(value: str) -> str:
    names = {"sla": _("SLA due"), "priority": _("Priority"), "activity": _("Last activity")}
    return names.get(value, value)


def presence(value: str) -> str:
    names = {"online": _("Online"), "away": _("Away"), "offline": _("Offline")}
    return names.get(value, value)


def duration(seconds: float) -> str:
    """A short duration: ``2d 3h``, ``1h 05m``, ``12m``, ``40s``."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return _("%(d)dd %(h)dh") % {"d": days, "h": hours}
    if hours:
        return _("%(h)dh %(m)02dm") % {"h": hours, "m": minutes}
    if minutes:
        return _("%(m)dm") % {"m": minutes}
    return _("%(s)ds") % {"s": secs}


def sla_text(sla: dict[str, object] | None) -> tuple[str, str]:
    """What the SLA column says and its tone (``ok``, ``warn``, ``bad``, ``muted``)."""
    if not sla or sla.get("state") is None:
        return "", "muted"
    state = str(sla.get("state"))
    remaining = sla.get("remaining_s")
    if state == "paused":
        return _("Paused"), "muted"
    if state == "met" or not isinstance(remaining, int | float):
        return _("Met"), "ok"
    if state == "breached" or remaining <= 0:
        return _("Breached"), "bad"
    text = _("%(time)s left") % {"time": duration(remaining)}
    return text, "warn" if state == "warning" else "ok"
