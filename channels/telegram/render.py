"""How a Telegram message looks in the ticket timeline (registered through the ticket
page's timeline seam by ``switchboard.app``): the text, an "edited" mark with the original
text when the customer edited it, photos inline (the staff attachment URL, which checks
who may see it), other files as downloads, and a map link for a shared location.

Everything shown is escaped here (``markupsafe``); the labels come through the page's
``gettext`` (the ``telegram`` catalog domain, ``scripts/i18n.py``)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from markupsafe import Markup, escape

from channels.telegram import store as rows
from tickets import Desk

LOCATION = re.compile(r"📍 (-?\d{1,2}\.\d+), (-?\d{1,3}\.\d+)")
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

Render = Callable[[Mapping[str, Any], Any], Awaitable[str | None]]


def timeline_renderer(desk: Desk) -> Render:
    async def render(message: Mapping[str, Any], context: Any) -> str | None:
        message_id = message.get("id")
        if not isinstance(message_id, int):
            return None
        earlier: list[str] = []
        if message.get("direction") == "in":
            edits = await desk.read(lambda s: rows.edits_of(s, [message_id]))
            earlier = edits.get(message_id, [])
        return str(render_message(message, earlier, context.gettext))

    return render


def render_message(
    message: Mapping[str, Any], earlier: list[str], gettext: Callable[[str], str]
) -> Markup:
    _ = gettext
    text = str(message.get("text") or "")
    out = Markup('<div class="msg-text tg-text">') + escape(text) + Markup("</div>")
    if earlier:
        out += (
            Markup('<p class="tg-edited"><span class="badge warn">')
            + escape(_("edited"))
            + Markup('</span></p><details class="tg-original"><summary>')
            + escape(_("Original text"))
            + Markup('</summary><div class="msg-text">')
            + escape(earlier[0])
            + Markup("</div></details>")
        )
    found = LOCATION.search(text)
    if found:
        lat, lon = found.group(1), found.group(2)
        url = f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=16/{lat}/{lon}"
        out += (
            Markup('<p class="tg-location"><a href="')
            + escape(url)
            + Markup('" target="_blank" rel="noopener noreferrer">')
            + escape(_("Open the map"))
            + Markup("</a></p>")
        )
    images: list[Mapping[str, Any]] = []
    files: list[Mapping[str, Any]] = []
    for a in message.get("attachments") or ():
        (images if a.get("content_type") in INLINE_IMAGES else files).append(a)
    if images:
        out += Markup('<div class="tg-photos">')
        for a in images:
            href = f"/api/v1/attachments/{int(a['id'])}"
            out += (
                Markup('<a class="tg-photo" href="')
                + escape(href)
                + Markup('" download><img src="')
                + escape(href)
                + Markup('" alt="')
                + escape(a.get("name") or _("Photo"))
                + Markup('" loading="lazy"></a>')
            )
        out += Markup("</div>")
    if files:
        out += Markup('<ul class="attachments" aria-label="') + escape(_("Files")) + Markup('">')
        for a in files:
            href = f"/api/v1/attachments/{int(a['id'])}"
            size = a.get("size") or 0
            out += (
                Markup('<li><a href="')
                + escape(href)
                + Markup('" download>')
                + escape(a.get("name") or _("File"))
                + Markup('</a> <span class="muted">')
                + escape(f"{a.get('content_type') or ''} · {size / 1024:.1f} KB")
                + Markup("</span></li>")
            )
        out += Markup("</ul>")
    return out
