"""Loop and noise protection: which mails are machines talking (auto-replies, bounces,
bulk mail, our own mail coming back). They are recorded on the ticket they refer to, but
never answered and never open a ticket (a ticket per vacation notice, or an auto-reply
answering our auto-reply, is how helpdesks flood themselves).

Signals, in order: our own address in From (a loop); a bounce (a delivery report, or
mail from MAILER-DAEMON/postmaster); RFC 3834 ``Auto-Submitted`` other than ``no``,
``X-Autoreply``/``X-Autorespond``, ``Precedence: bulk|junk|list`` or list headers;
out-of-office subjects in English and Chinese.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection

from channels.email.parse import ParsedEmail


class Noise(enum.StrEnum):
    OWN_ADDRESS = "own_address"
    BOUNCE = "bounce"
    AUTO_REPLY = "auto_reply"
    BULK = "bulk"


_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"(undeliver|delivery status notification|returned mail|delivery failure|"
    r"mail delivery failed|退信|无法投递|投递失败|未能送达)",
    re.IGNORECASE,
)
_OOO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?reply|auto[- ]?response|out of (the )?office|"
    r"abwesenheitsnotiz|réponse automatique|自动回复|自動回覆|自动答复|休假|不在办公室|外出)",
    re.IGNORECASE,
)


def classify(parsed: ParsedEmail, own_addresses: Collection[str]) -> Noise | None:
    sender = (parsed.sender or "").lower()
    if sender and sender in own_addresses:
        return Noise.OWN_ADDRESS
    if parsed.report is not None and parsed.report.status is not None:
        return Noise.BOUNCE
    if parsed.content_type == "multipart/report" or _DAEMON.match(sender):
        return Noise.BOUNCE
    if "x-failed-recipients" in parsed.headers and _BOUNCE_SUBJECT.search(parsed.subject):
        return Noise.BOUNCE
    auto = parsed.headers.get("auto-submitted", "").strip().lower()
    if auto and not auto.startswith("no"):
        return Noise.AUTO_REPLY
    if "x-autoreply" in parsed.headers or "x-autorespond" in parsed.headers:
        return Noise.AUTO_REPLY
    if _OOO_SUBJECT.search(parsed.subject):
        return Noise.AUTO_REPLY
    precedence = parsed.headers.get("precedence", "").strip().lower()
    if precedence in ("bulk", "junk", "list") or "list-id" in parsed.headers:
        return Noise.BULK
    if "list-unsubscribe" in parsed.headers and precedence:
        return Noise.BULK
    return None
