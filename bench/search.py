"""Knowledge and message search at scale, on SQLite and on PostgreSQL: 10,000 articles
and 200,000 messages (by default), then query latency for 2-character Chinese, mixed
Chinese/English (with a model number) and English queries, through the same service
calls the app makes (``knowledge.search_articles``; for messages the newest 25 matches,
``tickets.newest_matches``), timed in process.

Articles are variations of the demo catalogue (its titles, bodies, tags and models, with
sentences of other articles and extra model numbers mixed in), messages are sentences of
after-sales chat in both languages. Both are written with their search tokens, so the
full-text index is maintained while loading: the build time is the whole load (rows and
index), and the index size is the FTS5 tables' pages on SQLite, the ``*_fts`` tables
(stored tsvectors) with their GIN indexes on PostgreSQL.

    python bench/search.py [--articles 10000] [--messages 200000] [--samples 200]
    python bench/search.py --articles 2000 --messages 20000 --samples 50   # quick

PostgreSQL is used when SWITCHBOARD_TEST_DATABASE_URL is set (a throwaway database).
Ends with one JSON line: a list of {"backend", "kind", "p50_ms", "p95_ms"} plus
{"backend", "build_s", "index_mb"} rows.
"""

# ruff: noqa: E402  (the imports follow the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# bench/ holds email.py: run as a script, that folder must not shadow the standard library's
# email package, so it leaves sys.path and the repository root goes first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

import knowledge
import tickets
from bench.common import percentile, postgres_base, postgres_database, print_result, sqlite_database
from knowledge.models import Article
from knowledge.search import document_length
from switchboard import db
from tickets.models import Customer, Message, Ticket

T0 = datetime(2026, 11, 1, tzinfo=UTC)
QUERIES = {
    "zh2": ["漏水", "退款", "保修", "制冷", "噪音", "结霜", "安装", "排水", "点火", "物流"],
    "mixed": [
        "KFR-35GW 不制冷",
        "E21 排水",
        "XQG100 漏水",
        "JSQ25-13WH 点火",
        "BCD-470WDPG 结霜",
        "空调 E21",
        "EC6002 镁棒",
        "洗衣机 XQG100-BD14",
    ],
    "en": [
        "leaking water",
        "refund",
        "not cooling",
        "drain pump filter",
        "warranty",
        "ignition failure",
        "noisy when spinning",
        "installation",
        "frost",
        "delivery",
    ],
}
MODELS = [
    "KFR-35GW/BpTYC1", "KFR-26GW/BpTYC1", "KFR-50LW/BpTYC1", "XQG100-BD14", "XQB80-M1269",
    "BCD-470WDPG", "JSQ25-13WH", "EC6002-MC3", "KFR-72LW/FNhAa", "XQG90-HBM14",
]  # fmt: skip
CUSTOMER = [
    "我家空调不制冷了，型号 {m}，怎么办？", "洗衣机一直漏水，地上全是水", "冰箱冷冻室结霜很厚",
    "热水器显示 E1，不出热水", "订单什么时候发货？物流一直没更新", "我想申请退款，商品还没拆",
    "The washer {m} shows E21 and will not drain", "My fridge is noisy at night",
    "Air conditioner leaking water onto the floor", "When will my order be delivered?",
    "I want a refund for the dryer", "Water heater ignition failure again",
]  # fmt: skip
AGENT = [
    "您好，请先清洗滤网后再试一下。", "已为您预约师傅上门检修，请保持电话畅通。",
    "退款会在 3–5 个工作日内原路退回。", "请提供机身铭牌上的型号。",
    "Please clean the drain pump filter and try again.", "A technician will visit tomorrow.",
    "Your refund was approved.", "Could you send a photo of the rating plate?",
]  # fmt: skip


def _sentences(body: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[。！？.!?])\s*|\n+", body) if len(s.strip()) > 4]


def make_articles(count: int, rng: random.Random) -> list[dict[str, Any]]:
    demo = [knowledge.parse_file(p) for p in sorted(knowledge.DEMO_DIR.glob("*.md"))]
    pool = {
        loc: [s for d in demo if d.locale == loc for s in _sentences(d.body)]
        for loc in knowledge.LOCALES
    }
    rows = []
    for i in range(count):
        base = demo[i % len(demo)]
        models = [*base.models, rng.choice(MODELS)]
        extra = " ".join(rng.sample(pool[base.locale], 6))
        title = f"{base.title} {i}"
        body = f"{base.body}\n\n{extra}"
        rows.append(
            {
                "slug": f"{base.slug}-{i}",
                "locale": base.locale,
                "translation_key": f"{base.translation_key}-{i}",
                "title": title,
                "body": body,
                "category": base.category,
                "visibility": base.visibility if rng.random() < 0.8 else "internal",
                "tags": list(base.tags),
                "models": models,
                "version": 1,
                "title_tokens": (title_tokens := tickets.token_string(title, *base.tags, *models)),
                "body_tokens": (body_tokens := tickets.token_string(body)),
                "search_length": document_length(title_tokens, body_tokens),
                "helpful_yes": 0,
                "helpful_no": 0,
                "created_at": T0,
                "updated_at": T0,
            }
        )
    return rows


def message_text(rng: random.Random, inbound: bool) -> str:
    text = rng.choice(CUSTOMER if inbound else AGENT)
    return text.format(m=rng.choice(MODELS))


