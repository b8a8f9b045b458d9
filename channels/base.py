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
    """One channel's outbound side, called by the outbox dispatcher.

    ``send`` runs under a timeout shorter than the outbox lease and is cancelled when it
    runs past it; the cancelled attempt is retried later with the same
    ``message.idempotency_key``. A sender therefore passes that key to every provider
    that accepts one, so a retry of a call that did get through is not delivered twice:
    HTTP APIs with an ``Idempotency-Key`` header take it as is; email uses it in the
    Message-ID (stable across retries, so the receiving side can drop the twin); web chat
    frames carry the message id, and the page drops a frame it has shown already. Twilio
    has no idempotency key for SMS: a retry after a timeout may, rarely, send twice.
    A sender maps provider errors to ``TemporaryFailure`` / ``PermanentFailure``."""

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
