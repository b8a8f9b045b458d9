"""Our own tokenizing for full-text search, the same on SQLite and PostgreSQL.

Text is turned into a string of plain tokens (letters, digits and CJK characters separated
by spaces) that both databases index with their simplest tokenizer (FTS5 ``unicode61``,
PostgreSQL's ``simple`` configuration), so both find exactly the same rows:

- Chinese (and other CJK) text becomes overlapping character bigrams plus the single
  characters: ``空调漏水`` -> ``空调 调漏 漏水 空 调 漏 水``. A 2-character query (``漏水``)
  is one bigram; a 1-character query (``水``) one single character; a longer query is the
  bigrams of its runs, all required.
- Latin words are NFKC-normalised, case-folded and lightly stemmed (plurals, ``-ing``,
  ``-ed``, ``-ation``, a final ``e``), so ``leaking``, ``leaks`` and ``leaked`` meet.
- A model number (letters and digits mixed, or parts joined by ``-``, ``/``, ``.`` or
  ``_``) is kept whole (separators dropped) and also split into its parts and the prefixes
  that end at a separator: ``KFR-35GW/BpTYC1`` -> ``kfr35gwbptyc1 kfr 35gw bptyc1 kfr35gw``,
  so the query ``KFR-35GW`` (whole: ``kfr35gw``) finds it.
- A handful of English stop words are dropped, so ``how to clean the filter`` asks for
  ``clean`` and ``filter``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

MAX_TEXT = 20_000
"""Characters of one text that are indexed (a tsvector is limited to 1 MB; the rest of a
very long message is still stored, only not searchable)."""

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORD = rf"[^\W_{_CJK}]"
_PIECE = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>{_WORD}+(?:[-/._]{_WORD}+)*)")
_SPLIT = re.compile(r"[-/._]")

# fmt: off
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from",
    "has", "have", "how", "i", "if", "in", "is", "it", "its", "me", "my", "no", "not", "of",
    "on", "or", "our", "so", "than", "that", "the", "there", "this", "to", "was", "we", "what",
    "when", "where", "which", "why", "will", "with", "you", "your",
})
# fmt: on
"""Dropped from text and queries; changing this list needs the index rebuilt (the stored
token strings hold the old choice)."""


def stem(word: str) -> str:
    """A light English stemmer: enough to meet inflections, never so eager that two
    everyday words collide."""
    if not word.isascii() or not word.isalpha() or len(word) <= 3:
        return word
    for suffix, keep in (("ational", 3), ("ation", 3), ("ies", 2), ("ing", 3), ("ed", 3)):
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            base = word[: -len(suffix)]
            if suffix == "ies":
                return base + "y"
            if len(base) >= 4 and base[-1] == base[-2] and base[-1] not in "aeiouls":
                base = base[:-1]
            return _drop_e(base)
    if (word.endswith("es") and word[-3] in "sxz") or word.endswith(("ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return _drop_e(word[:-1])
    return _drop_e(word)


def _drop_e(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


@dataclass(frozen=True, slots=True)
class Piece:
    """One run of the text: where it is (in the NFKC text) and its tokens for the index
    and for a query."""

    start: int
    end: int
    index: tuple[str, ...]
    query: tuple[str, ...]


_CJK_CHAR = re.compile(f"[{_CJK}]")


def is_cjk(char: str) -> bool:
    return _CJK_CHAR.match(char) is not None


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text[:MAX_TEXT])


def pieces(text: str) -> Iterator[Piece]:
    """The runs of an already normalised text (``normalize``) with their tokens."""
    for match in _PIECE.finditer(text):
        run = match.group()
        if match.group("cjk") is not None:
            bigrams = tuple(run[i : i + 2] for i in range(len(run) - 1))
            yield Piece(match.start(), match.end(), (*bigrams, *run), bigrams or (run,))
            continue
        word = run.casefold()
        parts = [p for p in _SPLIT.split(word) if p]
        if len(parts) == 1 and (word.isalpha() or word.isdigit()):
            if word in STOP_WORDS:
                continue
            stemmed = stem(word)
            yield Piece(match.start(), match.end(), (stemmed,), (stemmed,))
            continue
        whole = "".join(parts)
        prefixes = ["".join(parts[: i + 1]) for i in range(1, len(parts) - 1)]
        index = dict.fromkeys([whole, *parts, *prefixes])
        yield Piece(match.start(), match.end(), tuple(index), (whole,))


def index_tokens(text: str) -> list[str]:
    """Every token of a text, in order (repeats kept: they are the term frequency)."""
    return [t for p in pieces(normalize(text)) for t in p.index]


def token_string(*texts: str) -> str:
    """The stored, indexed form of one or more texts."""
    return " ".join(t for text in texts for t in index_tokens(text))


def query_terms(query: str) -> list[str]:
    """The distinct terms a query asks for, in order."""
    return list(dict.fromkeys(t for p in pieces(normalize(query)) for t in p.query))
