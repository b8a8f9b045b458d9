"""Edges to the outside world: each channel parses its provider's inbound traffic into an
``InboundMessage`` for the desk, and sends ``OutboundMessage``s for the outbox. Providers'
SDKs stay inside their channel's one protocol module."""

from channels.base import PermanentFailure, Sender, SenderRegistry, SendResult, TemporaryFailure

__all__ = ["PermanentFailure", "SendResult", "Sender", "SenderRegistry", "TemporaryFailure"]
