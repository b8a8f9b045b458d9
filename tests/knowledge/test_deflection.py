"""Chat deflection end to end on the web chat: the first message of a new conversation
gets up to three public articles (never internal ones); "this solved it" solves the
conversation as self-served (tagged, audited, counted on the wallboard); a later message
gets none; a queue with deflection off gets none."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

import knowledge
import tickets
from switchboard import db
from switchboard.cli import main
from tests.agent_ui.webhelpers import sign_in
from tests.apphelpers import Api, start_api
from tests.channels.chat import frames_until, fresh_socket, next_frame, send_message
from tests.conftest import Stack
from tests.helpers import T0


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    started = await start_api(aiohttp_client, stack, redis_prefix)
    engine = db.create_engine(stack.database_url)
    async with db.transaction(db.session_factory(engine)) as session:
        await knowledge.seed_articles(session, T0)
    await engine.dispose()
    return started


async def test_articles_then_this_solved_it(api: Api) -> None:
    ws = await fresh_socket(api)
    await ws.send_json({"type": "hello", "name": "李明"})
    ack = await send_message(ws, "洗衣机显示 E21，水排不出去", "c1")
    offered = await next_frame(ws, "articles")
    assert offered["ticket"] == ack["ticket"]
    slugs = [a["slug"] for a in offered["articles"]]
    assert slugs[0] == "washer-e21-zh" and len(slugs) <= 3
    assert all(not s.startswith("internal-") for s in slugs)
    first = offered["articles"][0]
    assert first["url"] == "/help/articles/washer-e21-zh" and "<mark>" not in first["snippet"]

    await send_message(ws, "我看看", "c2")  # a later message gets no articles
    await ws.send_json({"type": "solved", "article": "washer-e21-zh"})
    seen = await frames_until(ws, "rating_request")
    assert not [f for f in seen if f["type"] == "articles"]

    number = ack["ticket"]
    ticket = await api.get(f"/api/v1/tickets/{number}")
    assert ticket["status"] == "solved" and tickets.SELF_SERVED_TAG in ticket["tags"]
    await ws.send_json({"type": "solved"})
    assert (await next_frame(ws, "error"))["code"] in ("conflict", "no_conversation")

    await sign_in(api.client, "supervisor@example.com")
    board = await api.client.get("/supervisor")
    html = await board.text()
    assert 'class="wb-small wb-self-served"' in html
    assert html.split('wb-self-served">')[1].split("</p>")[0].endswith("<b>1</b>")
    await ws.close()


async def test_no_articles_when_the_queue_has_deflection_off(api: Api) -> None:
    engine = db.create_engine(api.runtime.settings.database_url)
    async with db.transaction(db.session_factory(engine)) as session:
        queues = await knowledge.queue_names(session)
        for queue_id in queues.values():
            await knowledge.set_deflection(session, queue_id, False)
    await engine.dispose()
    ws = await fresh_socket(api)
    await send_message(ws, "洗衣机显示 E21，水排不出去", "c1")
    frames = await frames_until(ws, "message")
    more = []
    try:
        while True:
            more.append(await next_frame(ws, "articles", timeout=0.5))
    except TimeoutError:
        pass
    assert not [f for f in [*frames, *more] if f["type"] == "articles"]
    await ws.close()


def test_cli_turns_deflection_on_and_off(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade", "--database-url", sqlite_url]) == 0
    assert main(["kb", "deflection", "General", "off", "--database-url", sqlite_url]) == 0
    assert "deflection off for queue General" in capsys.readouterr().out
    assert main(["kb", "deflection", "Nope", "on", "--database-url", sqlite_url]) == 2
    assert "no queue 'Nope'" in capsys.readouterr().err


async def test_articles_never_include_internal_ones(api: Api) -> None:
    async def read(session: Any) -> list[knowledge.Hit]:
        return await knowledge.articles_for(session, "refund approval process", "en")

    hits = await api.runtime.desk.read(read)
    assert hits and all(h.visibility == "public" for h in hits)
    rows = await api.runtime.desk.read(lambda s: s.execute(select(knowledge.DeflectionSetting)))
    assert rows.all() == []
