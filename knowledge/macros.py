"""Macros (canned replies): shared by a queue or personal, with placeholders filled from
the ticket, its customer and the agent: ``{customer.name}``, ``{ticket.number}``,
``{ticket.subject}``, ``{agent.name}``, and any value the composition root adds (the ERP
room's ``{order.status}`` where it exists). An unknown placeholder is left as written,
so a typo shows in the composer instead of vanishing; ``{{`` and ``}}`` are literal
braces. Chosen from the composer by typing ``/`` or ``#`` and a part of the name.

Who sees which: an agent sees their own macros and those of the queues they belong to
(admins: every queue's); queue macros are made by supervisors and admins, personal ones
by anyone."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import Macro
from tickets import Forbidden, Invalid, NotFound, StaffUser

MAX_NAME = 100
MAX_BODY = 20_000
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_]+\.[a-z_]+)\}")


@dataclass(frozen=True, slots=True)
class MacroView:
    id: int
    name: str
    body: str
    scope: str  # "personal" or the queue's name


def placeholders(ticket: Mapping[str, Any], staff: StaffUser) -> dict[str, str]:
    customer = ticket.get("customer") or {}
    return {
        "customer.name": str(customer.get("name") or ""),
        "ticket.number": str(ticket.get("number") or ""),
        "ticket.subject": str(ticket.get("subject") or ""),
        "agent.name": staff.name,
        "agent.email": staff.email,
    }


def render(body: str, values: Mapping[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return values.get(match.group(1), token)

    return _PLACEHOLDER.sub(fill, body)


def _visible(staff: StaffUser) -> Any:
    shared = Macro.queue_id.is_not(None)
    if not staff.sees_all_queues:
        shared = Macro.queue_id.in_(sorted(staff.queue_ids))
    return or_(Macro.owner_id == staff.id, shared)


async def macros_for(
    session: AsyncSession,
    staff: StaffUser,
    query: str = "",
    queue_names: Mapping[int, str] | None = None,
) -> list[MacroView]:
    """The macros ``staff`` may use, those whose name contains ``query`` first by name."""
    rows = await session.execute(select(Macro).where(_visible(staff)).order_by(Macro.name))
    needle = query.strip().casefold()
    names = queue_names or {}
    out = []
    for macro in rows.scalars():
        if needle and needle not in macro.name.casefold():
            continue
        scope = "personal" if macro.owner_id is not None else names.get(macro.queue_id or 0, "")
        out.append(MacroView(macro.id, macro.name, macro.body, scope))
    return out


async def macro_for(session: AsyncSession, staff: StaffUser, macro_id: int) -> Macro:
    found = (
        await session.execute(select(Macro).where(Macro.id == macro_id, _visible(staff)))
    ).scalar()
    if found is None:
        raise NotFound("no such macro")
    return found


async def add_macro(
    session: AsyncSession,
    staff: StaffUser,
    name: str,
    body: str,
    now: datetime,
    *,
    queue_id: int | None = None,
) -> Macro:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise Invalid(f"a macro's name is 1 to {MAX_NAME} characters")
    if not body.strip() or len(body) > MAX_BODY:
        raise Invalid(f"a macro's text is 1 to {MAX_BODY} characters")
    if queue_id is not None:
        if not staff.supervises:
            raise Forbidden("only supervisors and admins make queue macros")
        if not staff.sees_all_queues and queue_id not in staff.queue_ids:
            raise Forbidden("you are not a member of that queue")
    macro = Macro(
        name=name,
        body=body,
        queue_id=queue_id,
        owner_id=None if queue_id is not None else staff.id,
        created_at=now,
    )
    session.add(macro)
    await session.flush()
    return macro


async def delete_macro(session: AsyncSession, staff: StaffUser, macro_id: int) -> None:
    macro = await macro_for(session, staff, macro_id)
    if macro.owner_id != staff.id and not staff.supervises:
        raise Forbidden("only supervisors and admins delete queue macros")
    await session.delete(macro)
    await session.flush()
