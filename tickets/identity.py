"""One canonical spelling per customer address, so the same person is one identity:
phones in E.164 (default region CN, where most of our users are), emails lower-cased.

A phone number is one identity whatever phone channel it arrives on: SMS and voice store
their identity under ``PHONE_IDENTITY`` ("phone"), so a text and a call from the same
number (however it was written) reach one customer, while each ticket keeps its own
channel. Every identity lookup by channel goes through ``identity_channel``."""

from __future__ import annotations

import functools

import phonenumbers

from tickets.contracts import Channel

PHONE_CHANNELS = frozenset({Channel.SMS, Channel.VOICE})
PHONE_IDENTITY = "phone"
DEFAULT_REGION = "CN"


def identity_channel(channel: Channel | str) -> str:
    """The ``customer_identities.channel`` value that holds addresses of ``channel``."""
    value = str(channel)
    return PHONE_IDENTITY if value in PHONE_CHANNELS else value


class InvalidAddress(ValueError):
    pass


@functools.lru_cache(maxsize=65536)
def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as err:
        raise InvalidAddress(f"not a phone number: {raw!r}") from err
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidAddress(f"not a possible phone number: {raw!r}")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def normalize_email(raw: str) -> str:
    text = raw.strip().strip("<>").strip()
    if "@" not in text or text.startswith("@") or text.endswith("@") or " " in text:
        raise InvalidAddress(f"not an email address: {raw!r}")
    return text.lower()


def normalize_address(channel: Channel, raw: str) -> str:
    if channel in PHONE_CHANNELS:
        return normalize_phone(raw)
    if channel is Channel.EMAIL:
        return normalize_email(raw)
    text = raw.strip()
    if not text or len(text) > 320:
        raise InvalidAddress(f"bad {channel} address: {raw!r}")
    return text
