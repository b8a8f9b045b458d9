"""Chat deflection on Telegram, as on the web chat (issue 12): the first message of a new
conversation gets up to three public help-center articles when its queue has deflection
on (the composition root passes ``switchboard.deflection.kb_deflector``), as one bot
message with an inline "this solved it" button. Pressing it solves the conversation as
self-served (``tickets.solve_self_served``: tagged, counted on the wallboard); anything
the customer writes instead simply continues to an agent, who already has the ticket.

Decisions:
- The button's ``callback_data`` is ``solved:<ticket id>`` (Telegram allows 64 bytes);
  the press is honoured only for a ticket of the pressing chat's own identity, so a
  forged callback cannot close someone else's ticket.
- Article links are absolute (``SWITCHBOARD_PUBLIC_URL`` + ``/help/articles/<slug>``):
  Telegram cannot open a relative link. Without a public URL the titles and snippets are
  sent alone.
- The language follows the message: Chinese text (or a Chinese Telegram client writing
  no letters at all) gets Chinese, anything else English.
- Articles are an extra; failing to send them never fails the update (logged).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

SOLVED_PREFIX = "solved:"
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "intro": "在等待客服的同时，这些文章也许能帮到您：",
        "outro": "如果问题已经解决，请点下面的按钮；否则请继续留言，客服会尽快回复您。",
        "button": "✅ 问题已解决",
        "solved": "好的，这个问题已为您关闭。如还需要帮助，直接留言即可。",
        "toast": "已标记为已解决，谢谢！",
        "closed": "这个问题已经关闭了。",
        "unknown": "找不到这个问题。",
    },
    "en": {
        "intro": "While you wait for an agent, these articles may help:",
        "outro": (
            "If one of them solved your problem, tap the button below; otherwise just keep "
            "writing and an agent will answer soon."
        ),
        "button": "✅ This solved it",
        "solved": "Great, we have closed this conversation. Write here any time you need us.",
        "toast": "Marked as solved, thank you!",
        "closed": "This conversation is already closed.",
        "unknown": "We could not find this conversation.",
    },
}


def language_of(text: str, language_code: str | None) -> str:
    if _CJK.search(text):
        return "zh"
    if not _LATIN.search(text) and (language_code or "").lower().startswith("zh"):
        return "zh"
    return "en"


def text_for(language: str, key: str) -> str:
    return TEXTS.get(language, TEXTS["en"])[key]


def offer(
    articles: Sequence[dict[str, Any]], language: str, public_url: str | None
) -> tuple[str, str]:
    """The message listing ``articles`` (the deflector's ``articles`` entries) and the
    label of its button."""
    lines = [text_for(language, "intro"), ""]
    base = (public_url or "").rstrip("/")
    for n, article in enumerate(articles[:3], start=1):
        lines.append(f"{n}. {article['title']}")
        if base:
            lines.append(f"{base}{article['url']}")
        elif article.get("snippet"):
            lines.append(str(article["snippet"])[:300])
        lines.append("")
    lines.append(text_for(language, "outro"))
    return "\n".join(lines), text_for(language, "button")


def solved_data(ticket_id: int) -> str:
    return f"{SOLVED_PREFIX}{ticket_id}"


def parse_solved(data: str) -> int | None:
    """The ticket id of a "this solved it" press; None for any other callback data."""
    if not data.startswith(SOLVED_PREFIX):
        return None
    rest = data[len(SOLVED_PREFIX) :]
    return int(rest) if rest.isdigit() and len(rest) < 19 else None
