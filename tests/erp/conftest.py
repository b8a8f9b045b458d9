"""A desk on each database with the demo catalogue loaded (the builtin adapter's data)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from erp.builtin import BuiltinErp
from erp.demo import seed_erp_demo
from switchboard import db
from tests.helpers import T0, Clock, RecordingPublisher
from tickets import Desk


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Desk]:
    engine = db.create_engine(database_url)
    desk = Desk(db.session_factory(engine), RecordingPublisher(), Clock())
    yield desk
    await desk.close()
    await engine.dispose()


@pytest.fixture
async def builtin(desk: Desk) -> BuiltinErp:
    async with desk.sessions() as session, session.begin():
        assert await seed_erp_demo(session, T0.date())
    return BuiltinErp(desk)
