"""A running app on a test stack with the demo ERP catalogue loaded."""

from __future__ import annotations

from typing import Any

from erp.demo import seed_erp_demo
from erp.service import ErpService
from switchboard import db
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import T0


async def seed_catalogue(url: str) -> None:
    engine = db.create_engine(url)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            await seed_erp_demo(session, T0.date())
    finally:
        await engine.dispose()


async def start_erp_api(aiohttp_client: Any, stack: Stack, redis_prefix: str, **kw: Any) -> Api:
    await seed_catalogue(stack.database_url)
    return await start_api(aiohttp_client, stack, redis_prefix, **kw)


def erp_of(api: Api) -> ErpService:
    assert api.runtime.erp is not None
    return api.runtime.erp
