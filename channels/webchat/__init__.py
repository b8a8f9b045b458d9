"""Web chat: the customer's chat page and embeddable widget, its WebSocket, and the
outbound sender that pushes agent replies to the visitor's open sockets."""

from channels.webchat.channel import ChatLimits, Webchat, WebchatSender
from channels.webchat.clients import ClientPolicy, parse_networks
from channels.webchat.ratelimit import MemoryRateLimiter, Rate, RateLimiter
from channels.webchat.signing import VisitorSigner

__all__ = [
    "ChatLimits",
    "ClientPolicy",
    "MemoryRateLimiter",
    "Rate",
    "RateLimiter",
    "VisitorSigner",
    "Webchat",
    "WebchatSender",
    "parse_networks",
]
