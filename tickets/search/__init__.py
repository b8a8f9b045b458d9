"""Full-text search shared by every room: our tokenizer (Chinese bigrams, stemmed Latin
words, model numbers whole and in parts), the index on both databases, and highlighted
snippets. The public names are re-exported by ``tickets/__init__.py``."""

from tickets.search.fts import (
    MESSAGES,
    FtsIndex,
    Matches,
    fts5_query,
    is_internal,
    newest_matches,
    pg_query,
)
from tickets.search.snippets import snippet
from tickets.search.tokens import query_terms, token_string

__all__ = [
    "MESSAGES",
    "FtsIndex",
    "Matches",
    "fts5_query",
    "is_internal",
    "newest_matches",
    "pg_query",
    "query_terms",
    "snippet",
    "token_string",
]
