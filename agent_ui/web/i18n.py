"""Translations for the web app: gettext catalogs, one per UI area (``base``,
``workspace``, ``wallboard``, ...), so each area's translators and each room's pages keep
their own ``.po`` file, merged at load into one catalog per language.

The catalogs are compiled to ``.mo`` by ``python scripts/i18n.py compile`` and the ``.mo``
files are committed (a test fails when a ``.po`` changed and its ``.mo`` was not rebuilt),
so an install needs no Babel. The language is the user's preference, else the best match of
the browser's ``Accept-Language``, else English. The active language lives in a context
variable set per request, which the jinja2 i18n extension and ``_()`` in Python read.
"""

from __future__ import annotations

import contextvars
import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"zh_CN": "中文（简体）", "en": "English"}
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}

_current: contextvars.ContextVar[str] = contextvars.ContextVar("ui_language", default="en")


@cache
def catalog(language: str) -> gettext.NullTranslations:
    """Every domain's compiled catalog for ``language`` chained into one."""
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    merged: gettext.NullTranslations = gettext.NullTranslations()
    for mo in sorted(folder.glob("*.mo")) if folder.is_dir() else []:
        with mo.open("rb") as fp:
            found = gettext.GNUTranslations(fp)
        found.add_fallback(merged)
        merged = found
    return merged


def normalize(language: str | None) -> str | None:
    """Our language code for a tag like ``zh-CN``, ``zh-Hans``, ``zh``, ``en-US``."""
    if not language:
        return None
    tag = language.strip().replace("_", "-").lower()
    if tag.startswith("zh"):
        return "zh_CN"
    if tag.startswith("en"):
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """The best supported language of an ``Accept-Language`` header (q-values honoured)."""
    if not header:
        return None
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        found = normalize(tag)
        if found and quality > 0:
            choices.append((-quality, position, found))
    return min(choices)[2] if choices else None


def choose(preferred: str | None, accept_language: str | None) -> str:
    return normalize(preferred) or from_accept_language(accept_language) or DEFAULT_LANGUAGE


@contextmanager
def active(language: str) -> Iterator[None]:
    token = _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> str:
    return _current.get()


def set_current(language: str) -> None:
    """Sets the language for the rest of this request's task."""
    _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def gettext_(message: str) -> str:
    return catalog(_current.get()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return catalog(_current.get()).ngettext(singular, plural, n)


_ = gettext_
