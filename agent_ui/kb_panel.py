"""The knowledge panel on the ticket page (through the panel seam): the three best
articles for the ticket's text and detected product models, each with "insert into
reply". Inserting posts to ``/agent/tickets/{number}/kb/{slug}/insert``, which records
the insertion (raising that article for similar tickets) and answers the article as
plain text; ``static/kb.js`` puts it into the composer at the cursor."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

import knowledge
import tickets
from agent_ui.context import DESK
from agent_ui.http import dumps
from agent_ui.panels import Panel, PanelContext
from agent_ui.web.config import page_user

LOCALE_OF_LANGUAGE = {"zh": "zh-CN", "en": "en"}


def _(message: str) -> str:
    """Marks a message for extraction; the panel translates through its context."""
    return message


TITLE = _("Knowledge suggestions")
MESSAGES = (
    _("Models"),
    _("No matching articles."),
    _("Insert into reply"),
    _("Inserted"),
    _("internal"),
    _("public"),
)
"""Shown through the panel context's gettext (listed here for extraction)."""


def _locale(ticket: dict[str, Any]) -> str | None:
    language = str(ticket.get("language") or "").split("-")[0].lower()
    return LOCALE_OF_LANGUAGE.get(language)


def suggestions_panel(app: web.Application) -> Panel:
    async def render(context: PanelContext) -> str | None:
        number = str(context.ticket.get("number", ""))
        tr = context.gettext

        async def read(session: AsyncSession) -> tuple[list[knowledge.Hit], list[str]]:
            ticket = await tickets.ticket_detail(session, context.staff, number)
            text = knowledge.ticket_text(ticket)
            hits = await knowledge.suggest(session, text, locale=_locale(ticket))
            if not hits and _locale(ticket) is not None:
                hits = await knowledge.suggest(session, text)
            return hits, knowledge.detect_models(text)

        hits, models = await app[DESK].read(read)
        parts = [
            Markup('<link rel="stylesheet" href="/static/kb.css">'),
            Markup('<script type="module" src="/static/kb.js"></script>'),
            Markup('<div class="kb-suggestions" data-ticket="{}">').format(number),
        ]
        if models:
            parts.append(
                Markup('<p class="muted kb-models">{}: {}</p>').format(
                    tr("Models"), ", ".join(models)
                )
            )
        if not hits:
            parts.append(Markup('<p class="muted">{}</p>').format(tr("No matching articles.")))
        else:
            parts.append(Markup('<ol class="kb-list">'))
            for hit in hits:
                parts.append(
                    Markup(
                        '<li class="kb-suggestion" data-slug="{slug}">'
                        '<a href="/agent/kb/{slug}" target="_blank" rel="noopener">{title}</a> '
                        '<span class="badge kb-{vis}">{vis_label}</span>'
                        '<p class="snippet">{snippet}</p>'
                        '<button type="button" class="kb-insert" data-slug="{slug}" '
                        'data-done="{done}">{insert}</button></li>'
                    ).format(
                        slug=hit.slug,
                        title=hit.title,
                        vis=hit.visibility,
                        vis_label=tr(hit.visibility),
                        snippet=Markup(hit.snippet),
                        insert=tr("Insert into reply"),
                        done=tr("Inserted"),
                    )
                )
            parts.append(Markup("</ol>"))
        parts.append(Markup("</div>"))
        return str(Markup("").join(parts))

    return Panel("kb.suggestions", TITLE, render, order=50)


async def post_insert(request: web.Request) -> web.Response:
    staff = page_user(request)
    number = request.match_info["number"]
    slug = request.match_info["slug"]

    async def work(session: AsyncSession, now: Any) -> tuple[str, tuple[()]]:
        ticket = await tickets.ticket_detail(session, staff, number)
        ticket_id = tickets.parse_number(ticket["number"])
        assert ticket_id is not None
        text = await knowledge.record_insertion(
            session, slug, ticket_id, knowledge.ticket_text(ticket), staff.id, now
        )
        await tickets.record_audit(
            session, staff.actor, "kb.article_inserted", now, ticket_id=ticket_id, slug=slug
        )
        return text, ()

    try:
        text = await request.app[DESK].write(work)
    except tickets.NotFound as err:
        return web.json_response({"error": {"code": "not_found", "message": str(err)}}, status=404)
    return web.json_response({"text": text}, dumps=dumps)
