"""Article Markdown to HTML: markdown-it (CommonMark plus tables and strikethrough, raw
HTML off) and then nh3's allow-list, so a ``<script>``, an event handler or a
``javascript:`` link in an article is inert wherever the article is shown. Also the plain
text of an article, for search snippets. The only modules that import markdown-it and
nh3 in this room."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])
_TAGS = {
    *("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code"),
    *("ul", "ol", "li", "strong", "em", "s", "del", "a", "img"),
    *("table", "thead", "tbody", "tr", "th", "td"),
}
_ATTRS = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"style"}, "td": {"style"}}


def render_markdown(body: str) -> str:
    """Sanitized HTML for an article body."""
    html = _MD.render(body)
    return str(
        nh3.clean(
            html,
            tags=_TAGS,
            attributes=_ATTRS,
            url_schemes={"http", "https", "mailto", "tel"},
            link_rel="noopener noreferrer nofollow",
        )
    )


_MARKUP = re.compile(r"(^|\n)\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)|[*_`~|]+|!?\[|\]\([^)]*\)")


def plain_text(body: str) -> str:
    """The article's words without Markdown markup (for snippets)."""
    return " ".join(_MARKUP.sub(" ", body).split())
