"""Chat deflection: a customer's first message in a new conversation first gets up to
three matching public articles ("these may help"). "This solved it" solves the
conversation as self-served (``tickets.solve_self_served``, counted on the wallboard);
anything else continues to an agent as usual: the conversation is routed from the start
(a customer who reads an article is not made to wait longer when it did not help), and
a self-served solve withdraws it from routing like any solve.

Per queue on or off (``kb_deflection``; no row means on): ``switchboard kb deflection
QUEUE on|off``. Articles are those of the message's language when it has any, else of
any language; only an article whose score is at least ``MIN_SHARE`` of the best one is
offered, so one strong answer is not diluted by weak ones."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import DeflectionSetting
from knowledge.search import Hit, search_articles
from knowledge.suggest import detect_models
from tickets import Invalid, all_queues, query_terms

MAX_ARTICLES = 3
MIN_SHARE = 0.35
LANGUAGE_LOCALES = {"zh": "zh-CN", "en": "en"}


async def deflection_enabled(session: AsyncSession, queue_id: int | None) -> bool:
    if queue_id is None:
        return True
    found = await session.get(DeflectionSetting, queue_id)
    return True if found is None else found.enabled


async def set_deflection(session: AsyncSession, queue_id: int, enabled: bool) -> None:
    found = await session.get(DeflectionSetting, queue_id)
    if found is None:
        session.add(DeflectionSetting(queue_id=queue_id, enabled=enabled))
    else:
        found.enabled = enabled
    await session.flush()


async def articles_for(session: AsyncSession, text: str, language: str | None) -> list[Hit]:
    """Up to three public articles for a customer's message, best first."""
    locale = LANGUAGE_LOCALES.get((language or "").split("-")[0].lower())
    extra = [t for m in detect_models(text) for t in query_terms(m)]
    try:
        hits = await search_articles(
            session,
            text[:500],
            locale=locale,
            public_only=True,
            limit=MAX_ARTICLES,
            extra_terms=extra,
            any_term=True,
        )
        if not hits and locale is not None:
            hits = await search_articles(
                session,
                text[:500],
                public_only=True,
                limit=MAX_ARTICLES,
                extra_terms=extra,
                any_term=True,
            )
    except Invalid:
        return []
    if not hits:
        return []
    best = hits[0].score
    return [h for h in hits if h.score >= MIN_SHARE * best]


async def queue_names(session: AsyncSession) -> dict[str, int]:
    return {q.name: q.id for q in await all_queues(session)}
