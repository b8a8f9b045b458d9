"""Long polling (``switchboard worker --telegram-polling``) for installations without a
public URL: ``getUpdates`` with the offset after the highest update handled (kept in
``telegram_updates``, so a restart neither loses nor repeats an update), each update
through the webhook's handler. An update whose handling fails is not confirmed: the poll
waits and asks for it again. Telegram refuses ``getUpdates`` while a webhook is set
(409); the worker says so and keeps trying (``switchboard telegram delete-webhook``)."""

from __future__ import annotations

import asyncio
import logging

from channels.base import TemporaryFailure
from channels.telegram import store as rows
from channels.telegram.api import BotApi
from channels.telegram.inbound import ALLOWED_UPDATES, BadUpdate, TelegramInbound
from tickets import Desk

log = logging.getLogger(__name__)


class TelegramPoller:
    def __init__(
        self,
        desk: Desk,
        api: BotApi,
        inbound: TelegramInbound,
        *,
        timeout_s: int = 30,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
    ) -> None:
        self.desk = desk
        self.api = api
        self.inbound = inbound
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.offset: int | None = None
        self.handled = 0
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True

    async def poll_once(self) -> int:
        """One ``getUpdates`` round; returns how many updates were handled."""
        if self.offset is None:
            self.offset = await self.desk.read(rows.poll_offset)
        updates = await self.api.get_updates(self.offset, self.timeout_s, ALLOWED_UPDATES)
        count = 0
        for payload in updates:
            update_id = payload.get("update_id")
            if not isinstance(update_id, int):
                continue
            try:
                await self.inbound.handle(payload)
            except BadUpdate as err:
                log.warning("telegram polling: skipped update %s: %s", update_id, err)
            self.offset = max(self.offset or 0, update_id + 1)
            count += 1
        self.handled += count
        return count

    async def run(self) -> None:
        delay = self.backoff_s
        log.info("telegram: long polling started (offset %s)", self.offset)
        while not self._stopping:
            try:
                await self.poll_once()
                delay = self.backoff_s
            except asyncio.CancelledError:
                raise
            except TemporaryFailure as err:
                wait = err.retry_after if err.retry_after is not None else delay
                log.warning("telegram polling: %s; next try in %.0f s", err, wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.max_backoff_s)
            except Exception as err:
                log.warning(
                    "telegram polling: %s: %s; next try in %.0f s", type(err).__name__, err, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
