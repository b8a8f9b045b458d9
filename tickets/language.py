"""Cheap language guess for routing and search: Chinese when the text is mostly Han."""

from __future__ import annotations


def is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0xF900 <= code <= 0xFAFF
    )


def detect_language(text: str) -> str | None:
    """'zh', 'en' or None (nothing to go on). Chinese wins at 20% Han among letters,
    because Chinese customers mix in model numbers and English words ("SO-2291 还没到")."""
    han = latin = 0
    for ch in text:
        if is_cjk(ch):
            han += 1
        elif ch.isascii() and ch.isalpha():
            latin += 1
    if han == 0 and latin == 0:
        return None
    return "zh" if han * 5 >= han + latin else "en"
