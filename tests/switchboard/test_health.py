"""Health and metrics endpoints; a dependency that hangs makes ``/healthz`` answer 503
within its bound instead of hanging the probe."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlparse

from sqlalchemy.engine import make_url

from switchboard.app import create_app
from tests.apphelpers import start_api
from tests.conftest import Stack, require_redis
from tests.netfakes import FreezableProxy


async def test_healthz_checks_database_and_redis(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix, seed=False)
    response = await api.client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["database"] == "ok"
    assert body["redis"] == ("ok" if stack.redis_url else "disabled")


async def test_metrics_are_prometheus_text(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix, seed=False)
    await api.client.get("/api/v1/tickets")
    await api.client.get("/api/v1/tickets/SB-1234")
    response = await api.client.get("/metrics")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert (
        'switchboard_http_requests_total{method="GET",route="/api/v1/tickets",status="401"} 1.0'
        in text
    )
    assert 'route="/api/v1/tickets/{number}"' in text  # templates, never raw paths
    assert "switchboard_webchat_sockets" in text


async def test_a_hung_database_and_redis_make_healthz_answer_503(
    aiohttp_client: Any, pg_url: str, redis_prefix: str
) -> None:
    redis_url = require_redis()
    pg, redis = make_url(pg_url), urlparse(redis_url)
    pg_proxy = await FreezableProxy(pg.host or "127.0.0.1", pg.port or 5432).start()
    redis_proxy = await FreezableProxy(redis.hostname or "127.0.0.1", redis.port or 6379).start()
    try:
        settings = Stack("postgres", pg_url, redis_url).settings(
            database_url=pg.set(host="127.0.0.1", port=pg_proxy.port).render_as_string(False),
            redis_url=redis._replace(netloc=f"127.0.0.1:{redis_proxy.port}").geturl(),
        )
        client = await aiohttp_client(
            create_app(settings, redis_prefix=redis_prefix, workers=False)
        )
        assert (await client.get("/healthz")).status == 200
        pg_proxy.freeze()
        redis_proxy.freeze()
        # The guard only keeps a regression from hanging the suite; the bound is 2 s.
        response = await asyncio.wait_for(client.get("/healthz"), 20.0)
        assert response.status == 503
        body = await response.json()
        assert body == {
            "status": "unhealthy",
            "database": "error: timeout",
            "redis": "error: timeout",
        }
        pg_proxy.thaw()
        redis_proxy.thaw()
    finally:
        await pg_proxy.close()
        await redis_proxy.close()
