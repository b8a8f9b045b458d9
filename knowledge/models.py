"""The knowledge room's tables: articles (the current text and its search tokens), every
version of each article, and the insertions of articles into replies (which raise an
article for similar tickets). On ``tickets.Base`` so one metadata and one migration
history cover every room."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tickets import Base, FtsIndex

BigId = BigInteger().with_variant(Integer(), "sqlite")

ARTICLES_INDEX = FtsIndex("kb_articles", ("title_tokens", "body_tokens"))
"""The articles' full-text index: title, tags and models weigh more than the body."""


class Article(Base):
    __tablename__ = "kb_articles"
    __table_args__ = (
        Index("ix_kb_articles_translation", "translation_key", "locale"),
        Index("ix_kb_articles_updated_at", "updated_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    locale: Mapped[str] = mapped_column(String(10))
    # Translations of one article share a key (by default the slug of the first).
    translation_key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(100), default="")
    visibility: Mapped[str] = mapped_column(String(10))
    tags: Mapped[list[str]] = mapped_column(default=list)
    models: Mapped[list[str]] = mapped_column(default=list)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(default=1)
    title_tokens: Mapped[str] = mapped_column(Text, default="")
    body_tokens: Mapped[str] = mapped_column(Text, default="")
    # The length BM25 normalises by (``knowledge.search.document_length``).
    search_length: Mapped[int] = mapped_column(default=0)
    helpful_yes: Mapped[int] = mapped_column(default=0)
    helpful_no: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ArticleVersion(Base):
    """Every version of an article, the current one included (restoring one makes a
    new version with its text)."""

    __tablename__ = "kb_article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version", name="uq_kb_versions"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(100), default="")
    visibility: Mapped[str] = mapped_column(String(10))
    tags: Mapped[list[str]] = mapped_column(default=list)
    models: Mapped[list[str]] = mapped_column(default=list)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class Insertion(Base):
    """An article an agent inserted into a reply, with the ticket's search terms: an
    article inserted for similar text ranks higher in later suggestions."""

    __tablename__ = "kb_insertions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True
    )
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    terms: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class DeflectionSetting(Base):
    """Whether a queue's new web chats (and Telegram chats) first get matching public
    articles. No row: on."""

    __tablename__ = "kb_deflection"
    queue_id: Mapped[int] = mapped_column(
        ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(default=True)


class Macro(Base):
    """A canned reply: shared by a queue (``queue_id``) or personal (``owner_id``)."""

    __tablename__ = "kb_macros"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    queue_id: Mapped[int | None] = mapped_column(
        ForeignKey("queues.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
