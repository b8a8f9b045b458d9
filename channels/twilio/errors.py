"""Twilio's numeric error codes in words an agent can act on: what the delivery status of
a message shows next to ``failed`` (the send's own error or a status callback's
``ErrorCode``). Codes not listed here link to Twilio's page for the code."""

from __future__ import annotations

OPTED_OUT = 21610
"""Twilio refuses to send to a number that replied STOP (the identity becomes opted out)."""

EXPLAINED: dict[int, str] = {
    20429: "Twilio is rate limiting this account (too many requests)",
    21211: "the number is not a valid phone number",
    21408: "this account may not send SMS to that country or region",
    21606: "the sending number cannot send SMS",
    21610: "the customer opted out of SMS from this number (replied STOP)",
    21612: "Twilio cannot route SMS between these two numbers",
    21614: "the number is not a mobile number and cannot receive SMS",
    21617: "the text is longer than 1600 characters",
    30001: "the message queue overflowed at Twilio; it was not sent",
    30002: "the Twilio account is suspended",
    30003: "the handset is unreachable (switched off or out of coverage)",
    30004: "the message was blocked (the customer or the carrier blocks this sender)",
    30005: "the number does not exist or is no longer in service",
    30006: "the number is a landline or cannot receive SMS",
    30007: "the carrier filtered the message as spam",
    30008: "the carrier reported an unknown error",
    30034: "the sending number is not registered for A2P 10DLC messaging",
}


def explain(code: int | str | None, fallback: str = "") -> str:
    """``"Twilio error 30003: the handset is unreachable ..."``, or the fallback (the
    provider's own message) when the code is unknown or missing."""
    try:
        number = int(code) if code not in (None, "") else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        return fallback or "Twilio reported an error without a code"
    words = EXPLAINED.get(number) or fallback or "see the code's page at Twilio"
    return f"Twilio error {number}: {words} (https://www.twilio.com/docs/errors/{number})"
