"""The supervisor wallboard over HTTP, as a browser uses it: who may see it (agents get a
404 on the page, every fragment, the chart data and every action), what a supervisor of
one queue sees (only that queue's tiles, SLA rows and agents), the live numbers, and the
actions (force-assign, move, presence) going through the services with CSRF and audit."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard import db
from switchboard.app import RUNTIME, Runtime, create_app
from tests.agent_ui.webhelpers import sign_in
from tests.conftest import Stack
from tests.helpers import T0, Clock, auth, eventually, inbound, seed_with_tokens
from tickets import (
    Channel,
    Role,
    TicketChanges,
    add_queue_member,
    create_user,
    ensure_queue,
    rate_ticket,
    update_ticket,
    user_id_by_email,
)
from tickets.models import AuditEntry
from tickets.staff import load_staff

LEAD = "repairs-lead@example.com"
PAGES = [
    "/supervisor",
    "/supervisor/fragments/tiles",
    "/supervisor/fragments/sla",
    "/supervisor/fragments/agents",
    "/supervisor/charts.json",
]
ACTIONS = {
    "/supervisor/actions/assign": {"ticket": "SB-1001", "agent": "agent1@example.com"},
    "/supervisor/actions/move": {"ticket": "SB-1001", "queue": "Orders"},
    "/supervisor/actions/presence": {"agent": "agent1@example.com", "status": "online"},
}


class Board:
    def __init__(self, client: TestClient, tokens: dict[str, str], clock: Clock) -> None:  # type: ignore[type-arg]
        self.client = client
        self.tokens = tokens
        self.clock = clock

    @property
    def runtime(self) -> Runtime:
        assert self.client.app is not None
        runtime: Runtime = self.client.app[RUNTIME]
        return runtime

    async def api(self, path: str, who: str = "admin@example.com") -> Any:
        response = await self.client.get(path, headers=auth(self.tokens[who]))
        assert response.status == 200, await response.text()
        return await response.json()

    async def text(self, path: str, status: int = 200) -> str:
        response = await self.client.get(path)
        body = await response.text()
        assert response.status == status, body
        return body


async def _lead(url: str) -> None:
    """A supervisor of Repairs only (the demo supervisor has Repairs and Orders)."""
    engine = db.create_engine(url)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            user = await create_user(session, LEAD, Role.SUPERVISOR, T0, password="demo")
            repairs = await ensure_queue(session, "Repairs")
            await add_queue_member(session, repairs, user, now=T0)
    finally:
        await engine.dispose()


@pytest.fixture
async def board(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Board:
    tokens = await seed_with_tokens(stack.database_url)
    await _lead(stack.database_url)
    clock = Clock(T0)
    app = create_app(stack.settings(), clock=clock, redis_prefix=redis_prefix)
    return Board(await aiohttp_client(app), tokens, clock)


def tile(html: str, kind: str, key: str) -> str:
    found = re.search(rf'<article[^>]*data-{kind}="{re.escape(key)}".*?</article>', html, re.S)
    assert found, f"no {kind} tile {key}"
    return found.group(0)


def number_in(html: str, css: str) -> int:
    found = re.search(rf'class="{css}"[^>]*>\s*(?:<[^>]+>)?(\d+)', html)
    assert found, f"no {css} in {html[:300]}"
    return int(found.group(1))


async def queue_ids(board: Board) -> dict[str, int]:
    engine = board.runtime.routing
    return {q.name: q.id for q in engine.queues.values()}


async def seed_traffic(board: Board) -> tuple[str, str]:
    """A repair (Repairs) and an order question (Orders) by SMS at T0, whose first-response
    clocks (4 business hours, Shanghai) are breached by the next day's lunch time."""
    desk = board.runtime.desk
    repair = await desk.ingest(inbound("+8613800000001", "我家空调不制冷了"))
    order = await desk.ingest(inbound("+8613800000002", "我的订单什么时候发货"))

    async def clocks_started() -> bool:
        data = [await board.api(f"/api/v1/tickets/{n}") for n in (repair.number, order.number)]
        return all(d["sla"].get("first_response") for d in data)

    await eventually(clocks_started)
    board.clock.now = T0 + timedelta(hours=20)  # 13:00 in Shanghai the next day
    return repair.number, order.number


async def test_an_agent_gets_404_on_the_wallboard_and_every_part_of_it(board: Board) -> None:
    csrf = await sign_in(board.client, "agent2@example.com")
    for path in PAGES:
        response = await board.client.get(path)
        assert response.status == 404, path
    for path, form in ACTIONS.items():
        response = await board.client.post(
            path, data=form, headers={"X-CSRF-Token": csrf, "HX-Request": "true"}
        )
        assert response.status == 404, path
    account = await board.text("/account")
    assert 'href="/supervisor"' not in account
    agents = {a["email"]: a for a in (await board.api("/api/v1/agents"))["agents"]}
    assert agents["agent1@example.com"]["presence"] == "offline"


