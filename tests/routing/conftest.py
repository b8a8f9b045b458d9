"""The routing store under test, on both implementations."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from routing.redis_store import RedisStore
from routing.store import MemoryStore, RoutingStore
from switchboard.bus import redis_client
from tests.conftest import require_redis


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[RoutingStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    client = redis_client(require_redis())
    redis_store = RedisStore(client, prefix=redis_prefix)
    yield redis_store
    await redis_store.clear()
    await client.aclose()
