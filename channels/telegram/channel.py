"""The Telegram channel assembled: the Bot API client, the update handler (webhook and
long polling), the outbox sender and the timeline rendering, made from settings by the
composition root. A missing bot token leaves the channel off (one log line there)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from channels.attachments import DEFAULT_MAX_BYTES, BlobStore
from channels.base import DeliveryError
from channels.telegram import store as rows
from channels.telegram.api import BotApi, BotConfig
from channels.telegram.inbound import Deflector, TelegramInbound
from channels.telegram.polling import TelegramPoller
from channels.telegram.render import Render, timeline_renderer
from channels.telegram.sender import TelegramSender
from tickets import Desk, Event

log = logging.getLogger(__name__)
KEEP_UPDATES = timedelta(days=7)
PRUNE_EVERY_S = 3600.0
START_TIMEOUT_S = 5.0


@dataclass
class TelegramChannel:
    api: BotApi
    inbound: TelegramInbound
    sender: TelegramSender
    poller: TelegramPoller
    render: Render

    async def start(self) -> None:
        """Checks the token with ``getMe``; a failure is logged and the channel stays
        (sends are retried by the outbox, updates re-delivered by Telegram)."""
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await self.api.start()
        except (DeliveryError, TimeoutError) as err:
            log.warning(
                "telegram: getMe failed (%s); the channel starts anyway, sends are retried",
                err or "no answer",
            )
            return
        log.info("telegram: bot @%s ready", self.api.username)

    async def prune(self, keep: timedelta = KEEP_UPDATES) -> int:
        async def work(session: AsyncSession, now: datetime) -> tuple[int, list[Event]]:
            return await rows.prune_updates(session, now - keep), []

        return await self.inbound.desk.write(work)

    async def housekeeping(self, every_s: float = PRUNE_EVERY_S) -> None:
        """Prunes remembered update ids now and then (a worker task)."""
        while True:
            try:
                pruned = await self.prune()
                if pruned:
                    log.info("telegram: forgot %d old update id(s)", pruned)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("telegram: pruning update ids failed: %s", err)
            await asyncio.sleep(every_s)

    async def close(self) -> None:
        self.poller.stop()
        await self.api.close()


def make_telegram(
    desk: Desk,
    blobs: BlobStore | None,
    *,
    token: str,
    secret_token: str | None,
    api_base: str | None = None,
    max_file_bytes: int = DEFAULT_MAX_BYTES,
    timeout_s: float = 10.0,
    poll_timeout_s: int = 30,
    deflector: Deflector | None = None,
    public_url: str | None = None,
) -> TelegramChannel:
    api = BotApi(BotConfig(token, api_base, timeout_s))
    inbound = TelegramInbound(
        desk,
        api,
        blobs,
        secret_token=secret_token,
        max_file_bytes=max_file_bytes,
        deflector=deflector,
        public_url=public_url,
    )
    return TelegramChannel(
        api,
        inbound,
        TelegramSender(desk, api, blobs),
        TelegramPoller(desk, api, inbound, timeout_s=poll_timeout_s),
        timeline_renderer(desk),
    )
