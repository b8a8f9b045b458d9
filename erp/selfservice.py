"""Order-status self-service: a customer who asks about an order with a recognisable
reference gets its state back automatically, on the channel they used and in their
language (a Chinese question gets a Chinese answer), when the ticket's queue allows it.

Per queue (``SWITCHBOARD_ERP_SELF_SERVICE="Orders=auto,Repairs=suggest"``): ``auto``
answers the customer; ``suggest`` writes the answer as an internal note for the agent to
send or adapt; ``off`` (the default) does neither. Only an order the ERP knows is
answered; an unknown reference or an ERP that is down is left to the agent. The answer is
written by a staff user of its own (``auto-reply@switchboard.invalid``, no password, so
nobody can sign in as it), which the timeline shows as the automatic reply's author.

After an automatic answer, a short thank-you from the customer ("谢谢", "thanks!") solves
the ticket as self-served (tag ``self-served``), and so does silence: no word from anyone
for ``SWITCHBOARD_ERP_SELF_SERVICE_QUIET_MINUTES`` (60; 0 turns it off). Anything else the
customer writes goes on to an agent as usual (routing offered the ticket already)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from erp.models import ErpTicketFindings
from tickets import Conflict, Desk, Event, NotFound, Role, StaffUser, TicketChanges

MODES = ("auto", "suggest", "off")
BOT_EMAIL = "auto-reply@switchboard.invalid"
BOT_NAME = "自动回复 Auto-reply"
SELF_SERVED_TAG = "self-served"
_THANKS = re.compile(
    r"(谢谢|多谢|感谢|谢啦|thanks|thank you|thx|cheers|great|好的|收到)", re.IGNORECASE
)
_BUT = re.compile(r"(但|可是|还是|还没|不过|but|still|not|n't|\?|？)", re.IGNORECASE)


class PolicyError(ValueError):
    pass


def parse_policy(raw: str | None) -> dict[str, str]:
    """``"Orders=auto, Repairs=suggest"`` -> ``{"orders": "auto", "repairs": "suggest"}``
    (queue names compared without case)."""
    policy: dict[str, str] = {}
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        queue, sep, mode = part.partition("=")
        mode = mode.strip().lower()
        if not sep or not queue.strip() or mode not in MODES:
            raise PolicyError(
                f"SWITCHBOARD_ERP_SELF_SERVICE: {part.strip()!r} is not QUEUE=auto|suggest|off"
            )
        policy[queue.strip().lower()] = mode
    return policy


def is_thanks(text: str) -> bool:
    """A short thank-you with no "but" and no question in it."""
    clean = text.strip()
    return len(clean) <= 40 and bool(_THANKS.search(clean)) and not _BUT.search(clean)


ZH_STATES = {
    "ordered": "已确认，正在备货",
    "partially_shipped": "已部分发货",
    "shipped": "已发货",
    "delivered": "已送达",
    "cancelled": "已取消",
}
EN_STATES = {
    "ordered": "is confirmed and being prepared",
    "partially_shipped": "is partly on its way",
    "shipped": "has shipped",
    "delivered": "was delivered",
    "cancelled": "was cancelled",
}


def order_answer(order: Mapping[str, Any], language: str) -> str:
    """The customer's answer for one order (the order as ``erp.views.order_json``)."""
    ref, state = str(order["reference"]), str(order["state"])
    shipments = [s for s in order.get("shipments") or [] if s.get("tracking_number")]
    promised = order.get("promised_date")
    if language == "zh":
        text = f"您好！订单 {ref} {ZH_STATES.get(state, state)}。"
        for s in shipments:
            text += f"承运商：{s.get('carrier') or '快递'}，运单号：{s['tracking_number']}"
            text += f"，查询：{s['tracking_url']}。" if s.get("tracking_url") else "。"
        if promised and state in ("ordered", "partially_shipped", "shipped"):
            text += f"预计送达日期：{promised}。"
        return text + "如有其他问题，请直接回复，客服会继续为您服务。"
    text = f"Hello! Order {ref} {EN_STATES.get(state, state)}."
    for s in shipments:
        text += f" Carrier: {s.get('carrier') or 'courier'}, tracking number {s['tracking_number']}"
        text += f" ({s['tracking_url']})." if s.get("tracking_url") else "."
    if promised and state in ("ordered", "partially_shipped", "shipped"):
        text += f" Expected delivery: {promised}."
    return text + " If there is anything else, just reply and an agent will help you."


