"""The web chat's deflection, wired here because the knowledge room and the channels
sit side by side (neither imports the other): a new conversation's first message gets
the knowledge base's public articles as an ``articles`` frame when its queue has
deflection on (``knowledge.deflection``). The same function serves any channel that
offers articles on a first message."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from typing import Any

import knowledge
import tickets

_MARK = re.compile(r"</?mark>")


def kb_deflector(
    desk: tickets.Desk,
) -> Callable[[tickets.IngestResult, str], Awaitable[dict[str, Any] | None]]:
    async def deflect(result: tickets.IngestResult, text: str) -> dict[str, Any] | None:
        async def read(session: Any) -> list[knowledge.Hit]:
            facts = await tickets.ticket_facts(session, result.ticket_id)
            if facts is None or not await knowledge.deflection_enabled(session, facts.queue_id):
                return []
            language = facts.language or tickets.detect_language(text)
            return await knowledge.articles_for(session, text, language)

        hits = await desk.read(read)
        if not hits:
            return None
        return {
            "type": "articles",
            "ticket": result.number,
            "articles": [
                {
                    "slug": h.slug,
                    "title": h.title,
                    "url": f"/help/articles/{h.slug}",
                    "snippet": html.unescape(_MARK.sub("", h.snippet)),
                }
                for h in hits
            ],
        }

    return deflect
