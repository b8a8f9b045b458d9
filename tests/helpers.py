"""Test helpers: build a running app with demo staff and tokens, make inbound messages."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from switchboard import db
from switchboard.seed import seed_demo
from tickets import staff
from tickets.contracts import Channel, InboundMessage, ThreadHints

_ids = itertools.count(1)
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def inbound(
    sender: str,
    text: str = "我家空调不制冷了",
    *,
    channel: Channel = Channel.SMS,
    external_id: str | None = None,
    at: datetime | None = None,
    **kw: Any,
) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        external_id=external_id or f"ext-{next(_ids)}",
        sender=sender,
        text=text,
        received_at=at or T0,
        **kw,
    )


def email(
    sender: str,
    subject: str,
    text: str,
    *,
    message_id: str,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    **kw: Any,
) -> InboundMessage:
    return inbound(
        sender,
        text,
        channel=Channel.EMAIL,
        external_id=message_id,
        subject=subject,
        thread=ThreadHints(message_id=message_id, in_reply_to=in_reply_to, references=references),
        **kw,
    )


async def seed_with_tokens(url: str) -> dict[str, str]:
    """Seeds the demo company; returns an API token per demo user email."""
    engine = db.create_engine(url)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            await seed_demo(session, T0)
            tokens = {}
            for email_addr in (
                "agent1@example.com",
                "agent2@example.com",
                "agent3@example.com",
                "supervisor@example.com",
                "admin@example.com",
            ):
                tokens[email_addr] = await staff.create_token(session, email_addr, T0)
        return tokens
    finally:
        await engine.dispose()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 5.0, interval: float = 0.02
) -> Any:
    """Polls ``check`` until it returns a truthy value (for effects crossing the bus)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class RecordingPublisher:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def publish(self, events: Any) -> None:
        self.events.extend(events)

    async def broadcast(self, events: Any) -> None:
        self.events.extend(events)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]
