"""One rule for text we store, the same on both databases: PostgreSQL refuses NUL in
text and no database can store a lone surrogate, so such text is refused at the edge
with a clear reason (a 400 or an error frame) instead of failing deep in a transaction."""

from __future__ import annotations

from tickets.errors import Invalid


def storable_text(value: str, what: str = "text") -> str:
    """Returns ``value`` when every database can store it; raises ``Invalid`` otherwise."""
    if "\x00" in value:
        raise Invalid(f"{what} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise Invalid(f"{what} contains a lone surrogate (not valid Unicode)") from err
    return value
