"""How an email looks on the ticket page's timeline (registered with agent_ui's timeline
seam by the composition root): who it was from, to and CC, why it joined the ticket,
the sanitized HTML in a sandboxed frame with no scripts and no same origin, the plain
text, attachments with names and sizes, a link to the original mail, and auto-replies or
bounces collapsed.

Every value is escaped here (``markupsafe``); the HTML body was sanitized by nh3 at
ingest and is shown only inside ``<iframe sandbox srcdoc>`` (the page's CSP also blocks
remote images), so even a hostile mail cannot run script or call home.

Inline images (``<img src="cid:...">``, a logo or a screenshot pasted into the mail) are
shown: ``email_renderer(load)`` swaps each ``cid:`` the mail itself carries for the stored
image as a ``data:`` URI (the only image source the sandbox may load besides our own
origin), when its bytes are a PNG, JPEG, GIF or WebP of at most ``INLINE_MAX`` bytes.
Anything else keeps its inert ``cid:`` and stays a download in the attachment list."""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from markupsafe import Markup

from channels.attachments import sniff

INLINE_MAX = 2 * 1024 * 1024
INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_CID = re.compile(r'src="cid:([^"]{1,500})"')
Loader = Callable[[int, Any], Awaitable[bytes | None]]
"""The stored bytes of an attachment by its id, for the staff user looking (None when
gone or not theirs to see)."""


def N_(message: str) -> str:
    return message


REASONS = {
    "in_reply_to": N_("Joined: it answers a message of this ticket (In-Reply-To)"),
    "references": N_("Joined: it references a message of this ticket (References)"),
    "subject_token": N_("Joined: the ticket number is in the subject"),
    "subject": N_("Joined: same sender and subject as this open ticket"),
    "new": N_("New ticket: it matched no open conversation"),
    "follow_up": N_("New ticket: it answers a closed ticket (follow-up)"),
}
NOISE = {
    "auto_reply": N_("Automatic reply (not answered)"),
    "bounce": N_("Bounce: a mail could not be delivered"),
    "bulk": N_("Bulk mail (not answered)"),
    "own_address": N_("Our own mail came back (not answered)"),
}


def _people(label: str, addresses: list[str]) -> Markup:
    if not addresses:
        return Markup("")
    return Markup("<dt>{}</dt><dd>{}</dd>").format(label, ", ".join(addresses))


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(size, 1) / 1024:.1f} KB"


async def inline_images(
    message: Mapping[str, Any], html: str, load: Loader | None, staff: Any = None
) -> str:
    """``html`` with each ``cid:`` image of this mail as a ``data:`` URI."""
    facts = message.get("email") or {}
    inline = facts.get("inline") or {}
    files = message.get("attachments") or []
    if load is None or not inline or "cid:" not in html:
        return html
    found: dict[str, str] = {}
    for cid in set(_CID.findall(html)):
        index = inline.get(cid.replace("&amp;", "&"))
        if not isinstance(index, int) or not 0 <= index < len(files):
            continue
        data = await load(int(files[index]["id"]), staff)
        kind = sniff(data) if data is not None and len(data) <= INLINE_MAX else None
        if data is None or kind not in INLINE_TYPES:
            continue
        found[cid] = f"data:{kind};base64,{base64.b64encode(data).decode()}"
    return _CID.sub(lambda m: f'src="{found[m[1]]}"' if m[1] in found else m[0], html)


def render_body(
    message: Mapping[str, Any], _: Callable[[str], str], html: str | None = None
) -> Markup:
    out = Markup("")
    html = html if html is not None else message.get("html")
    if html:
        out += Markup(
            '<iframe class="email-html" sandbox srcdoc="{}" title="{}" '
            'referrerpolicy="no-referrer" loading="lazy"></iframe>'
            '<details class="plain"><summary>{}</summary><div class="msg-text">{}</div></details>'
        ).format(
            html,
            _("Email as the customer wrote it"),
            _("Plain text"),
            message.get("text") or "",
        )
    else:
        out += Markup('<div class="msg-text">{}</div>').format(message.get("text") or "")
    return out


def email_renderer(
    load: Loader | None,
) -> Callable[[Mapping[str, Any], Any], Awaitable[str | None]]:
    """The timeline rendering, with inline images read through ``load``."""

    async def render(message: Mapping[str, Any], context: Any) -> str | None:
        return await render_email(message, context, load)

    return render


async def render_email(
    message: Mapping[str, Any], context: Any, load: Loader | None = None
) -> str | None:
    facts = message.get("email")
    if not isinstance(facts, Mapping):
        return None
    _: Callable[[str], str] = context.gettext
    sender = facts.get("from") or ""
    name = facts.get("name")
    shown_from = f"{name} <{sender}>" if name else sender
    head = Markup('<dl class="email-head">{}{}{}</dl>').format(
        _people(_("From"), [shown_from] if sender else []),
        _people(_("To"), list(facts.get("to") or [])),
        _people(_("Cc"), list(facts.get("cc") or [])),
    )
    parts = [Markup('<div class="email-msg">'), head]
    reason = message.get("thread_reason")
    if reason in REASONS:
        parts.append(
            Markup('<p class="thread-reason muted" data-reason="{}">{}</p>').format(
                reason, _(REASONS[reason])
            )
        )
    html = message.get("html")
    if html:
        html = await inline_images(message, html, load, getattr(context, "staff", None))
    body = render_body(message, _, html)
    noise = facts.get("noise")
    if noise in NOISE:
        parts.append(
            Markup('<details class="email-noise"><summary>{}</summary>{}</details>').format(
                _(NOISE[noise]), body
            )
        )
    else:
        parts.append(body)
    files = message.get("attachments") or []
    if files:
        items = Markup("").join(
            Markup(
                '<li><a href="/api/v1/attachments/{}" download>{}</a> '
                '<span class="muted">{}</span></li>'
            ).format(a["id"], a.get("name") or _("attachment"), _size(int(a.get("size") or 0)))
            for a in files
        )
        label = _("Attachments")
        parts.append(Markup('<ul class="attachments" aria-label="{}">{}</ul>').format(label, items))
    if facts.get("original") and message.get("id"):
        parts.append(
            Markup(
                '<p class="email-original"><a href="/api/v1/messages/{}/original" download>{}</a>'
                "</p>"
            ).format(message["id"], _("Show original"))
        )
    parts.append(Markup("</div>"))
    return str(Markup("").join(parts))


PARTICIPANTS_TITLE = N_("Participants (CC)")


async def render_participants(context: Any) -> str | None:
    """The ticket's CC participants: they may write into the ticket and stay on CC of
    every reply. Hidden when there are none."""
    people = list(context.ticket.get("participants") or [])
    if not people:
        return None
    items = Markup("").join(Markup("<li>{}</li>").format(p) for p in people)
    note = context.gettext("They receive every reply on CC.")
    return str(
        Markup('<ul class="participants">{}</ul><p class="muted">{}</p>').format(items, note)
    )
