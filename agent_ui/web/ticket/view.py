"""What the ticket page shows, worked out on the server for the user looking: the
timeline with each message rendered by its channel's registered renderer (else the
default template), the statuses the transition table allows next, the assignees and
queues the user may choose, the channels a reply may go out on, and the panels.

Only what the user may do is offered; the services still decide (a forged post gets
their error). Agents assign only themselves (and unassign only themselves), move nothing
between queues and merge no customers; supervisors and admins may assign any member of
the ticket's queue. A closed ticket offers notes only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from agent_ui.context import SENDERS
from agent_ui.panels import PANELS, Panel, PanelContext
from agent_ui.web import i18n
from agent_ui.web.ticket import data
from tickets import Channel, Priority, StaffUser, TicketStatus

CHANNEL_LABELS = {
    "email": "Email",
    "sms": "SMS",
    "voice": "Phone",
    "webchat": "Chat",
    "telegram": "Telegram",
    "api": "API",
}


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    channel: str
    address: str
    verified: bool
    unreachable: str | None = None


@dataclass
class TicketView:
    ticket: dict[str, Any]
    customer: dict[str, Any]
    timeline: list[tuple[dict[str, Any], Markup | None]]
    statuses: list[str]
    priorities: list[str]
    queues: list[str]
    assignees: list[str]
    may_unassign: bool
    may_change: bool
    may_move: bool
    may_merge: bool
    may_unmerge: bool
    read_only: bool
    targets: list[ReplyTarget]
    panels: list[tuple[Panel, Markup]] = field(default_factory=list)

    @property
    def number(self) -> str:
        return str(self.ticket["number"])


def next_statuses(current: str) -> list[str]:
    """The current status first, then what ``ALLOWED_TRANSITIONS`` allows from it."""
    now = TicketStatus(current)
    allowed = tickets.ALLOWED_TRANSITIONS[now]
    return [now.value, *(s.value for s in TicketStatus if s in allowed)]


def reply_targets(customer: dict[str, Any], reachable: set[Channel] | None) -> list[ReplyTarget]:
    """One target per channel this server can send on and the customer has an address
    for (the address ``tickets.reply`` will use: the oldest verified one, else the oldest
    claim). A target whose address cannot be reached carries the reason: the composer
    shows it and does not offer it."""
    out: list[ReplyTarget] = []
    for channel in Channel:
        if reachable is not None and channel not in reachable:
            continue
        wanted = tickets.identity_channel(channel)
        found = [i for i in customer.get("identities", []) if i["channel"] == wanted]
        found.sort(key=lambda i: not i["verified"])
        if found:
            ident = found[0]
            out.append(
                ReplyTarget(
                    channel.value,
                    ident["address"],
                    bool(ident["verified"]),
                    ident.get("unreachable"),
                )
            )
    return out


def reachable_channels(request: web.Request) -> set[Channel] | None:
    senders = request.app.get(SENDERS)
    if senders is None:
        return None
    return {c for c in Channel if senders.get(c) is not None}


def panel_context(request: web.Request, staff: StaffUser, ticket: dict[str, Any]) -> PanelContext:
    return PanelContext(ticket, staff, i18n.current(), i18n.gettext_)


async def render_timeline(
    request: web.Request, staff: StaffUser, ticket: dict[str, Any]
) -> list[tuple[dict[str, Any], Markup | None]]:
    registry = request.app[PANELS]
    context = panel_context(request, staff, ticket)
    out = []
    for message in ticket.get("messages", []):
        out.append((message, await registry.render_message(message, context)))
    return out


async def load(
    request: web.Request,
    session: AsyncSession,
    staff: StaffUser,
    number: str,
) -> TicketView:
    ticket = await data.ticket(session, staff, number)
    customer = await data.customer(session, staff, ticket["customer"]["id"])
    queues = await data.queues(session)
    queue_id = next((q.id for q in queues if q.name == ticket["queue"]), None)
    closed = ticket["status"] == TicketStatus.CLOSED.value
    changeable = staff.sees_all_queues or (queue_id is not None and queue_id in staff.queue_ids)
    if staff.supervises:
        assignees = sorted(m.email for m in await data.members(session) if queue_id in m.queue_ids)
        if ticket["assignee"] and ticket["assignee"] not in assignees:
            assignees.insert(0, ticket["assignee"])
        may_unassign = True
    else:
        assignees = [staff.email]
        if ticket["assignee"] and ticket["assignee"] != staff.email:
            assignees.insert(0, ticket["assignee"])
        may_unassign = ticket["assignee"] in (None, staff.email)
    return TicketView(
        ticket=ticket,
        customer=customer,
        timeline=[],
        statuses=next_statuses(ticket["status"]),
        priorities=[p.value for p in Priority],
        queues=[q.name for q in queues] if staff.supervises else [ticket["queue"] or ""],
        assignees=assignees,
        may_unassign=may_unassign,
        may_change=changeable and not closed,
        may_move=staff.supervises and not closed,
        may_merge=staff.supervises,
        may_unmerge=staff.supervises and data.can_unmerge(),
        read_only=closed,
        targets=reply_targets(customer, reachable_channels(request)),
    )


async def finish(request: web.Request, view: TicketView, staff: StaffUser) -> TicketView:
    """The parts outside the database session: renderers and panels of other rooms."""
    view.timeline = await render_timeline(request, staff, view.ticket)
    brief = {k: v for k, v in view.ticket.items() if k != "messages"}
    view.panels = await request.app[PANELS].render_panels(panel_context(request, staff, brief))
    return view
