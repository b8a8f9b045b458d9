"""Knowledge base: articles with versions and translations, their search (through the
shared tokenizer and index of ``tickets.search``), Markdown rendering, import and
export of Markdown folders, and the demo catalogue.

The room's public surface is this module; ``agent_ui`` and ``switchboard`` import from
here only."""

from knowledge.articles import (
    LOCALES,
    MAX_BODY,
    VISIBILITIES,
    ArticleInput,
    Saved,
    article_dict,
    by_slug,
    categories,
    in_category,
    input_from,
    restore_version,
    save_article,
    translations,
    version,
    versions,
)
from knowledge.deflection import articles_for, deflection_enabled, queue_names, set_deflection
from knowledge.demo_articles import DEMO_DIR, seed_articles
from knowledge.macros import (
    MacroView,
    add_macro,
    delete_macro,
    macro_for,
    macros_for,
    placeholders,
)
from knowledge.macros import render as render_macro
from knowledge.models import Article, ArticleVersion, DeflectionSetting, Insertion, Macro
from knowledge.render import plain_text, render_markdown
from knowledge.search import Hit, search_articles
from knowledge.suggest import detect_models, record_insertion, reply_text, suggest, ticket_text
from knowledge.transfer import BadFile, ImportReport, export_folder, import_folder, parse_file

__all__ = [
    "DEMO_DIR",
    "LOCALES",
    "MAX_BODY",
    "VISIBILITIES",
    "Article",
    "ArticleInput",
    "ArticleVersion",
    "BadFile",
    "DeflectionSetting",
    "Hit",
    "ImportReport",
    "Insertion",
    "Macro",
    "MacroView",
    "Saved",
    "add_macro",
    "article_dict",
    "articles_for",
    "by_slug",
    "categories",
    "deflection_enabled",
    "delete_macro",
    "detect_models",
    "export_folder",
    "import_folder",
    "in_category",
    "input_from",
    "macro_for",
    "macros_for",
    "parse_file",
    "placeholders",
    "plain_text",
    "queue_names",
    "record_insertion",
    "render_macro",
    "render_markdown",
    "reply_text",
    "restore_version",
    "save_article",
    "search_articles",
    "seed_articles",
    "set_deflection",
    "suggest",
    "ticket_text",
    "translations",
    "version",
    "versions",
]
