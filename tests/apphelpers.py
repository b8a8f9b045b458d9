"""A running Switchboard app on a test stack, with demo staff and tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from switchboard.app import RUNTIME, Runtime, create_app
from tests.conftest import Stack
from tests.helpers import auth, seed_with_tokens


@dataclass
class Api:
    client: TestClient  # type: ignore[type-arg]
    tokens: dict[str, str]

    @property
    def runtime(self) -> Runtime:
        app = self.client.app
        assert app is not None
        runtime: Runtime = app[RUNTIME]
        return runtime

    def as_(self, email: str) -> dict[str, str]:
        return auth(self.tokens[email])

    async def get(self, path: str, who: str = "supervisor@example.com", status: int = 200) -> Any:
        response = await self.client.get(path, headers=self.as_(who))
        assert response.status == status, await response.text()
        return await response.json()

    async def send(
        self,
        method: str,
        path: str,
        body: Any,
        who: str = "supervisor@example.com",
        status: int = 200,
    ) -> Any:
        response = await self.client.request(method, path, json=body, headers=self.as_(who))
        assert response.status == status, await response.text()
        return None if status == 204 else await response.json()


async def start_api(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, *, seed: bool = True, **overrides: Any
) -> Api:
    tokens = await seed_with_tokens(stack.database_url) if seed else {}
    app = create_app(stack.settings(**overrides), redis_prefix=redis_prefix)
    client = await aiohttp_client(app)
    return Api(client, tokens)
