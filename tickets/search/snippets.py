"""Highlighted snippets: the part of a text where a query's terms are densest, HTML-escaped,
with each hit wrapped in ``<mark>``. Hits are found with the same tokenizer as the index,
so a snippet marks exactly what matched (a stemmed word, a bigram inside a Chinese run,
a model number)."""

from __future__ import annotations

from html import escape

from tickets.search.tokens import is_cjk, normalize, pieces


def hits(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Where the terms occur in ``text`` (already normalised), as merged spans."""
    wanted = set(terms)
    spans: list[tuple[int, int]] = []
    for piece in pieces(text):
        found = wanted.intersection(piece.index)
        if not found:
            continue
        run = text[piece.start : piece.end]
        if not is_cjk(run[0]):
            spans.append((piece.start, piece.end))
            continue
        for term in found:
            at = run.find(term)
            while at >= 0:
                spans.append((piece.start + at, piece.start + at + len(term)))
                at = run.find(term, at + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet(text: str, terms: list[str], width: int = 160) -> str:
    """Up to ``width`` characters around the densest hits, escaped, hits in ``<mark>``."""
    shown = " ".join(text.split())
    plain = normalize(shown)
    spans = hits(plain, terms)
    if len(plain) == len(shown):
        plain = shown  # full-width punctuation shown as written (NFKC kept the offsets)
    if not spans:
        cut = plain[:width]
        return escape(cut) + ("…" if len(plain) > width else "")
    best, best_count = 0, -1
    for start, _ in spans:
        begin = max(0, start - width // 4)
        count = sum(1 for s, e in spans if s >= begin and e <= begin + width)
        if count > best_count:
            best, best_count = begin, count
    end = min(len(plain), best + width)
    out = ["…" if best > 0 else ""]
    at = best
    for s, e in spans:
        if e <= best or s >= end:
            continue
        s, e = max(s, best), min(e, end)
        out.append(escape(plain[at:s]))
        out.append(f"<mark>{escape(plain[s:e])}</mark>")
        at = e
    out.append(escape(plain[at:end]))
    out.append("…" if end < len(plain) else "")
    return "".join(out)
