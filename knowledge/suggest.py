"""Suggestions while an agent works a ticket: the best articles for the ticket's own
words and detected product models, raised by earlier insertions into replies to similar
tickets.

- The ticket's text is its subject and its latest customer messages; every term may
  match (``any_term``), and BM25 weighs the rare ones (a model number, 漏水) above the
  common ones.
- A product model is a word mixing letters and digits with a separator or of at least
  five characters (``KFR-35GW/BpTYC1``, ``XQG100``); the panel shows what it detected.
- An insertion stores the ticket's terms. For a new ticket, each candidate article gets
  the best candidate's score times ``INSERTION_WEIGHT`` times the best Jaccard overlap
  between the ticket's terms and the terms of a ticket that article was inserted for
  (relative, so it weighs the same for short and long texts): what agents actually used
  for nearly the same text rises to the top.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.articles import by_slug
from knowledge.models import Insertion
from knowledge.search import Hit, search_articles
from tickets import NotFound, query_terms

INSERTION_WEIGHT = 1.0
CANDIDATES = 20
MAX_TEXT = 2000
_MODEL = re.compile(
    r"(?<![A-Za-z0-9/-])(?=[A-Za-z0-9/-]*\d)(?=[A-Za-z0-9/-]*[A-Za-z])"
    r"[A-Za-z0-9]+(?:[-/][A-Za-z0-9]+)*(?![A-Za-z0-9-])"
)


def ticket_text(ticket: Mapping[str, Any]) -> str:
    """The subject and the latest inbound messages, newest last, up to ``MAX_TEXT``."""
    inbound = [
        m.get("text") or "" for m in ticket.get("messages", []) if m.get("direction") == "in"
    ]
    text = " ".join([ticket.get("subject") or "", *inbound[-3:]])
    return text[-MAX_TEXT:]


def detect_models(text: str) -> list[str]:
    found = []
    for match in _MODEL.finditer(text):
        word = match.group()
        if "-" in word or "/" in word or len(word) >= 5:
            found.append(word)
    return list(dict.fromkeys(found))


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


async def suggest(
    session: AsyncSession, text: str, *, locale: str | None = None, limit: int = 3
) -> list[Hit]:
    models = detect_models(text)
    extra = [t for m in models for t in query_terms(m)]
    hits = await search_articles(
        session, text[:500], locale=locale, limit=CANDIDATES, extra_terms=extra, any_term=True
    )
    if not hits:
        return []
    terms = set(query_terms(text))
    rows = await session.execute(
        select(Insertion.article_id, Insertion.terms).where(
            Insertion.article_id.in_([h.id for h in hits])
        )
    )
    boost: dict[int, float] = {}
    for article_id, stored in rows.all():
        overlap = _jaccard(terms, set(stored.split()))
        boost[article_id] = max(boost.get(article_id, 0.0), overlap)
    best = hits[0].score
    ranked = sorted(
        hits, key=lambda h: (-(h.score + INSERTION_WEIGHT * best * boost.get(h.id, 0.0)), h.id)
    )
    return ranked[:limit]


async def record_insertion(
    session: AsyncSession,
    slug: str,
    ticket_id: int,
    text: str,
    user_id: int | None,
    now: datetime,
) -> str:
    """Records that ``slug`` went into a reply on the ticket; the text to insert."""
    article = await by_slug(session, slug)
    if article is None:
        raise NotFound(f"no article {slug}")
    session.add(
        Insertion(
            article_id=article.id,
            ticket_id=ticket_id,
            user_id=user_id,
            terms=" ".join(query_terms(text)),
            created_at=now,
        )
    )
    await session.flush()
    return reply_text(article.body)


_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)[^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~|`)(?=\S)(.+?)(?<=\S)\1")


def reply_text(body: str) -> str:
    """An article body as plain text for a reply: headings, emphasis and link syntax
    gone, lists and paragraphs kept."""
    lines: list[str] = []
    for line in body.strip().splitlines():
        line = re.sub(r"^\s{0,3}#{1,6}\s+", "", line)
        line = re.sub(r"^\s{0,3}>\s?", "", line)
        line = _LINK.sub(
            lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(2) else m.group(1), line
        )
        for _ in range(2):
            line = _EMPHASIS.sub(r"\2", line)
        lines.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
