"""The ticket page's seam: panels and timeline renderings registered by other rooms."""

from __future__ import annotations

import asyncio

import pytest

from agent_ui import panels
from agent_ui.panels import Panel, PanelContext, PanelRegistry
from tickets import Role, StaffUser

STAFF = StaffUser(1, "a@example.com", "A", Role.AGENT, frozenset({1}))
CONTEXT = PanelContext({"number": "SB-1001"}, STAFF, "en", lambda s: s)


async def test_panels_render_in_order_and_a_failing_one_never_breaks_the_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = PanelRegistry()

    async def parts(ctx: PanelContext) -> str:
        return f"<p>parts for {ctx.ticket['number']}</p>"

    async def broken(ctx: PanelContext) -> str:
        raise RuntimeError("ERP down")

    async def hidden(ctx: PanelContext) -> None:
        return None

    async def slow(ctx: PanelContext) -> str:
        await asyncio.sleep(10)
        return "never"

    monkeypatch.setattr(panels, "PANEL_TIMEOUT_S", 0.05)
    registry.add_panel(Panel("erp.parts", "Spare parts", parts, order=20))
    registry.add_panel(Panel("broken", "Broken", broken, order=10))
    registry.add_panel(Panel("hidden", "Hidden", hidden))
    registry.add_panel(Panel("slow", "Slow", slow, order=30))
    shown = await registry.render_panels(CONTEXT)
    assert [p.key for p, _ in shown] == ["broken", "erp.parts", "slow"]
    assert "unavailable" in shown[0][1]
    assert shown[1][1] == "<p>parts for SB-1001</p>"
    assert "unavailable" in shown[2][1]
    with pytest.raises(ValueError):
        registry.add_panel(Panel("erp.parts", "again", parts))


async def test_timeline_rendering_per_channel() -> None:
    registry = PanelRegistry()

    async def call(message: object, ctx: PanelContext) -> str:
        return "<audio controls></audio>"

    registry.add_timeline("voice", call)
    assert await registry.render_message({"channel": "voice"}, CONTEXT) == (
        "<audio controls></audio>"
    )
    assert await registry.render_message({"channel": "sms"}, CONTEXT) is None
