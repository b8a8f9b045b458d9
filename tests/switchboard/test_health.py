"""Health and metrics endpoints."""

from __future__ import annotations

from typing import Any

from tests.apphelpers import start_api
from tests.conftest import Stack


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
