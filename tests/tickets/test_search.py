"""The shared tokenizer (Chinese bigrams and single characters, stemmed English, model
numbers whole and in parts), snippets, and the message index on both databases: every
insert path (the ORM/Core verbs and PostgreSQL's asyncpg ingest path) writes the tokens,
and the workspace search finds messages through the index."""

from __future__ import annotations

from typing import Any

import tickets
from tests.helpers import inbound
from tests.tickets.test_workspace import World, world  # noqa: F401  (fixture)
from tickets import query_terms, snippet, token_string


def test_chinese_is_bigrams_and_single_characters() -> None:
    assert token_string("空调漏水") == "空调 调漏 漏水 空 调 漏 水"
    assert query_terms("漏水") == ["漏水"]
    assert query_terms("水") == ["水"]
    assert query_terms("空调不制冷") == ["空调", "调不", "不制", "制冷"]


def test_english_is_case_folded_and_lightly_stemmed() -> None:
    for a, b in [
        ("leaking", "Leaks"),
        ("LEAKED", "leak"),
        ("installation", "installing"),
        ("batteries", "battery"),
        ("freezes", "Freezing"),
        ("filters", "filter"),
    ]:
        assert query_terms(a) == query_terms(b), (a, b)
    assert query_terms("how to clean the filter") == ["clean", "filter"]
    assert query_terms("Ｅ２１") == ["e21"]  # full-width folded by NFKC


def test_model_numbers_are_whole_and_split() -> None:
    tokens = token_string("KFR-35GW/BpTYC1").split()
    assert set(tokens) == {"kfr35gwbptyc1", "kfr", "35gw", "bptyc1", "kfr35gw"}
    assert query_terms("KFR-35GW") == ["kfr35gw"]
    assert set(query_terms("KFR-35GW 不制冷")) == {"kfr35gw", "不制", "制冷"}


def test_snippet_marks_hits_and_escapes() -> None:
    text = "我家的空调漏水了，型号 KFR-35GW/BpTYC1。Leaking badly <script>x</script>"
    out = snippet(text, query_terms("漏水 KFR-35GW leaks"))
    assert "<mark>漏水</mark>" in out
    assert "<mark>KFR-35GW/BpTYC1</mark>" in out
    assert "<mark>Leaking</mark>" in out
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert snippet("x" * 400 + " 水", ["水"]).startswith("…")


async def test_messages_are_found_through_the_index(world: World) -> None:  # noqa: F811
    aircon = await world.ingest(inbound("+8613800138001", "KFR-35GW/BpTYC1 空调漏水，一直滴"))
    washer = await world.ingest(inbound("+8613800138002", "The washer keeps leaking water"))
    other = await world.ingest(inbound("+8613800138003", "冰箱很安静"))

    async def search(q: str) -> list[str]:
        return sorted(await world.view("supervisor", tickets.SEARCH_VIEW, q=q))

    assert await search("漏水") == [aircon]
    assert await search("滴") == [aircon]
    assert await search("KFR-35GW") == [aircon]
    assert await search("kfr 漏水") == [aircon]
    assert await search("leaks") == [washer]
    assert await search("LEAKED water") == [washer]
    assert await search("安静") == [other]
    assert await search("kfr-35gw/bptyc2") == []
    # a reply (Core insert through tickets.reply) is indexed too
    staff = world.staff["supervisor"]

    async def answer(session: Any, now: Any) -> tuple[tuple[()], tuple[()]]:
        await tickets.reply(session, staff, other, "请清洁冷凝器 condenser coils", now)
        return (), ()

    await world.desk.write(answer)
    assert await search("冷凝器") == [other]
    assert await search("coil") == [other]


async def test_newest_matches_newest_first(world: World) -> None:  # noqa: F811
    await world.ingest(inbound("+8613800138001", "空调漏水"))
    await world.ingest(inbound("+8613800138002", "冰箱很安静"))
    await world.ingest(inbound("+8613800138003", "洗衣机也漏水"))

    async def newest(q: str, limit: int = 25) -> list[str]:
        async def read(session: Any) -> list[str]:
            ids = await tickets.newest_matches(session, tickets.MESSAGES, query_terms(q), limit)
            found = []
            for message_id in ids:
                detail = await tickets.message_detail(session, message_id)
                found.append(detail["text"])
            return found

        return await world.desk.read(read)

    assert await newest("漏水") == ["洗衣机也漏水", "空调漏水"]
    assert await newest("漏水", 1) == ["洗衣机也漏水"]
    assert await newest("保修") == []
