"""The demo catalogue (``knowledge/demo/*.md``): appliance-repair articles in Chinese and
English that ``switchboard demo`` loads, and the tests' labelled search set runs over."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.articles import ArticleInput, save_article
from knowledge.transfer import markdown_files, parse_file

DEMO_DIR = Path(__file__).parent / "demo"


def _read_all() -> list[ArticleInput]:
    return [parse_file(p) for p in markdown_files(DEMO_DIR)]


async def seed_articles(session: AsyncSession, now: datetime) -> int:
    """Load (or refresh) the demo articles; how many were created or changed."""
    changed = 0
    for data in await asyncio.to_thread(_read_all):
        saved = await save_article(session, data, None, now)
        changed += saved.changed
    return changed
