"""Who may read /metrics: local clients by default, a bearer token, or a listener of its
own (switchboard.metrics documents the decision)."""

from __future__ import annotations

from typing import Any

import aiohttp

from switchboard.app import METRICS_RUNNER, create_app
from tests.conftest import Stack


async def test_by_default_only_this_host_reads_metrics(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    client = await aiohttp_client(create_app(stack.settings(), redis_prefix=redis_prefix))
    assert (await client.get("/metrics")).status == 200  # the test client is on loopback
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        response = await client.get("/metrics", headers={header: "203.0.113.9"})
        assert response.status == 403, header
        assert "SWITCHBOARD_METRICS_TOKEN" in await response.text()


async def test_a_metrics_token_is_required_when_set(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    settings = stack.settings(metrics_token="scrape-secret")
    client = await aiohttp_client(create_app(settings, redis_prefix=redis_prefix))
    assert (await client.get("/metrics")).status == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await client.get("/metrics", headers=wrong)).status == 401
    right = {"Authorization": "Bearer scrape-secret", "X-Forwarded-For": "203.0.113.9"}
    response = await client.get("/metrics", headers=right)
    assert response.status == 200 and "switchboard_http_requests_total" in await response.text()


async def test_metrics_on_a_listener_of_their_own(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    settings = stack.settings(metrics_listen="127.0.0.1:0", metrics_token="scrape-secret")
    app = create_app(settings, redis_prefix=redis_prefix)
    client = await aiohttp_client(app)
    assert (await client.get("/metrics")).status == 404
    assert (await client.get("/healthz")).status == 200
    host, port = app[METRICS_RUNNER].addresses[0][:2]
    base = f"http://{host}:{port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/metrics") as r:
            assert r.status == 401
        token = {"Authorization": "Bearer scrape-secret"}
        async with http.get(f"{base}/metrics", headers=token) as r:
            assert r.status == 200
            assert 'route="/healthz"' in await r.text()  # the main app's traffic
        async with http.get(f"{base}/healthz", headers=token) as r:
            assert r.status == 404  # nothing else is served there
