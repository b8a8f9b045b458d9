"""``switchboard kb import DIR`` and ``kb export DIR``: a folder of Markdown files, each
starting with YAML front matter (``title``, ``locale``, ``tags``, ``models``,
``visibility``, optional ``category`` and ``translation``); the slug is the file name
without ``.md``.

Import is atomic per file: a file is parsed and validated completely, then written in
its own transaction, so a bad file (named with the reason) leaves nothing of it behind
and does not stop the others. Importing again updates by slug, a new version only when
something changed, and never duplicates. Export writes the same format back (a file is
written to a temporary name and renamed, so a reader never sees half a file)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.articles import ArticleInput, save_article
from knowledge.models import Article
from tickets import Invalid

Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Progress = Callable[[int, int, str], None]
FIELDS = {"title", "locale", "tags", "models", "visibility", "category", "translation"}


class BadFile(Exception):
    """A file that cannot be imported, with the reason."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path.name}: {reason}")
        self.path = path
        self.reason = reason


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[BadFile] = field(default_factory=list)


def parse_file(path: Path) -> ArticleInput:
    """One file as an article, or ``BadFile`` saying what is wrong."""
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadFile(path, "not UTF-8 text") from None
    except OSError as err:
        raise BadFile(path, f"cannot read it ({err.strerror})") from None
    text = raw.lstrip("\ufeff").replace("\r\n", "\n")
    if not text.startswith("---\n"):
        raise BadFile(path, "no front matter (the file must start with a '---' line)")
    end = text.find("\n---\n", 3)
    if end < 0 and text.endswith("\n---"):
        end = len(text) - 4
    if end < 0:
        raise BadFile(path, "the front matter has no closing '---' line")
    try:
        meta = yaml.safe_load(text[4:end]) or {}
    except yaml.YAMLError as err:
        raise BadFile(path, f"bad YAML in the front matter: {err}") from None
    if not isinstance(meta, dict):
        raise BadFile(path, "the front matter must be a mapping of fields")
    unknown = set(map(str, meta)) - FIELDS
    if unknown:
        raise BadFile(path, f"unknown front matter field(s): {', '.join(sorted(unknown))}")
    for name in ("title", "locale"):
        if not isinstance(meta.get(name), str):
            raise BadFile(path, f"front matter field {name!r} is missing or not text")
    lists: dict[str, tuple[str, ...]] = {}
    for name in ("tags", "models"):
        value = meta.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise BadFile(path, f"front matter field {name!r} must be a list of text")
        lists[name] = tuple(str(v) for v in value)
    for name in ("visibility", "category", "translation"):
        if name in meta and not isinstance(meta[name], str):
            raise BadFile(path, f"front matter field {name!r} must be text")
    data = ArticleInput(
        slug=path.stem,
        title=meta["title"],
        body=text[end + 5 :].strip("\n") + "\n" if end + 5 <= len(text) else "",
        locale=meta["locale"],
        visibility=meta.get("visibility", "internal"),
        category=meta.get("category", ""),
        tags=lists["tags"],
        models=lists["models"],
        translation_key=meta.get("translation", ""),
    )
    try:
        return data.checked()
    except Invalid as err:
        raise BadFile(path, str(err)) from None


def markdown_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise BadFile(folder, "not a folder")
    return sorted(p for p in folder.iterdir() if p.suffix == ".md" and p.is_file())


async def import_folder(
    folder: Path,
    transaction: Transaction,
    now: datetime,
    *,
    author_id: int | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Load every ``*.md`` file of ``folder``; one transaction per file."""
    report = ImportReport()
    files = await asyncio.to_thread(markdown_files, folder)
    for done, path in enumerate(files, 1):
        try:
            data = await asyncio.to_thread(parse_file, path)
            async with transaction() as session:
                saved = await save_article(session, data, author_id, now)
        except BadFile as err:
            report.failed.append(err)
        except Invalid as err:
            report.failed.append(BadFile(path, str(err)))
        else:
            if saved.created:
                report.created += 1
            elif saved.changed:
                report.updated += 1
            else:
                report.unchanged += 1
        if progress is not None:
            progress(done, len(files), path.name)
    return report


def render_file(article: Article) -> str:
    meta: dict[str, Any] = {
        "title": article.title,
        "locale": article.locale,
        "tags": list(article.tags),
        "models": list(article.models),
        "visibility": article.visibility,
    }
    if article.category:
        meta["category"] = article.category
    if article.translation_key != article.slug:
        meta["translation"] = article.translation_key
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{front}---\n\n{article.body.strip(chr(10))}\n"


def _write(target: Path, content: str) -> None:
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(content, encoding="utf-8")
    os.replace(temporary, target)


async def all_articles(session: AsyncSession) -> AsyncIterator[Article]:
    rows = await session.stream_scalars(select(Article).order_by(Article.slug))
    async for article in rows:
        yield article


async def export_folder(
    session: AsyncSession, folder: Path, *, progress: Progress | None = None
) -> int:
    """Write every article to ``folder/<slug>.md``; the number written."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    articles: Sequence[Article] = [a async for a in all_articles(session)]
    for done, article in enumerate(articles, 1):
        target = folder / f"{article.slug}.md"
        await asyncio.to_thread(_write, target, render_file(article))
        if progress is not None:
            progress(done, len(articles), target.name)
    return len(articles)
