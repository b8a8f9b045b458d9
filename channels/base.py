"""What every channel's outbound side looks like, and the closed error hierarchy the
outbox uses to decide between retry and dead-letter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tickets import Channel, DeliveryStatus, OutboundMessage


class DeliveryError(Exception):
    pass


class TemporaryFailure(DeliveryError):
    """Try again later (network, 5xx, rate limit); ``retry_after`` in seconds when known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentFailure(DeliveryError):
    """Retrying cannot help (bad address, blocked by the customer, rejected content)."""


@dataclass(frozen=True, slots=True)
class SendResult:
    external_id: str | None = None
    status: DeliveryStatus = DeliveryStatus.SENT


class Sender(Protocol):
    channel: Channel

    async def send(self, message: OutboundMessage) -> SendResult: ...


class SenderRegistry:
    """Senders keyed by channel: behaviour lives on the adapter, not in if/elif chains."""

    def __init__(self) -> None:
        self._senders: dict[Channel, Sender] = {}

    def register(self, sender: Sender) -> None:
        self._senders[sender.channel] = sender

    def get(self, channel: Channel) -> Sender | None:
        return self._senders.get(channel)

    def channels(self) -> list[Channel]:
        return sorted(self._senders)
