"""Suggestions on the ticket page: the three best articles for the ticket's text and
detected model, "insert into reply" records the insertion and answers plain text, and an
insertion raises that article for similar tickets."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

import knowledge
from switchboard import db
from tests.agent_ui.webhelpers import sign_in
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import T0, inbound
from tickets import parse_number


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    started = await start_api(aiohttp_client, stack, redis_prefix)
    engine = db.create_engine(stack.database_url)
    async with db.transaction(db.session_factory(engine)) as session:
        await knowledge.seed_articles(session, T0)
    await engine.dispose()
    return started


def suggested(html: str) -> list[str]:
    return re.findall(r'<li class="kb-suggestion" data-slug="([^"]+)"', html)


async def test_panel_suggests_and_insert_records(api: Api) -> None:
    ticket = await api.runtime.desk.ingest(
        inbound("+8613800138000", "我家空调 KFR-35GW/BpTYC1 室内机一直漏水，怎么办")
    )
    csrf = await sign_in(api.client, "agent1@example.com")
    page = await api.client.get(f"/agent/tickets/{ticket.number}")
    html = await page.text()
    assert page.status == 200
    slugs = suggested(html)
    assert len(slugs) == 3 and slugs[0] == "ac-water-leak-zh"
    assert "KFR-35GW/BpTYC1" in html and 'src="/static/kb.js"' in html
    url = f"/agent/tickets/{ticket.number}/kb/ac-water-leak-zh/insert"
    refused = await api.client.post(url)
    assert refused.status == 403  # no CSRF token
    inserted = await api.client.post(url, headers={"X-CSRF-Token": csrf})
    assert inserted.status == 200
    text = (await inserted.json())["text"]
    assert text.startswith("室内机滴水通常是排水管的问题") and "**" not in text
    missing = await api.client.post(
        f"/agent/tickets/{ticket.number}/kb/nope/insert", headers={"X-CSRF-Token": csrf}
    )
    assert missing.status == 404

    async def rows(session: Any) -> list[tuple[int, str]]:
        found = await session.execute(
            select(knowledge.Insertion.ticket_id, knowledge.Insertion.terms)
        )
        return [tuple(r) for r in found.all()]

    recorded = await api.runtime.desk.read(rows)
    assert len(recorded) == 1 and "漏水" in recorded[0][1].split()


async def test_an_insertion_raises_the_article_for_similar_tickets(api: Api) -> None:
    desk = api.runtime.desk

    async def suggest(text: str) -> list[str]:
        hits = await desk.read(lambda s: knowledge.suggest(s, text, locale="zh-CN"))
        return [h.slug for h in hits]

    text = "洗衣机 XQG100-BD14 底部有水"
    assert (await suggest(text))[0] != "washer-clean-zh"
    ticket = await desk.ingest(inbound("+8613800138009", text))
    ticket_id = parse_number(ticket.number)
    assert ticket_id is not None

    async def insert(session: Any, now: Any) -> tuple[str, tuple[()]]:
        done = await knowledge.record_insertion(
            session, "washer-clean-zh", ticket_id, text, None, now
        )
        return done, ()

    await desk.write(insert)
    assert (await suggest("洗衣机 XQG100-BD14 底部有水了"))[0] == "washer-clean-zh"
    assert (await suggest("冰箱结霜"))[0] == "fridge-frost-zh"