async def test_a_supervisor_of_one_queue_sees_only_that_queue(board: Board) -> None:
    repair, order = await seed_traffic(board)
    ids = await queue_ids(board)
    await sign_in(board.client, LEAD)
    page = await board.text("/supervisor")
    assert 'src="/static/wallboard.js"' in page and "<script>" not in page
    tiles = await board.text("/supervisor/fragments/tiles")
    assert number_in(tile(tiles, "queue", str(ids["Repairs"])), "wb-waiting") == 1
    assert f'data-queue="{ids["Orders"]}"' not in tiles
    assert number_in(tile(tiles, "channel", "sms"), "wb-waiting") == 1

    sla = await board.text("/supervisor/fragments/sla")
    assert f'href="/agent/tickets/{repair}"' in sla and order not in sla
    assert 'value="Orders"' not in sla  # nor a queue to move to outside their own
    agents = await board.text("/supervisor/fragments/agents")
    assert 'data-agent="agent1@example.com"' in agents
    assert 'data-agent="agent2@example.com"' in agents
    assert "agent3@example.com" not in agents

    charts = await (await board.client.get("/supervisor/charts.json")).json()
    assert sum(sum(s["counts"]) for s in charts["volume"]["series"]) == 1
    assert [s["channel"] for s in charts["volume"]["series"]] == ["sms"]
    assert len(charts["volume"]["hours"]) == 24 and len(charts["frt"]["counts"]) == 8

    for path, form in {
        "/supervisor/actions/move": {"ticket": repair, "queue": "Orders"},
        "/supervisor/actions/assign": {"ticket": order, "agent": "agent2@example.com"},
        "/supervisor/actions/presence": {"agent": "agent3@example.com", "status": "online"},
    }.items():
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf
        response = await board.client.post(path, data={**form, "csrf_token": csrf.group(1)})
        assert response.status == 404, path
    detail = await board.api(f"/api/v1/tickets/{order}")
    assert detail["assignee"] is None and detail["queue"] == "Orders"


async def test_the_full_supervisor_sees_both_queues_and_breached_tickets(board: Board) -> None:
    repair, order = await seed_traffic(board)
    ids = await queue_ids(board)
    await sign_in(board.client, "supervisor@example.com")
    page = await board.text("/supervisor")
    assert number_in(tile(page, "queue", str(ids["Orders"])), "wb-waiting") == 1
    assert number_in(tile(page, "channel", "sms"), "wb-waiting") == 2
    rows = re.findall(r'<tr class="wb-sla-(\w+)" data-ticket="(SB-\d+)"', page)
    assert sorted(rows) == sorted([("breached", repair), ("breached", order)])


async def _audit(board: Board, action: str) -> list[AuditEntry]:
    async def read(session: AsyncSession) -> list[AuditEntry]:
        found = await session.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return list(found.scalars())

    return await board.runtime.desk.read(read)


async def test_actions_need_csrf_go_through_the_services_and_are_audited(board: Board) -> None:
    repair, _order = await seed_traffic(board)
    csrf = await sign_in(board.client, "supervisor@example.com")
    htmx = {"X-CSRF-Token": csrf, "HX-Request": "true"}

    forged = await board.client.post(
        "/supervisor/actions/assign", data={"ticket": repair, "agent": "agent1@example.com"}
    )
    assert forged.status == 403
    assert (await board.api(f"/api/v1/tickets/{repair}"))["assignee"] is None

    done = await board.client.post(
        "/supervisor/actions/assign",
        data={"ticket": repair, "agent": "agent1@example.com"},
        headers=htmx,
    )
    assert done.status == 200 and done.headers["HX-Trigger"] == "wb-refresh"
    assert repair in await done.text()
    assert (await board.api(f"/api/v1/tickets/{repair}"))["assignee"] == "agent1@example.com"
    (updated,) = await _audit(board, "ticket.updated")
    assert updated.actor_label == "supervisor@example.com"
    assert updated.data["assignee"] == "agent1@example.com"
    assert updated.data["reason"] == "manual"  # the REST PATCH's; routing follows it
    agents = {a["email"]: a for a in (await board.api("/api/v1/agents"))["agents"]}
    assert agents["agent1@example.com"]["load"]["sms"] == 1  # routing holds it for agent1
    queues = {q["name"]: q for q in (await board.api("/api/v1/queues"))["queues"]}
    assert queues["Repairs"]["depth"] == 0

    stranger = await board.client.post(
        "/supervisor/actions/assign",
        data={"ticket": repair, "agent": "agent3@example.com"},
        headers=htmx,
    )
    assert stranger.status == 400  # agent3 is not a member of Repairs

    # Moving to Orders: agent1 is no member there, so the ticket is unassigned as it moves.
    moved = await board.client.post(
        "/supervisor/actions/move", data={"ticket": repair, "queue": "Orders", "csrf_token": csrf}
    )
    assert moved.status == 200 and str(moved.url).endswith("/supervisor")
    detail = await board.api(f"/api/v1/tickets/{repair}")
    assert (detail["queue"], detail["assignee"]) == ("Orders", None)
    assert [a.data.get("queue") for a in await _audit(board, "ticket.updated")] == [
        None,
        "Orders",
    ]

    presence = await board.client.post(
        "/supervisor/actions/presence",
        data={"agent": "agent3@example.com", "status": "away"},
        headers=htmx,
    )
    assert presence.status == 200
    agents = {a["email"]: a for a in (await board.api("/api/v1/agents"))["agents"]}
    assert agents["agent3@example.com"]["presence"] == "away"
    (row,) = await _audit(board, "agent.presence")
    assert (row.actor_label, row.data["new"], row.data["reason"]) == (
        "supervisor@example.com",
        "away",
        "supervisor",
    )
    bad = await board.client.post(
        "/supervisor/actions/presence",
        data={"agent": "agent3@example.com", "status": "busy"},
        headers=htmx,
    )
    assert bad.status == 400
    agents_page = await board.text("/supervisor/fragments/agents")
    row_html = re.search(r'<tr data-agent="agent3@example.com">.*?</tr>', agents_page, re.S)
    assert row_html and "Away" in row_html.group(0)


