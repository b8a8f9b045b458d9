"""The full-text index as SQL: one ``Matches`` clause that compiles to FTS5 on SQLite and
to a GIN-indexed ``tsvector`` match on PostgreSQL, over the pre-tokenised columns
(``tokens.token_string``). Both databases see the same token strings and the same boolean
query, so they find the same rows.

A searchable table registers an ``FtsIndex``: on SQLite an external-content FTS5 table
(``<table>_fts``, kept current by triggers, so an insert or update is indexed inside the
writing transaction), on PostgreSQL an expression index over ``to_tsvector('simple',
...)`` (maintained by PostgreSQL itself, also in the writing transaction). The DDL for
both lives here too, for the migrations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, bindparam
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

    @property
    def pg_index(self) -> str:
        return f"{self.table}_fts"

    def pg_vector(self, alias: str | None = None) -> str:
        """The indexed ``tsvector`` expression (title-like column weighted ``A``)."""
        prefix = f"{alias or self.table}."
        first, *rest = self.columns
        parts = [f"setweight(to_tsvector('simple'::regconfig, {prefix}{first}), 'A')"]
        parts += [f"to_tsvector('simple'::regconfig, {prefix}{c})" for c in rest]
        return "(" + " || ".join(parts) + ")"

    def create_sql(self, dialect: str) -> list[str]:
        cols = ", ".join(self.columns)
        if dialect == "postgresql":
            return [f"CREATE INDEX {self.pg_index} ON {self.table} USING gin ({self.pg_vector()})"]
        new = ", ".join(f"new.{c}" for c in self.columns)
        old = ", ".join(f"old.{c}" for c in self.columns)
        fts = self.fts_table
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
        if dialect == "postgresql":
            return [f"DROP INDEX IF EXISTS {self.pg_index}"]
        fts = self.fts_table
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
    vector = element.index.pg_vector(element.alias)
    return f"{vector} @@ to_tsquery('simple'::regconfig, {query})"


def _bind(value: str) -> Any:
    return bindparam(None, value, unique=True)
