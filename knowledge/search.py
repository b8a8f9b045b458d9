"""Article search: the shared full-text index (``tickets.search``) finds candidates, and
one BM25 scorer ranks them the same way on SQLite and PostgreSQL.

1. The query becomes terms (``tickets.query_terms``). All terms must match; when nothing
   does and there are several terms, any term may (a long question still finds the
   article that shares its key words).
2. The database returns the best ``CANDIDATES`` matches by its own rank (FTS5's bm25 with
   the title column weighted, PostgreSQL's ``ts_rank`` with the title as weight ``A``);
   with fewer matches than that, both databases return the same set.
3. Python scores them with BM25 over the stored token strings (title, tags and models
   count ``TITLE_BOOST`` times a body occurrence), with document frequencies and lengths
   from the database, so the same articles get the same scores on both databases.
4. Snippets mark the hits in the article's plain text.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import ARTICLES_INDEX
from knowledge.render import plain_text
from tickets import Invalid, fts5_query, pg_query, query_terms, snippet

CANDIDATES = 50
TITLE_BOOST = 4.0
K1 = 1.2
B = 0.75
MAX_QUERY = 500
MAX_TERMS = 32


@dataclass(frozen=True, slots=True)
class Hit:
    id: int
    slug: str
    title: str
    locale: str
    visibility: str
    category: str
    snippet: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "locale": self.locale,
            "visibility": self.visibility,
            "snippet": self.snippet,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    slug: str
    title: str
    locale: str
    visibility: str
    category: str
    body: str
    title_tokens: str
    body_tokens: str


def _filters(locale: str | None, public_only: bool) -> tuple[str, dict[str, Any]]:
    sql, params = "", {}
    if locale is not None:
        sql += " AND a.locale = :locale"
        params["locale"] = locale
    if public_only:
        sql += " AND a.visibility = 'public'"
    return sql, params


_COLUMNS = (
    "a.id, a.slug, a.title, a.locale, a.visibility, a.category, a.body, "
    "a.title_tokens, a.body_tokens"
)


async def _candidates(
    session: AsyncSession,
    terms: list[str],
    *,
    any_term: bool,
    locale: str | None,
    public_only: bool,
    limit: int,
) -> list[_Row]:
    where, params = _filters(locale, public_only)
    params["limit"] = limit
    if session.get_bind().dialect.name == "postgresql":
        params["q"] = pg_query(terms, any_term=any_term)
        vector = ARTICLES_INDEX.pg_vector("a")
        sql = (
            f"SELECT {_COLUMNS} FROM kb_articles a, to_tsquery('simple'::regconfig, :q) q "
            f"WHERE {vector} @@ q{where} "
            f"ORDER BY ts_rank('{{0.2, 0.2, 0.5, 1.0}}', {vector}, q, 1) DESC, a.id LIMIT :limit"
        )
    else:
        params["q"] = fts5_query(terms, any_term=any_term)
        fts = ARTICLES_INDEX.fts_table
        sql = (
            f"SELECT {_COLUMNS} FROM {fts} JOIN kb_articles a ON a.id = {fts}.rowid "
            f"WHERE {fts} MATCH :q{where} "
            f"ORDER BY bm25({fts}, {TITLE_BOOST}, 1.0), a.id LIMIT :limit"
        )
    rows = await session.execute(text(sql), params)
    return [_Row(*r) for r in rows.all()]


async def _stats(session: AsyncSession, terms: Sequence[str]) -> tuple[int, float, dict[str, int]]:
    """Articles in all, their mean token-string length, and each term's document count."""
    n, total = (
        await session.execute(
            text(
                "SELECT count(*), coalesce(sum(length(title_tokens) * :boost "
                "+ length(body_tokens)), 0) FROM kb_articles"
            ),
            {"boost": TITLE_BOOST},
        )
    ).one()
    df: dict[str, int] = {}
    if session.get_bind().dialect.name == "postgresql":
        vector = ARTICLES_INDEX.pg_vector("a")
        for term in terms:
            df[term] = int(
                (
                    await session.execute(
                        text(
                            f"SELECT count(*) FROM kb_articles a WHERE {vector} "
                            "@@ to_tsquery('simple'::regconfig, :q)"
                        ),
                        {"q": pg_query([term])},
                    )
                ).scalar_one()
            )
    else:
        vocab = ARTICLES_INDEX.fts_table + "_vocab"
        rows = await session.execute(
            text(f"SELECT term, doc FROM {vocab} WHERE term IN ({_in(len(terms))})"),
            {f"t{i}": t for i, t in enumerate(terms)},
        )
        df.update({str(t): int(d) for t, d in rows.all()})
    return int(n), (float(total) / n if n else 1.0), df


def _in(count: int) -> str:
    return ", ".join(f":t{i}" for i in range(count))


def _bm25(row: _Row, terms: Iterable[str], n: int, avg_len: float, df: dict[str, int]) -> float:
    title = Counter(row.title_tokens.split())
    body = Counter(row.body_tokens.split())
    length = len(row.title_tokens) * TITLE_BOOST + len(row.body_tokens)
    norm = K1 * (1 - B + B * length / (avg_len or 1.0))
    score = 0.0
    for term in terms:
        tf = title[term] * TITLE_BOOST + body[term]
        if not tf:
            continue
        d = df.get(term, 1)
        idf = math.log(1 + (n - d + 0.5) / (d + 0.5))
        score += idf * tf * (K1 + 1) / (tf + norm)
    return score


async def search_articles(
    session: AsyncSession,
    q: str,
    *,
    locale: str | None = None,
    public_only: bool = False,
    limit: int = 10,
    extra_terms: Sequence[str] = (),
    any_term: bool = False,
    boosts: dict[int, float] | None = None,
) -> list[Hit]:
    """The best articles for ``q``, best first. ``public_only`` is the help center's
    view (internal articles are never candidates). ``extra_terms`` (a ticket's product
    models) count like query terms; ``boosts`` adds to an article's score by id."""
    if len(q) > MAX_QUERY:
        raise Invalid(f"a search is at most {MAX_QUERY} characters")
    terms = list(dict.fromkeys([*query_terms(q), *extra_terms]))[:MAX_TERMS]
    if not terms or limit < 1:
        return []
    found: list[_Row] = []
    if not any_term:
        found = await _candidates(
            session,
            terms,
            any_term=False,
            locale=locale,
            public_only=public_only,
            limit=CANDIDATES,
        )
    if not found and (any_term or len(terms) > 1):
        found = await _candidates(
            session,
            terms,
            any_term=True,
            locale=locale,
            public_only=public_only,
            limit=CANDIDATES,
        )
    if not found:
        return []
    n, avg_len, df = await _stats(session, terms)
    scored = sorted(
        (
            (_bm25(row, terms, n, avg_len, df) + (boosts or {}).get(row.id, 0.0), row)
            for row in found
        ),
        key=lambda pair: (-pair[0], pair[1].id),
    )[:limit]
    return [
        Hit(
            id=row.id,
            slug=row.slug,
            title=row.title,
            locale=row.locale,
            visibility=row.visibility,
            category=row.category,
            snippet=snippet(plain_text(row.body), terms),
            score=score,
        )
        for score, row in scored
    ]
