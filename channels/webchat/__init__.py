"""Web chat: the customer's chat page and embeddable widget, its WebSocket, and the
outbound sender that pushes agent replies to the visitor's open sockets."""

from channels.webchat.channel import Webchat, WebchatSender
from channels.webchat.signing import VisitorSigner

__all__ = ["VisitorSigner", "Webchat", "WebchatSender"]
