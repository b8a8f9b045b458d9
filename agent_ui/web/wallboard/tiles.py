"""The wallboard's live numbers, computed from routing's board state for one scope: a tile
per queue and per channel, and a row per agent.

Occupancy is the load of the online agents over their capacity (per queue: over every
channel; per channel: on that channel). Away and offline agents carry load (a mail they
keep) but offer no room, so they count in neither side. A queue's waiting work includes
work on every channel; a channel tile sums that channel over the visible queues. Refused
work is work every able agent turned down (it waits for its next round).

Waiting counts the work still queued and the work offered but not yet accepted: the
customer of an offered chat still waits for a person, so the count falls when an agent
accepts, not when routing picks one. The longest wait is that of the queued work (an
offer is at most its time-out old)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent_ui.web.wallboard import labels
from agent_ui.web.wallboard.scope import Scope
from routing.board import BoardState
from routing.state import AgentInfo, WorkItem
from tickets import format_number

CHANNEL_ORDER = ("webchat", "telegram", "voice", "sms", "email", "api")


@dataclass(slots=True)
class Tile:
    key: str
    title: str
    waiting: int = 0
    oldest_arrival: float | None = None
    online: int = 0
    away: int = 0
    offline: int = 0
    load: int = 0
    capacity: int = 0
    refused: int = 0
    offered: int = 0
    now: float = 0.0
    rating: float | None = None
    """Today's average customer rating (1-5), when somebody rated today."""
    ratings: int = 0

    @property
    def longest_wait_s(self) -> int:
        return 0 if self.oldest_arrival is None else max(0, int(self.now - self.oldest_arrival))

    @property
    def occupancy(self) -> int | None:
        """Percent, or None when nobody online has room on it."""
        return None if self.capacity <= 0 else round(100 * self.load / self.capacity)

    def add_wait(self, item: WorkItem) -> None:
        self.waiting += 1
        if self.oldest_arrival is None or item.arrived_at < self.oldest_arrival:
            self.oldest_arrival = item.arrived_at


@dataclass(frozen=True, slots=True)
class OfferView:
    number: str
    channel: str
    expires_at: float


@dataclass(slots=True)
class AgentRow:
    id: int
    email: str
    name: str
    presence: str
    queues: list[str]
    channels: list[tuple[str, int, int]] = field(default_factory=list)
    """(channel, load, capacity) for each channel the agent takes work on."""
    solved_today: int = 0
    offers: list[OfferView] = field(default_factory=list)


def visible_agents(board: BoardState, scope: Scope) -> list[AgentInfo]:
    return sorted((a for a in board.agents.values() if scope.sees_agent(a)), key=lambda a: a.email)


def _presence(board: BoardState, agent_id: int) -> str:
    live = board.live.get(agent_id)
    return live.presence if live else "offline"


def _count_agent(tile: Tile, board: BoardState, agent: AgentInfo, channels: list[str]) -> None:
    presence = _presence(board, agent.id)
    if presence == "online":
        tile.online += 1
        live = board.live[agent.id]
        tile.load += sum(live.load.get(ch, 0) for ch in channels)
        tile.capacity += sum(agent.capacity.get(ch, 0) for ch in channels)
    elif presence == "away":
        tile.away += 1
    else:
        tile.offline += 1


