"""Article search: the shared full-text index (``tickets.search``) finds candidates, and
one BM25 scorer ranks them the same way on SQLite and PostgreSQL.

1. The query becomes terms (``tickets.query_terms``). All terms must match; when nothing
   does and there are several terms, any term may (a long question still finds the
   article that shares its key words).
2. The database returns the best ``CANDIDATES`` matches by its own cheap rank (FTS5's
   bm25 with the title column weighted; on PostgreSQL ``ts_rank`` of the small title
   vector, then the shortest articles); with fewer matches than that, both databases
   return the same set, and so the same results.
3. Python scores them with BM25 over the stored token strings (title, tags and models
   count ``TITLE_BOOST`` times a body occurrence), with document frequencies and lengths
   from the database, so the same articles get the same scores on both databases.
4. Snippets mark the hits in the article's plain text.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
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
    "a.id, a.slug, a.title, a.locale, a.visibility, a.category, a.title_tokens, a.body_tokens"
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
    """The best ``limit`` matches by the database's own rank. The ranking query reads
    only ids and the short filter columns; the token strings of the few candidates are
    read after."""
    where, params = _filters(locale, public_only)
    params["limit"] = limit
    if session.get_bind().dialect.name == "postgresql":
        params["q"] = pg_query(terms, any_term=any_term)
        fts = ARTICLES_INDEX.fts_table
        # The query inline (not a FROM item), so the GIN index serves it. Candidates are
        # ranked by their small title vector (``head``) and then the shortest first, never
        # by the full vectors: ts_rank over them detoasts every match (40 ms for 1,200).
        sql = (
            f"SELECT a.id FROM {fts} f JOIN kb_articles a ON a.id = f.id "
            f"WHERE f.vector @@ to_tsquery('simple'::regconfig, :q){where} "
            "ORDER BY ts_rank(f.head, to_tsquery('simple'::regconfig, :q)) DESC, "
            "a.search_length, a.id LIMIT :limit"
        )
    else:
        params["q"] = fts5_query(terms, any_term=any_term)
        fts = ARTICLES_INDEX.fts_table
        sql = (
            f"SELECT a.id FROM {fts} JOIN kb_articles a ON a.id = {fts}.rowid "
            f"WHERE {fts} MATCH :q{where} "
            f"ORDER BY bm25({fts}, {TITLE_BOOST}, 1.0), a.id LIMIT :limit"
        )
    async with _index_scans(session):
        ids = [int(r[0]) for r in (await session.execute(text(sql), params)).all()]
    if not ids:
        return []
    rows = await session.execute(
        text(f"SELECT {_COLUMNS} FROM kb_articles a WHERE a.id IN ({_in(len(ids))})"),
        {f"t{i}": v for i, v in enumerate(ids)},
    )
    return [_Row(*r) for r in rows.all()]


def document_length(title_tokens: str, body_tokens: str) -> int:
    """An article's length for BM25: its token strings' characters, the title's boosted."""
    return int(len(title_tokens) * TITLE_BOOST) + len(body_tokens)


@dataclass(slots=True)
class _Catalogue:
    """What BM25 needs of the whole catalogue in one state: its size, total length and
    each term's document count (read once per term)."""

    n: int
    total: int
    df: dict[str, int]


_STATES: dict[tuple[Any, ...], _Catalogue] = {}
"""Per database and state of the catalogue (its size and latest change, both read
through indexes): articles change seldom and queries repeat, so the full scan for the
total length and the count of a term happen once per state, not once per query."""
_MAX_STATES = 8


async def _stats(session: AsyncSession, terms: Sequence[str]) -> tuple[int, float, dict[str, int]]:
    """Articles in all, their mean length, and each term's document count."""
    n, latest = (
        await session.execute(text("SELECT count(*), max(updated_at) FROM kb_articles"))
    ).one()
    bind = session.get_bind()
    key = (str(getattr(bind, "url", id(bind))), int(n), str(latest))
    state = _STATES.get(key)
    if state is None:
        total = (
            await session.execute(text("SELECT coalesce(sum(search_length), 0) FROM kb_articles"))
        ).scalar_one()
        while len(_STATES) >= _MAX_STATES:
            _STATES.pop(next(iter(_STATES)))
        state = _STATES[key] = _Catalogue(int(n), int(total), {})
    missing = [t for t in terms if t not in state.df]
    if missing:
        state.df.update(await _document_counts(session, missing))
    avg = state.total / state.n if state.n else 1.0
    return state.n, avg, {t: state.df.get(t, 0) for t in terms}


async def _document_counts(session: AsyncSession, terms: Sequence[str]) -> dict[str, int]:
    df = dict.fromkeys(terms, 0)
    if session.get_bind().dialect.name == "postgresql":
        # One count per term: a GIN bitmap count never reads (detoasts) a vector.
        fts = ARTICLES_INDEX.fts_table
        sql = text(
            f"SELECT count(*) FROM {fts} WHERE vector @@ to_tsquery('simple'::regconfig, :q)"
        )
        async with _index_scans(session):
            for term in terms:
                found = await session.execute(sql, {"q": pg_query([term])})
                df[term] = int(found.scalar_one())
    else:
        vocab = ARTICLES_INDEX.fts_table + "_vocab"
        rows = await session.execute(
            text(f"SELECT term, doc FROM {vocab} WHERE term IN ({_in(len(terms))})"),
            {f"t{i}": t for i, t in enumerate(terms)},
        )
        df.update({str(t): int(d) for t, d in rows.all()})
    return df


@asynccontextmanager
async def _index_scans(session: AsyncSession) -> AsyncIterator[None]:
    """On PostgreSQL, bitmap scans of the GIN index for the statements inside. For a
    common term (a tenth of the rows) the planner prefers walking the table or its
    primary key and testing every stored vector, which detoasts them all (100 ms at
    10,000 articles against 10 ms through the index): its cost model does not see the
    detoasting. Planner settings local to the transaction, set back after."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    await session.execute(text("SET LOCAL enable_indexscan = off"))
    try:
        yield
    finally:
        await session.execute(text("SET LOCAL enable_seqscan = on"))
        await session.execute(text("SET LOCAL enable_indexscan = on"))


async def _bodies(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    """The bodies of the few articles shown (for their snippets)."""
    if not ids:
        return {}
    rows = await session.execute(
        text(f"SELECT id, body FROM kb_articles WHERE id IN ({_in(len(ids))})"),
        {f"t{i}": v for i, v in enumerate(ids)},
    )
    return {int(i): str(b) for i, b in rows.all()}


def _in(count: int) -> str:
    return ", ".join(f":t{i}" for i in range(count))


def _bm25(row: _Row, terms: Iterable[str], n: int, avg_len: float, df: dict[str, int]) -> float:
    title = Counter(row.title_tokens.split())
    body = Counter(row.body_tokens.split())
    length = document_length(row.title_tokens, row.body_tokens)
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
    bodies = await _bodies(session, [row.id for _, row in scored])
    return [
        Hit(
            id=row.id,
            slug=row.slug,
            title=row.title,
            locale=row.locale,
            visibility=row.visibility,
            category=row.category,
            snippet=snippet(plain_text(bodies.get(row.id, "")), terms),
            score=score,
        )
        for score, row in scored
    ]
