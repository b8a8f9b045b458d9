"""The full-text index as SQL: one ``Matches`` clause that compiles to FTS5 on SQLite and
to a GIN-indexed ``tsvector`` match on PostgreSQL, over the pre-tokenised columns
(``tokens.token_string``). Both databases see the same token strings and the same boolean
query, so they find the same rows.

A searchable table has an ``FtsIndex``: a side table ``<table>_fts`` kept current by
triggers, so a write is indexed inside its own transaction whatever path made it (the
ORM, Core, the asyncpg ingest path). On SQLite it is an external-content FTS5 table
(``unicode61`` over the token string); on PostgreSQL a table of stored ``tsvector``
values (``simple`` configuration) with a GIN index: stored, because parsing the token
string again for every candidate (``ts_rank`` over an expression index) cost about a
millisecond per row. The DDL for both lives here, for the migrations; the side tables
are not models (``is_internal`` keeps them out of the schema comparison).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement


@dataclass(frozen=True, slots=True)
class FtsIndex:
    """A table's full-text index: its token columns (in weight order: the first is the
    title-like one) and the index names on each database."""

    table: str
    columns: tuple[str, ...]

    @property
    def fts_table(self) -> str:
        return f"{self.table}_fts"

    def pg_vector(self, alias: str) -> str:
        """The ``tsvector`` of a row (the title-like column weighted ``A``)."""
        first, *rest = self.columns
        parts = [f"setweight(to_tsvector('simple'::regconfig, {alias}.{first}), 'A')"]
        parts += [f"to_tsvector('simple'::regconfig, {alias}.{c})" for c in rest]
        return "(" + " || ".join(parts) + ")"

    @property
    def has_head(self) -> bool:
        """Whether the PostgreSQL side table also keeps the title-like column's own small
        ``head`` vector (for ranking candidates without reading the full vectors)."""
        return len(self.columns) > 1

    def create_sql(self, dialect: str) -> list[str]:
        cols = ", ".join(self.columns)
        fts = self.fts_table
        if dialect == "postgresql":
            head_col, head_new, head_set, head_t = "", "", "", ""
            if self.has_head:
                first = self.columns[0]
                head_col = ", head tsvector NOT NULL"
                head_new = f", to_tsvector('simple'::regconfig, NEW.{first})"
                head_set = ", head = EXCLUDED.head"
                head_t = f", to_tsvector('simple'::regconfig, t.{first})"
            names = "id, vector, head" if self.has_head else "id, vector"
            return [
                f"CREATE TABLE {fts} (id BIGINT PRIMARY KEY REFERENCES {self.table}(id) "
                f"ON DELETE CASCADE, vector tsvector NOT NULL{head_col})",
                f"CREATE INDEX {fts}_vector ON {fts} USING gin (vector)",
                f"CREATE FUNCTION {fts}_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"INSERT INTO {fts} ({names}) VALUES (NEW.id, {self.pg_vector('NEW')}{head_new}) "
                f"ON CONFLICT (id) DO UPDATE SET vector = EXCLUDED.vector{head_set}; "
                "RETURN NULL; END $$",
                f"CREATE TRIGGER {fts}_sync AFTER INSERT OR UPDATE OF {cols} ON {self.table} "
                f"FOR EACH ROW EXECUTE FUNCTION {fts}_sync()",
                f"INSERT INTO {fts} ({names}) SELECT t.id, {self.pg_vector('t')}{head_t} "
                f"FROM {self.table} t",
            ]
        new = ", ".join(f"new.{c}" for c in self.columns)
        old = ", ".join(f"old.{c}" for c in self.columns)
        return [
            f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{self.table}', "
            "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
            f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {self.table} BEGIN "
            f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new}); END",
            f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {self.table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old}); END",
            f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {cols} ON {self.table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old}); "
            f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new}); END",
            f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
            # document frequencies for ranking (one row per term)
            f"CREATE VIRTUAL TABLE {fts}_vocab USING fts5vocab({fts}, 'row')",
        ]

    def drop_sql(self, dialect: str) -> list[str]:
        fts = self.fts_table
        if dialect == "postgresql":
            return [
                f"DROP TRIGGER IF EXISTS {fts}_sync ON {self.table}",
                f"DROP FUNCTION IF EXISTS {fts}_sync()",
                f"DROP TABLE IF EXISTS {fts}",
            ]
        return [
            *(f"DROP TRIGGER IF EXISTS {fts}_{t}" for t in ("ai", "ad", "au")),
            f"DROP TABLE IF EXISTS {fts}_vocab",
            f"DROP TABLE IF EXISTS {fts}",
        ]


MESSAGES = FtsIndex("messages", ("search_tokens",))


def fts5_query(terms: list[str], *, any_term: bool = False) -> str:
    """An FTS5 MATCH string: every term quoted (tokens never hold a quote)."""
    return (" OR " if any_term else " AND ").join(f'"{t}"' for t in terms)


def pg_query(terms: list[str], *, any_term: bool = False) -> str:
    """A ``to_tsquery('simple', ...)`` string: every term quoted."""
    return (" | " if any_term else " & ").join(f"'{t}'" for t in terms)


def is_internal(name: str) -> bool:
    """Whether a database object belongs to a full-text index (migrations' autogenerate
    and the schema check leave these to the migrations that made them)."""
    return name.endswith("_fts") or "_fts_" in name


class Matches(ColumnElement[bool]):
    """``row matches every term`` (or any term) of a registered index, on either
    database. ``terms`` must not be empty."""

    inherit_cache = False
    type = Boolean()

    def __init__(
        self, index: FtsIndex, terms: list[str], *, any_term: bool = False, alias: str = ""
    ) -> None:
        if not terms:
            raise ValueError("a full-text match needs at least one term")
        self.index = index
        self.terms = terms
        self.any_term = any_term
        self.alias = alias or index.table


@compiles(Matches, "sqlite")
def _sqlite(element: Matches, compiler: SQLCompiler, **kw: Any) -> str:
    fts = element.index.fts_table
    query = compiler.process(_bind(fts5_query(element.terms, any_term=element.any_term)), **kw)
    return f"{element.alias}.id IN (SELECT rowid FROM {fts} WHERE {fts} MATCH {query})"


@compiles(Matches, "postgresql")
def _postgresql(element: Matches, compiler: SQLCompiler, **kw: Any) -> str:
    query = compiler.process(_bind(pg_query(element.terms, any_term=element.any_term)), **kw)
    fts = element.index.fts_table
    return (
        f"{element.alias}.id IN (SELECT id FROM {fts} "
        f"WHERE vector @@ to_tsquery('simple'::regconfig, {query}))"
    )


def _bind(value: str) -> Any:
    return bindparam(None, value, unique=True)


async def newest_matches(
    session: AsyncSession, index: FtsIndex, terms: list[str], limit: int = 25
) -> list[int]:
    """Ids of the newest rows matching every term, newest first, read from the index
    alone (FTS5 walks its doclist backwards and stops at ``limit``)."""
    if not terms:
        return []
    fts = index.fts_table
    if session.get_bind().dialect.name == "postgresql":
        sql = (
            f"SELECT id FROM {fts} WHERE vector @@ to_tsquery('simple'::regconfig, :q) "
            "ORDER BY id DESC LIMIT :limit"
        )
        query = pg_query(terms)
    else:
        sql = f"SELECT rowid FROM {fts} WHERE {fts} MATCH :q ORDER BY rowid DESC LIMIT :limit"
        query = fts5_query(terms)
    rows = await session.execute(text(sql), {"q": query, "limit": limit})
    return [int(r[0]) for r in rows.all()]
