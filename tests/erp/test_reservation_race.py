"""Two Switchboard processes asked to reserve parts for the same ticket at the same moment
(two workers, or an agent's double click landing on two app servers) make one reservation
in the ERP: the second waits for the first under a lock held across processes
(``tickets.locks``) and finds its Material Request. Each app here has its own desk,
connection pool and adapter, as a second process would."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from erp.port import Answer, ReservationLine
from switchboard.app import create_app
from tests.apphelpers import Api
from tests.conftest import Stack
from tests.erp.apphelpers import erp_of
from tests.fakes.erpnext import KEY, SECRET, FakeErpNext, running, seed
from tests.helpers import seed_with_tokens
from tickets import Channel, InboundMessage

INSERT = ("POST", "/api/resource/Material Request")


async def two_apps(aiohttp_client: Any, stack: Stack, redis_prefix: str, url: str) -> list[Api]:
    tokens = await seed_with_tokens(stack.database_url)
    settings = stack.settings(
        erp="erpnext", erp_url=url, erp_api_key=KEY, erp_api_secret=SECRET, erp_timeout_s=5.0
    )
    return [
        Api(await aiohttp_client(create_app(settings, redis_prefix=redis_prefix)), tokens)
        for _ in range(2)
    ]


async def test_two_processes_reserve_once_and_release_once(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    fake = FakeErpNext()
    seed(fake)
    async with running(fake) as url:
        first, second = await two_apps(aiohttp_client, stack, redis_prefix, url)
        result = await first.runtime.desk.ingest(
            InboundMessage(
                channel=Channel.SMS,
                external_id="SM-race-1",
                sender="+8613800138001",
                display_name=None,
                text="空调不制冷",
                received_at=first.runtime.desk.clock(),
            )
        )
        fake.delay_s = 0.15  # every ERP call is slow: the race window is wide open
        line = ReservationLine("CP-KFR35-01", Decimal(1))
        answers = await asyncio.gather(
            erp_of(first).reserve(result.number, [line]),
            erp_of(second).reserve(result.number, [line]),
        )
        assert all(isinstance(a, Answer) for a in answers)
        references = {a.value.reference for a in answers if isinstance(a, Answer)}
        assert len(references) == 1
        assert fake.calls.count(INSERT) == 1, "two processes reserved twice"

        released = await asyncio.gather(
            erp_of(first).release(result.number), erp_of(second).release(result.number)
        )
        values = [a.value for a in released if isinstance(a, Answer)]
        assert len(values) == 2 and sum(v is not None for v in values) == 1
        cancels = [c for c in fake.calls if c == ("POST", "/api/method/frappe.client.cancel")]
        assert len(cancels) == 1