async def test_the_agents_table_shows_load_offers_and_solved_today(board: Board) -> None:
    chat = await board.runtime.desk.ingest(inbound("v_wall", "空调坏了", channel=Channel.WEBCHAT))
    csrf = await sign_in(board.client, "supervisor@example.com")
    await board.client.post(
        "/supervisor/actions/presence",
        data={"agent": "agent1@example.com", "status": "online"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )

    async def offered() -> str | None:
        html = await board.text("/supervisor/fragments/agents")
        row = re.search(r'<tr data-agent="agent1@example.com">.*?</tr>', html, re.S)
        return row.group(0) if row and chat.number in row.group(0) else None

    row = await eventually(offered)
    assert 'href="/agent/tickets/' + chat.number in row
    assert number_in(row, "wb-solved") == 0
    tiles = await board.text("/supervisor/fragments/tiles")
    webchat = tile(tiles, "channel", "webchat")
    assert number_in(webchat, "wb-online") == 1
    # an offered chat still waits for a person until it is accepted
    assert number_in(webchat, "wb-waiting") == 1 and number_in(webchat, "wb-offered") == 1
    agent1 = auth(board.tokens["agent1@example.com"])
    (offer,) = (await (await board.client.get("/api/v1/offers", headers=agent1)).json())["offers"]
    accepted = await board.client.post(f"/api/v1/offers/{offer['id']}/accept", headers=agent1)
    assert accepted.status == 200
    tiles = await board.text("/supervisor/fragments/tiles")
    webchat = tile(tiles, "channel", "webchat")
    assert number_in(webchat, "wb-waiting") == 0
    assert number_in(webchat, "wb-occupancy") == 33  # one chat of agent1's three
    html = await board.text("/supervisor/fragments/agents")
    row = re.search(r'<tr data-agent="agent1@example.com">.*?</tr>', html, re.S)
    assert row and chat.number not in row.group(0) and "Web chat 1/" in row.group(0)


async def _solve_and_rate(
    s: AsyncSession, now: Any, made: Any, address: str, score: int
) -> tuple[None, Any]:
    admin = await load_staff(s, await user_id_by_email(s, "admin@example.com"))
    assert admin is not None
    done = await update_ticket(s, admin, made.number, TicketChanges(status="solved"), now)
    events = await rate_ticket(s, "sms", address, made.ticket_id, score, None, now)
    return None, (*done.events, *events)


async def test_todays_rating_shows_on_the_queue_tile(board: Board) -> None:
    desk = board.runtime.desk
    ids = await queue_ids(board)
    for n, score in ((1, 5), (2, 4)):
        address = f"+861380000010{n}"
        made = await desk.ingest(inbound(address, "空调不制冷"))
        await desk.write(partial(_solve_and_rate, made=made, address=address, score=score))
    await sign_in(board.client, "supervisor@example.com")
    tiles = await board.text("/supervisor/fragments/tiles")
    repairs = tile(tiles, "queue", str(ids["Repairs"]))
    assert 'class="wb-rating-avg">4.5<' in repairs and "2 ratings" in repairs
    assert "wb-rating" not in tile(tiles, "queue", str(ids["Orders"]))
