"""What Switchboard keeps of a Telegram update: our own frozen values, parsed from the
Bot API's JSON by ``channels.telegram.api`` (the one module that imports the SDK), so the
rest of the channel never sees a ``telegram`` object. Fields the handler does not use stay
in the raw update the webhook received; nothing is flattened into text."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class UpdateKind(enum.StrEnum):
    MESSAGE = "message"
    EDITED_MESSAGE = "edited_message"
    MY_CHAT_MEMBER = "my_chat_member"
    CALLBACK_QUERY = "callback_query"
    OTHER = "other"


class FileKind(enum.StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO = "video"


@dataclass(frozen=True, slots=True)
class TgFile:
    """A file a message carries, not yet downloaded (``getFile`` gives its path)."""

    kind: FileKind
    file_id: str
    file_unique_id: str
    size: int | None
    name: str | None
    mime_type: str | None = None
    duration: int | None = None


@dataclass(frozen=True, slots=True)
class TgContact:
    phone_number: str
    first_name: str
    last_name: str | None
    user_id: int | None


@dataclass(frozen=True, slots=True)
class TgLocation:
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class TgUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p).strip()
        return name or (f"@{self.username}" if self.username else str(self.id))


@dataclass(frozen=True, slots=True)
class TgMessage:
    chat_id: int
    chat_type: str
    message_id: int
    date: datetime
    sender: TgUser | None
    text: str
    """The text, or a media message's caption."""
    edit_date: datetime | None = None
    files: tuple[TgFile, ...] = ()
    contact: TgContact | None = None
    location: TgLocation | None = None
    reply_to_message_id: int | None = None
    other: str | None = None
    """A content kind we keep no file of (``sticker 😀``, ``video_note``, ``poll``, ...)."""

    @property
    def private(self) -> bool:
        return self.chat_type == "private"

    @property
    def command(self) -> tuple[str, str] | None:
        """``("start", "payload")`` for ``/start payload`` (a ``@bot`` suffix dropped)."""
        if not self.text.startswith("/"):
            return None
        head, _, rest = self.text.partition(" ")
        name = head[1:].split("@", 1)[0].lower()
        return (name, rest.strip()) if name else None


@dataclass(frozen=True, slots=True)
class TgMemberChange:
    """``my_chat_member``: the user blocked (``kicked``) or unblocked (``member``) the bot."""

    chat_id: int
    chat_type: str
    old_status: str
    new_status: str


@dataclass(frozen=True, slots=True)
class TgCallback:
    """``callback_query``: the user pressed one of our inline buttons."""

    id: str
    sender: TgUser
    data: str
    chat_id: int | None
    """The chat of the message the button was on (None when Telegram no longer has it)."""
    chat_type: str | None
    message_id: int | None


@dataclass(frozen=True, slots=True)
class TgUpdate:
    update_id: int
    kind: UpdateKind
    message: TgMessage | None = None
    member: TgMemberChange | None = None
    callback: TgCallback | None = None
    other: tuple[str, ...] = field(default=())
    """The update's field names when it is of a kind we do not handle."""
