"""The seam other rooms plug into the ticket page: side panels and per-channel timeline
rendering, registered by name, so the ERP room adds a parts panel and the voice channel
its call/voicemail rendering without editing the ticket template.

A room that owns data shown on the ticket page writes a render function; the composition
root (``switchboard.app``) registers it here (DESIGN.md's arrows forbid the rooms below
from importing ``agent_ui``, so they only need to match the ``PanelRender`` /
``TimelineRender`` shapes). A panel returns HTML it has escaped or sanitized itself (a
jinja2 template with autoescaping, or ``markupsafe.escape``), or None to stay hidden for
that ticket. A panel that fails or times out is shown as unavailable; it never breaks the
page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from markupsafe import Markup, escape

from tickets import StaffUser

log = logging.getLogger(__name__)

PANEL_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class PanelContext:
    """What a panel may know: the ticket as the JSON API shows it, who is looking, and
    the UI language (``zh_CN`` or ``en``)."""

    ticket: Mapping[str, Any]
    staff: StaffUser
    language: str
    gettext: Callable[[str], str]


PanelRender = Callable[[PanelContext], Awaitable[str | None]]
TimelineRender = Callable[[Mapping[str, Any], PanelContext], Awaitable[str | None]]
"""Renders one message of a channel (the message as JSON); None falls back to the
default rendering."""


@dataclass(frozen=True, slots=True)
class Panel:
    key: str
    title: str
    """A message id; shown through gettext in the user's language."""
    render: PanelRender
    order: int = 100


@dataclass
class PanelRegistry:
    panels: dict[str, Panel] = field(default_factory=dict)
    timeline: dict[str, TimelineRender] = field(default_factory=dict)

    def add_panel(self, panel: Panel) -> None:
        if panel.key in self.panels:
            raise ValueError(f"panel {panel.key!r} is already registered")
        self.panels[panel.key] = panel

    def add_timeline(self, channel: str, render: TimelineRender) -> None:
        if channel in self.timeline:
            raise ValueError(f"timeline rendering for {channel!r} is already registered")
        self.timeline[channel] = render

    async def render_panels(self, context: PanelContext) -> list[tuple[Panel, Markup]]:
        """Every panel with something to show, in order; a failing panel says so."""
        ordered = sorted(self.panels.values(), key=lambda p: (p.order, p.key))
        results = await asyncio.gather(
            *(self._one(p, context) for p in ordered), return_exceptions=False
        )
        return [(p, html) for p, html in zip(ordered, results, strict=True) if html is not None]

    async def _one(self, panel: Panel, context: PanelContext) -> Markup | None:
        try:
            async with asyncio.timeout(PANEL_TIMEOUT_S):
                html = await panel.render(context)
        except Exception:
            log.exception("panel %s failed", panel.key)
            return (
                Markup('<p class="panel-error">')
                + escape(context.gettext("This panel is unavailable right now."))
                + Markup("</p>")
            )
        return None if html is None else Markup(html)

    async def render_message(
        self, message: Mapping[str, Any], context: PanelContext
    ) -> Markup | None:
        render = self.timeline.get(str(message.get("channel")))
        if render is None:
            return None
        try:
            async with asyncio.timeout(PANEL_TIMEOUT_S):
                html = await render(message, context)
        except Exception:
            log.exception("timeline rendering for %s failed", message.get("channel"))
            return None
        return None if html is None else Markup(html)


PANELS = web.AppKey("panels", PanelRegistry)
