"""Presence: online, away, offline. Kept in the store (live) and in the database (the
record a rebuild starts from). Going offline hands live conversations (and open offers)
back to the front of the queue and keeps email unless the agent's profile says otherwise;
coming online serves the agent's queues at once."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from routing import loader
from routing.events import AgentPresenceChanged
from routing.policy import LIVE_CHANNELS
from routing.state import PRESENCES, AgentInfo
from tickets import Actor, Event, Invalid, record_audit

if TYPE_CHECKING:
    from routing.engine import RoutingEngine


class Presence:
    def __init__(self, engine: RoutingEngine) -> None:
        self.engine = engine

    async def set(
        self, agent_id: int, presence: str, actor: Actor, *, reason: str = "manual"
    ) -> str:
        engine = self.engine
        if presence not in PRESENCES:
            raise Invalid(f"presence must be one of {', '.join(PRESENCES)}")
        info = engine.agents.get(agent_id)
        if info is None:
            await engine.request_reload()
            info = engine.agents.get(agent_id)
            if info is None:
                raise Invalid("this user is not a member of any queue")
        now = engine.now()
        old = await engine.store.set_presence(agent_id, presence, now)

        async def save(session: AsyncSession, at: datetime) -> tuple[None, list[Event]]:
            await loader.save_presence(session, agent_id, presence, at)
            await record_audit(
                session,
                actor,
                "agent.presence",
                at,
                None,
                agent_id=agent_id,
                old=old,
                new=presence,
                reason=reason,
            )
            return None, [AgentPresenceChanged(agent_id, info.email, old, presence, reason)]

        await engine.compensated(
            lambda: engine.desk.write(save),
            lambda: engine.store.set_presence(agent_id, old, now),
        )
        if presence == "offline" and old != "offline":
            await self._hand_back(info)
        if presence == "online":
            await engine.route(info.queues, only_agents={agent_id})
        return old

    async def _hand_back(self, info: AgentInfo) -> None:
        engine = self.engine
        await engine.offers.withdraw_from(info.id)
        for ticket_id, channel in await engine.store.held_by(info.id):
            if channel not in LIVE_CHANNELS and info.keep_email_on_offline:
                continue
            held = await engine.store.release(ticket_id)
            if held is None:
                continue
            await engine.unassign(ticket_id, held, "agent offline")
            facts = await engine.facts(ticket_id)
            if facts is not None:
                await engine.enqueue(facts, front=True)
