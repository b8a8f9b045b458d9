"""One canonical spelling per customer address, so the same person is one identity:
phones in E.164 (default region CN, where most of our users are), emails lower-cased."""

from __future__ import annotations

import functools

import phonenumbers

from tickets.contracts import Channel

PHONE_CHANNELS = frozenset({Channel.SMS, Channel.VOICE})
DEFAULT_REGION = "CN"


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
