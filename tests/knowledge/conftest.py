"""A migrated database (each backend) with the demo catalogue loaded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

import knowledge
from switchboard import db
from tests.helpers import T0

T = TypeVar("T")


class Kb:
    def __init__(self, sessions: db.SessionFactory) -> None:
        self.sessions = sessions

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with db.transaction(self.sessions) as session:
            return await work(session)

    async def search(self, q: str, **kw: Any) -> list[knowledge.Hit]:
        return await self.run(lambda s: knowledge.search_articles(s, q, **kw))

    async def slugs(self, q: str, **kw: Any) -> list[str]:
        return [h.slug for h in await self.search(q, **kw)]


@pytest.fixture
async def kb(database_url: str) -> AsyncIterator[Kb]:
    engine = db.create_engine(database_url)
    helper = Kb(db.session_factory(engine))
    await helper.run(lambda s: knowledge.seed_articles(s, T0))
    yield helper
    await engine.dispose()
