"""Telegram: a bot customers write to. ``api`` is the only module that imports
python-telegram-bot; ``inbound`` turns updates into tickets (webhook and long polling
share it), ``sender`` delivers agent replies, ``polling`` is the worker for installations
without a public URL, ``render`` draws its messages in the ticket timeline."""

from channels.telegram.channel import TelegramChannel, make_telegram
from channels.telegram.inbound import ALLOWED_UPDATES, SECRET_HEADER, TelegramInbound
from channels.telegram.sender import TelegramSender, split_text

__all__ = [
    "ALLOWED_UPDATES",
    "SECRET_HEADER",
    "TelegramChannel",
    "TelegramInbound",
    "TelegramSender",
    "make_telegram",
    "split_text",
]