def queue_tiles(
    board: BoardState,
    scope: Scope,
    configured: set[str],
    ratings: list[dict[str, Any]] | None = None,
) -> list[Tile]:
    """Occupancy counts the channels the server answers on, and any channel that holds
    work right now (capacity on a channel nobody can reach would dilute it). ``ratings``:
    today's average per queue name (``tickets.ratings_since``)."""
    queues = sorted(
        (q for q in board.queues.values() if scope.sees_queue(q.id)),
        key=lambda q: (q.position, q.name),
    )
    tiles = {q.id: Tile(str(q.id), q.name, now=board.now) for q in queues}
    for item in board.waiting:
        if item.queue_id in tiles:
            tiles[item.queue_id].add_wait(item)
    for agent in board.agents.values():
        live = board.live.get(agent.id)
        load = live.load if live else {}
        channels = [c for c in agent.capacity if c in configured or load.get(c)]
        for queue_id in agent.queues:
            if queue_id in tiles:
                _count_agent(tiles[queue_id], board, agent, channels)
    for queue_id in board.refused.values():
        if queue_id in tiles:
            tiles[queue_id].refused += 1
    for offer in board.offers:
        if offer.queue_id in tiles:
            tiles[offer.queue_id].waiting += 1
            tiles[offer.queue_id].offered += 1
    by_name = {t.title: t for t in tiles.values()}
    for row in ratings or []:
        found = by_name.get(row.get("queue") or "")
        if found is not None and row.get("count"):
            found.rating, found.ratings = float(row["average"]), int(row["count"])
    return list(tiles.values())


def channel_tiles(board: BoardState, scope: Scope, configured: set[str]) -> list[Tile]:
    """A tile per channel this server can answer on (``configured``), and per other
    channel while it has waiting, offered or held work."""
    agents = visible_agents(board, scope)
    waiting = [i for i in board.waiting if scope.sees_queue(i.queue_id)]
    offers = [o for o in board.offers if scope.sees_queue(o.queue_id)]
    busy = {
        ch
        for a in agents
        for ch, n in (board.live[a.id].load if a.id in board.live else {}).items()
        if n
    }
    codes = set(configured) | busy | {i.channel for i in waiting} | {o.channel for o in offers}
    ordered = sorted(codes, key=lambda c: (CHANNEL_ORDER.index(c) if c in CHANNEL_ORDER else 99, c))
    tiles = {c: Tile(c, labels.channel(c), now=board.now) for c in ordered}
    for item in waiting:
        tiles[item.channel].add_wait(item)
    for offer in offers:
        tiles[offer.channel].waiting += 1
        tiles[offer.channel].offered += 1
    for agent in agents:
        for code, cap in agent.capacity.items():
            if cap > 0 and code in tiles:
                _count_agent(tiles[code], board, agent, [code])
    channel_of = {i.ticket_id: i.channel for i in board.waiting}
    for ticket_id, queue_id in board.refused.items():
        lane = channel_of.get(ticket_id)
        if lane is not None and lane in tiles and scope.sees_queue(queue_id):
            tiles[lane].refused += 1
    return list(tiles.values())


def agent_rows(
    board: BoardState,
    scope: Scope,
    names: dict[int, str],
    solved: dict[int, int],
    configured: set[str],
) -> list[AgentRow]:
    """Load is shown per channel the agent takes work on and the server answers on (or
    that holds work of theirs right now)."""
    queue_names = {q.id: q.name for q in board.queues.values()}
    rows = []
    for agent in visible_agents(board, scope):
        live = board.live.get(agent.id)
        row = AgentRow(
            id=agent.id,
            email=agent.email,
            name=names.get(agent.id, agent.email),
            presence=_presence(board, agent.id),
            queues=sorted(queue_names.get(q, str(q)) for q in agent.queues if scope.sees_queue(q)),
            solved_today=solved.get(agent.id, 0),
        )
        for code in sorted(
            agent.capacity, key=lambda c: CHANNEL_ORDER.index(c) if c in CHANNEL_ORDER else 99
        ):
            load = live.load.get(code, 0) if live else 0
            if load or (agent.capacity[code] > 0 and code in configured):
                row.channels.append((code, load, agent.capacity[code]))
        row.offers = [
            OfferView(format_number(o.ticket_id), o.channel, o.expires_at)
            for o in sorted(board.offers, key=lambda o: o.expires_at)
            if o.agent_id == agent.id and scope.sees_queue(o.queue_id)
        ]
        rows.append(row)
    return rows