@dataclass
class SelfService:
    desk: Desk
    policy: dict[str, str]
    _bot: StaffUser | None = None

    async def bot(self) -> StaffUser:
        if self._bot is not None:
            return self._bot

        async def ensure(session: AsyncSession, now: datetime) -> tuple[int, list[Event]]:
            try:
                return await tickets.user_id_by_email(session, BOT_EMAIL), []
            except NotFound:
                pass
            return (
                await tickets.create_user(session, BOT_EMAIL, Role.ADMIN, now, name=BOT_NAME),
                [],
            )

        try:
            user_id = await self.desk.write(ensure)
        except Conflict:  # another process made it first
            user_id = await self.desk.read(lambda s: tickets.user_id_by_email(s, BOT_EMAIL))
        self._bot = StaffUser(user_id, BOT_EMAIL, BOT_NAME, Role.ADMIN, frozenset())
        return self._bot

    async def mode_for(self, ticket_id: int) -> str:
        if not self.policy:
            return "off"

        async def queue_name(session: AsyncSession) -> str | None:
            facts = await tickets.ticket_facts(session, ticket_id)
            if facts is None or facts.queue_id is None:
                return None
            names = {q.id: q.name for q in await tickets.all_queues(session)}
            return names.get(facts.queue_id)

        name = await self.desk.read(queue_name)
        return self.policy.get((name or "").lower(), "off")

    async def answer(
        self,
        ticket_id: int,
        number: str,
        message_id: int,
        text: str,
        orders: list[Mapping[str, Any]],
        mode: str,
    ) -> int | None:
        """Answers (``auto``) or suggests (``suggest``) the state of ``orders`` for the
        customer's message ``message_id``, once: the message is remembered with the answer
        in one transaction, so a redelivered event never answers twice."""
        language = tickets.detect_language(text) or "en"
        body = "\n".join(order_answer(o, language) for o in orders)
        bot = await self.bot()

        async def work(session: AsyncSession, now: datetime) -> tuple[int | None, Any]:
            row = await _findings(session, ticket_id, now)
            state = dict(row.data.get("self_service") or {})
            if message_id in state.get("answered", []):
                return None, ()
            if mode == "auto":
                written = await tickets.reply(session, bot, number, body, now)
            else:
                written = await tickets.add_note(
                    session, bot, number, f"Suggested answer:\n{body}", now
                )
            state.update(
                replies=[*state.get("replies", []), written.message_id],
                answered=[*state.get("answered", []), message_id],
                mode=mode,
                language=language,
                waiting_for_thanks=mode == "auto",
                at=now.isoformat(),
            )
            row.data = {**row.data, "self_service": state}
            row.updated_at = now
            return written.message_id, written.events

        return await self.desk.write(work)

    async def after_answer(self, ticket_id: int, number: str, text: str) -> str | None:
        """The customer's next message after an automatic answer: a thank-you solves the
        ticket as self-served (``"solved"``); anything else hands it on (``"agent"``).
        None when no automatic answer is waiting."""
        bot = await self.bot()
        thanked = is_thanks(text)

        async def work(session: AsyncSession, now: datetime) -> tuple[str | None, Any]:
            row = await _findings(session, ticket_id, now)
            state = dict(row.data.get("self_service") or {})
            if not state.get("waiting_for_thanks"):
                return None, ()
            state["waiting_for_thanks"] = False
            events: tuple[Event, ...] = ()
            if thanked:
                detail = await tickets.ticket_detail(session, bot, number)
                tags = sorted({*detail.get("tags", []), SELF_SERVED_TAG})
                written = await tickets.update_ticket(
                    session, bot, number, TicketChanges(status="solved", tags=tags), now
                )
                events = written.events
            state["outcome"] = "solved" if thanked else "agent"
            row.data = {**row.data, "self_service": state}
            row.updated_at = now
            return state["outcome"], events

        return await self.desk.write(work)

    async def solve_quiet(self, quiet: timedelta, now: datetime, limit: int = 200) -> list[str]:
        """Solves as self-served the tickets whose customer said nothing for ``quiet``
        after an automatic answer (and nobody else wrote since); their numbers."""
        cutoff = now - quiet
        bot = await self.bot()

        async def candidates(session: AsyncSession) -> list[int]:
            rows = await session.execute(
                select(ErpTicketFindings.ticket_id, ErpTicketFindings.data)
                .where(ErpTicketFindings.updated_at <= cutoff)
                .order_by(ErpTicketFindings.updated_at)
                .limit(limit)
            )
            return [
                ticket_id
                for ticket_id, data in rows.all()
                if (data.get("self_service") or {}).get("waiting_for_thanks")
            ]

        solved = []
        for ticket_id in await self.desk.read(candidates):
            number = tickets.format_number(ticket_id)
            if await self._solve_quiet_one(ticket_id, number, bot):
                solved.append(number)
        return solved

    async def _solve_quiet_one(self, ticket_id: int, number: str, bot: StaffUser) -> bool:
        async def work(session: AsyncSession, now: datetime) -> tuple[bool, Any]:
            row = await _findings(session, ticket_id, now)
            state = dict(row.data.get("self_service") or {})
            if not state.get("waiting_for_thanks"):
                return False, ()
            state["waiting_for_thanks"] = False
            detail = await tickets.ticket_detail(session, bot, number)
            written = [m for m in detail["messages"] if m["direction"] in ("in", "out")]
            last_is_ours = bool(written) and written[-1]["id"] in state.get("replies", [])
            events: tuple[Event, ...] = ()
            if last_is_ours and detail["status"] in ("new", "open", "pending"):
                tags = sorted({*detail.get("tags", []), SELF_SERVED_TAG})
                events = (
                    await tickets.update_ticket(
                        session, bot, number, TicketChanges(status="solved", tags=tags), now
                    )
                ).events
                state["outcome"] = "quiet"
            else:
                state["outcome"] = "agent"
            row.data = {**row.data, "self_service": state}
            row.updated_at = now
            return state["outcome"] == "quiet", events

        return await self.desk.write(work)


async def _findings(session: AsyncSession, ticket_id: int, now: datetime) -> ErpTicketFindings:
    row = await session.get(ErpTicketFindings, ticket_id, with_for_update=True)
    if row is None:
        row = ErpTicketFindings(ticket_id=ticket_id, data={"items": []}, updated_at=now)
        session.add(row)
    return row
