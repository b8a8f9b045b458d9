"""Articles and their versions: the verbs that write them (``save_article`` creates or
updates by slug, ``restore_version``) and the read side. Every write re-tokenizes the
article in the same transaction, and the database's full-text index follows inside it
(``tickets.search``); every change of text or metadata is a new version, and an
unchanged save writes nothing.

Decisions: a slug is lower-case ASCII letters, digits and ``-`` (it is the file name in
``kb export``); locales are ``zh-CN`` and ``en``; translations share a
``translation_key`` (default: the slug), and an article lists the others with that key.
Tags and product models are part of the title-weighted search field, so a model number
or tag ranks an article like a word of its title."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import Article, ArticleVersion
from knowledge.render import render_markdown
from knowledge.search import document_length
from tickets import Invalid, NotFound, token_string

LOCALES = ("zh-CN", "en")
VISIBILITIES = ("internal", "public")
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,198}[a-z0-9])?$")
MAX_TITLE = 300
MAX_BODY = 200_000


@dataclass(frozen=True, slots=True)
class ArticleInput:
    """An article as written by a person or a file (validated by ``checked``)."""

    slug: str
    title: str
    body: str
    locale: str
    visibility: str = "internal"
    category: str = ""
    tags: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    translation_key: str = ""

    def checked(self) -> ArticleInput:
        if not SLUG.match(self.slug):
            raise Invalid(
                f"slug {self.slug!r}: use lower-case letters, digits and '-' (at most 200)"
            )
        title = " ".join(self.title.split())
        if not title or len(title) > MAX_TITLE:
            raise Invalid(f"title: 1 to {MAX_TITLE} characters")
        if len(self.body) > MAX_BODY:
            raise Invalid(f"body: at most {MAX_BODY} characters")
        if self.locale not in LOCALES:
            raise Invalid(f"locale {self.locale!r}: one of {', '.join(LOCALES)}")
        if self.visibility not in VISIBILITIES:
            raise Invalid(f"visibility {self.visibility!r}: one of {', '.join(VISIBILITIES)}")
        for name, values in (("tags", self.tags), ("models", self.models)):
            if len(values) > 50 or any(not v.strip() or len(v) > 100 for v in values):
                raise Invalid(f"{name}: at most 50, each 1 to 100 characters")
        key = self.translation_key or self.slug
        if not SLUG.match(key):
            raise Invalid(f"translation {key!r}: a slug")
        if len(self.category) > 100:
            raise Invalid("category: at most 100 characters")
        return replace(
            self,
            title=title,
            category=self.category.strip(),
            tags=tuple(dict.fromkeys(t.strip() for t in self.tags)),
            models=tuple(dict.fromkeys(m.strip() for m in self.models)),
            translation_key=key,
        )


@dataclass(frozen=True, slots=True)
class Saved:
    article: Article
    created: bool
    changed: bool


def _content(article: Article | ArticleVersion) -> tuple[Any, ...]:
    return (
        article.title,
        article.body,
        article.locale,
        article.visibility,
        article.category,
        tuple(article.tags),
        tuple(article.models),
    )


def _input_content(data: ArticleInput) -> tuple[Any, ...]:
    return (
        data.title,
        data.body,
        data.locale,
        data.visibility,
        data.category,
        data.tags,
        data.models,
    )


def _tokens(article: Article) -> None:
    article.title_tokens = token_string(article.title, *article.tags, *article.models)
    article.body_tokens = token_string(article.body)
    article.search_length = document_length(article.title_tokens, article.body_tokens)


async def by_slug(session: AsyncSession, slug: str) -> Article | None:
    return (await session.execute(select(Article).where(Article.slug == slug))).scalar()


async def save_article(
    session: AsyncSession, data: ArticleInput, author_id: int | None, now: datetime
) -> Saved:
    """Create the article or update it by slug; a new version only when something changed."""
    data = data.checked()
    article = await by_slug(session, data.slug)
    created = article is None
    if article is None:
        article = Article(slug=data.slug, version=0, created_at=now, helpful_yes=0, helpful_no=0)
        session.add(article)
    elif _content(article) == _input_content(data) and (
        article.translation_key == data.translation_key
    ):
        return Saved(article, created=False, changed=False)
    content_changed = created or _content(article) != _input_content(data)
    article.title, article.body, article.locale = data.title, data.body, data.locale
    article.visibility, article.category = data.visibility, data.category
    article.tags, article.models = list(data.tags), list(data.models)
    article.translation_key = data.translation_key
    article.author_id = author_id
    article.updated_at = now
    _tokens(article)
    if content_changed:
        article.version += 1
        await session.flush()
        session.add(_version_of(article, now))
    await session.flush()
    return Saved(article, created=created, changed=True)


def _version_of(article: Article, now: datetime) -> ArticleVersion:
    return ArticleVersion(
        article_id=article.id,
        version=article.version,
        title=article.title,
        body=article.body,
        locale=article.locale,
        category=article.category,
        visibility=article.visibility,
        tags=list(article.tags),
        models=list(article.models),
        author_id=article.author_id,
        created_at=now,
    )


async def versions(session: AsyncSession, article: Article) -> list[ArticleVersion]:
    """Every version, newest first."""
    rows = await session.execute(
        select(ArticleVersion)
        .where(ArticleVersion.article_id == article.id)
        .order_by(ArticleVersion.version.desc())
    )
    return list(rows.scalars())


async def version(session: AsyncSession, article: Article, number: int) -> ArticleVersion:
    found = (
        await session.execute(
            select(ArticleVersion).where(
                ArticleVersion.article_id == article.id, ArticleVersion.version == number
            )
        )
    ).scalar()
    if found is None:
        raise NotFound(f"article {article.slug} has no version {number}")
    return found


async def restore_version(
    session: AsyncSession, slug: str, number: int, author_id: int | None, now: datetime
) -> Saved:
    """Make an old version the current text again (as a new version)."""
    article = await by_slug(session, slug)
    if article is None:
        raise NotFound(f"no article {slug}")
    old = await version(session, article, number)
    return await save_article(
        session,
        ArticleInput(
            slug=slug,
            title=old.title,
            body=old.body,
            locale=old.locale,
            visibility=old.visibility,
            category=old.category,
            tags=tuple(old.tags),
            models=tuple(old.models),
            translation_key=article.translation_key,
        ),
        author_id,
        now,
    )


async def translations(session: AsyncSession, article: Article) -> list[Article]:
    """The other locales of the same article."""
    rows = await session.execute(
        select(Article)
        .where(Article.translation_key == article.translation_key, Article.id != article.id)
        .order_by(Article.locale)
    )
    return list(rows.scalars())


async def categories(
    session: AsyncSession, locale: str, *, public_only: bool
) -> list[tuple[str, int]]:
    query = select(Article.category, func.count()).where(
        Article.locale == locale, Article.category != ""
    )
    if public_only:
        query = query.where(Article.visibility == "public")
    rows = await session.execute(query.group_by(Article.category).order_by(Article.category))
    return [(str(c), int(n)) for c, n in rows.all()]


async def in_category(
    session: AsyncSession, locale: str, category: str, *, public_only: bool
) -> list[Article]:
    query = select(Article).where(Article.locale == locale, Article.category == category)
    if public_only:
        query = query.where(Article.visibility == "public")
    return list((await session.execute(query.order_by(Article.title))).scalars())


def article_dict(article: Article, *, others: list[Article] | None = None) -> dict[str, Any]:
    return {
        "slug": article.slug,
        "title": article.title,
        "locale": article.locale,
        "visibility": article.visibility,
        "category": article.category,
        "tags": list(article.tags),
        "models": list(article.models),
        "version": article.version,
        "body": article.body,
        "html": render_markdown(article.body),
        "translations": [{"slug": a.slug, "locale": a.locale} for a in others or []],
        "updated_at": article.updated_at.isoformat(),
    }


def input_from(slug: str, values: dict[str, Any], base: Article | None = None) -> ArticleInput:
    """An ``ArticleInput`` from JSON-ish values, unspecified fields taken from ``base``."""

    def pick(name: str, default: Any) -> Any:
        if name in values:
            return values[name]
        return getattr(base, name) if base is not None else default

    def text(name: str, default: str | None = None) -> str:
        value = pick(name, default)
        if not isinstance(value, str):
            raise Invalid(f"{name}: a string is required")
        return value

    def strings(name: str) -> tuple[str, ...]:
        value = pick(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Invalid(f"{name}: a list of strings")
        return tuple(value)

    if "translation_key" in values and not SLUG.match(str(values["translation_key"])):
        raise Invalid("translation_key: a slug (lower-case letters, digits and '-')")
    return ArticleInput(
        slug=slug,
        title=text("title"),
        body=text("body", ""),
        locale=text("locale"),
        visibility=text("visibility", "internal"),
        category=text("category", ""),
        tags=strings("tags"),
        models=strings("models"),
        translation_key=text("translation_key", ""),
    )
