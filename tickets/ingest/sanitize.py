"""Customer HTML is stored sanitized (nh3, an allow-list cleaner): scripts, event-handler
attributes, ``javascript:`` links and styles are gone before the row is written, so no
store, screen or export downstream ever holds the raw markup. The only module that
imports nh3."""

from __future__ import annotations

import nh3

# ``cid:`` names an inline image of the same mail; it resolves to nothing in a browser, and
# the email timeline swaps it for the stored image (``channels.email.timeline``).
URL_SCHEMES = nh3.ALLOWED_URL_SCHEMES | {"cid"}


def sanitize_html(html: str | None) -> str | None:
    """The allow-listed subset of ``html``; text nobody can store (a lone surrogate from a
    broken mail part) becomes ``?`` instead of failing the whole message."""
    if html is None:
        return None
    storable = html.encode("utf-8", "replace").decode("utf-8")
    return str(nh3.clean(storable, url_schemes=URL_SCHEMES))