async def load(url: str, n_articles: int, n_messages: int, seed: int) -> float:
    rng = random.Random(seed)
    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    started = time.perf_counter()
    try:
        articles = make_articles(n_articles, rng)
        async with db.transaction(sessions) as s:
            for i in range(0, len(articles), 1000):
                await s.execute(insert(Article), articles[i : i + 1000])
        n_tickets = max(1, n_messages // 10)
        async with db.transaction(sessions) as s:
            await s.execute(
                insert(Customer),
                [
                    {"id": i, "name": f"c{i}", "tier": "standard", "created_at": T0}
                    for i in range(1, n_tickets + 1)
                ],
            )
            for i in range(1, n_tickets + 1, 5000):
                await s.execute(
                    insert(Ticket),
                    [
                        {
                            "id": t,
                            "subject": "",
                            "status": "open",
                            "priority": "normal",
                            "channel": "sms",
                            "customer_id": t,
                            "created_at": T0,
                            "updated_at": T0,
                            "sla": {},
                        }
                        for t in range(i, min(n_tickets + 1, i + 5000))
                    ],
                )
        batch: list[dict[str, Any]] = []
        for m in range(1, n_messages + 1):
            inbound = m % 2 == 1
            body = message_text(rng, inbound)
            batch.append(
                {
                    "id": m,
                    "ticket_id": (m - 1) // 10 + 1,
                    "direction": "in" if inbound else "out",
                    "channel": "sms",
                    "author_name": "",
                    "text": body,
                    "search_tokens": tickets.token_string(body),
                    "created_at": T0 + timedelta(seconds=m),
                }
            )
            if len(batch) == 5000:
                async with db.transaction(sessions) as s:
                    await s.execute(insert(Message), batch)
                batch = []
        if batch:
            async with db.transaction(sessions) as s:
                await s.execute(insert(Message), batch)
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                for table in ("tickets", "customers"):
                    seq = f"{table}_id_seq"
                    await conn.execute(
                        text(f"SELECT setval('{seq}', (SELECT max(id) FROM {table}))")
                    )
                await conn.execute(text("ANALYZE"))
            else:
                await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def index_mb(url: str) -> float:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                size = await conn.scalar(
                    text(
                        "SELECT pg_total_relation_size('messages_fts') "
                        "+ pg_total_relation_size('kb_articles_fts')"
                    )
                )
            else:
                page = await conn.scalar(text("PRAGMA page_size"))
                pages = 0
                for table in ("messages_fts", "kb_articles_fts"):
                    for suffix in ("_data", "_idx", "_docsize", "_config"):
                        pages += int(
                            await conn.scalar(
                                text("SELECT count(*) FROM dbstat WHERE name = :n"),
                                {"n": table + suffix},
                            )
                            or 0
                        )
                size = pages * int(page or 4096)
    finally:
        await engine.dispose()
    return round(float(size or 0) / 1024 / 1024, 1)


async def newest_messages(session: AsyncSession, q: str) -> list[int]:
    """The message index on its own: the newest 25 messages matching a query
    (``tickets.newest_matches``)."""
    return await tickets.newest_matches(session, tickets.MESSAGES, tickets.query_terms(q), 25)


async def measure(url: str, samples: int, backend: str) -> list[dict[str, Any]]:
    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    rows: list[dict[str, Any]] = []
    try:
        for kind, queries in QUERIES.items():
            for target in ("articles", "messages"):
                timings = []
                for i in range(samples + 5):
                    q = queries[i % len(queries)]

                    async def work(s: AsyncSession, q: str = q, target: str = target) -> Any:
                        if target == "articles":
                            return await knowledge.search_articles(s, q, limit=10)
                        return await newest_messages(s, q)

                    began = time.perf_counter()
                    async with sessions() as s:
                        found = await work(s)
                    elapsed = time.perf_counter() - began
                    if i >= 5:  # the first few warm the caches
                        timings.append(elapsed)
                    if i < len(queries) and not found:
                        print(f"  note: {backend} {target} {q!r} found nothing", file=sys.stderr)
                rows.append(
                    {
                        "backend": backend,
                        "kind": f"{target}:{kind}",
                        "p50_ms": round(percentile(timings, 0.5) * 1000, 2),
                        "p95_ms": round(percentile(timings, 0.95) * 1000, 2),
                    }
                )
                print(f"{backend:9} {target}:{kind:6} p50 {rows[-1]['p50_ms']:7.2f} ms  "
                      f"p95 {rows[-1]['p95_ms']:7.2f} ms", file=sys.stderr)  # fmt: skip
    finally:
        await engine.dispose()
    return rows


async def run_backend(backend: str, url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    build = await load(url, args.articles, args.messages, args.seed)
    size = await index_mb(url)
    print(f"{backend:9} build {build:.1f} s, index {size} MB", file=sys.stderr)
    rows = await measure(url, args.samples, backend)
    return [*rows, {"backend": backend, "build_s": round(build, 1), "index_mb": size}]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    if args.backend in ("sqlite", "both"):
        async with sqlite_database() as url:
            rows += await run_backend("sqlite", url, args)
    base = postgres_base()
    if args.backend in ("postgres", "both") and base:
        async with postgres_database(base) as url:
            rows += await run_backend("postgres", url, args)
    print_result(rows)


if __name__ == "__main__":
    asyncio.run(main())
