"""An email intake on a desk of each database, with a blob directory and two support
addresses mapped to queues."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

import channels.email.models  # noqa: F401  (the mailbox table, for truncation)
import tickets
from channels.email.intake import EmailConfig, EmailIntake
from switchboard import db
from switchboard.blobs import FileBlobStore
from switchboard.charsets import install_cjk_aliases
from tests.helpers import Clock, RecordingPublisher

CONFIG = EmailConfig.parse(
    "service@example.com", "service@example.com=Repairs,orders@example.com=Orders", None, 200_000
)


@pytest.fixture
async def intake(database_url: str, tmp_path: Path) -> AsyncIterator[EmailIntake]:
    install_cjk_aliases()
    engine = db.create_engine(database_url)
    desk = tickets.Desk(db.session_factory(engine), RecordingPublisher(), Clock())

    async def queues(session: AsyncSession, now: datetime) -> tuple[None, list[tickets.Event]]:
        for name in ("Repairs", "Orders"):
            await tickets.ensure_queue(session, name)
        return None, []

    await desk.write(queues)
    yield EmailIntake(desk, FileBlobStore(tmp_path / "blobs"), CONFIG)
    await desk.close()
    await engine.dispose()
