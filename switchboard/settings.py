"""Settings, parsed once from ``SWITCHBOARD_*`` environment variables and an optional TOML
file (``SWITCHBOARD_CONFIG``; keys are the setting names without the prefix, in lower
case). The environment wins over the file. Secrets are hidden from ``repr`` so a logged
settings object never leaks a password: secret fields are left out, and the password part
of every URL (``database_url``, ``redis_url``, ...) is shown as ``***``; ``redact`` does the
same for any text (CLI errors, log lines) that may quote a URL. No other module reads
``os.environ``."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREFIX = "SWITCHBOARD_"


class SettingsError(ValueError):
    pass


def _secret() -> Any:
    return field(default=None, repr=False)


# scheme://[user]:PASSWORD@host — the password runs to the last "@" before the path, so an
# unencoded "@" inside it is hidden too.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]*:)[^\s/]*@")


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    if "://" not in text:
        return text
    return _URL_PASSWORD.sub(r"\g<head>***@", text)


@dataclass(frozen=True, repr=False)
class Settings:
    database_url: str = "sqlite+aiosqlite:///./switchboard.db"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    secret_key: str | None = _secret()
    log_level: str = "INFO"
    log_format: str = "text"

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = _secret()
    smtp_tls: bool = True
    smtp_listen: str | None = None
    imap_host: str | None = None
    imap_port: int = 993
    imap_username: str | None = None
    imap_password: str | None = _secret()
    imap_tls: bool = True
    support_address: str | None = None
    # Email (channels/email): more support addresses and the queue each one feeds
    # ("service@example.com=Repairs,orders@example.com=Orders"; the support address
    # alone feeds the routing rules' choice), domains whose every address we receive
    # for, the SMTP receiver's size limit, the IMAP folders to poll and where to move
    # a message once ingested (unset: flag it \Seen), the poll interval when the server
    # has no IDLE, and the same-subject threading window (0: off).
    email_queues: str | None = None
    email_domains: str | None = None
    smtp_max_bytes: int = 25 * 1024 * 1024
    imap_mailboxes: str = "INBOX"
    imap_move_to: str | None = None
    imap_poll_s: float = 60.0
    imap_accounts: str | None = _secret()
    """More mailboxes to poll: IMAP URLs separated by spaces (``switchboard.email``)."""
    email_subject_days: int = 7

    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = _secret()
    twilio_number: str | None = None
    twilio_api_base: str | None = None
    telegram_bot_token: str | None = _secret()
    telegram_secret_token: str | None = _secret()
    telegram_api_base: str | None = None
    # Long polling instead of the webhook (installations without a public URL): the
    # workers of this process poll getUpdates (`switchboard worker --telegram-polling`).
    telegram_polling: bool = False
    telegram_poll_timeout_s: int = 30

    erp: str = "builtin"
    erp_url: str | None = None
    erp_api_key: str | None = _secret()
    erp_api_secret: str | None = _secret()
    erp_database: str | None = None
    erp_username: str | None = None

    webchat_max_length: int = 4000
    webchat_rate_per_minute: int = 30
    webchat_address_rate_per_minute: int = 120
    webchat_new_visitors_per_minute: int = 20
    webchat_allowed_origins: str | None = None
    trusted_proxies: str | None = None
    # Files customers send (web chat uploads; email and SMS reuse the limit) and where
    # their bytes are kept: unset, ``blobs`` next to the SQLite file (else the cwd).
    attachment_max_bytes: int = 10 * 1024 * 1024
    blob_dir: str | None = None
    # Minutes one waiting chat adds to the expected wait per agent online (the estimate
    # the chat shows while nobody has accepted; see switchboard.chatwait).
    webchat_minutes_per_chat: float = 3.0
    outbox_base_delay_s: float = 5.0
    outbox_max_attempts: int = 8
    outbox_lease_s: float = 120.0
    outbox_send_timeout_s: float = 30.0
    db_pool_size: int = 10
    db_pool_timeout_s: float = 5.0
    db_connect_timeout_s: float = 5.0
    db_command_timeout_s: float = 30.0
    redis_socket_timeout_s: float = 5.0
    redis_connect_timeout_s: float = 2.0
    run_workers: bool = True
    session_idle_minutes: int = 720
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    login_lockout_minutes: int = 15
    routing_refusal_cooldown_s: float = 600.0
    routing_reconcile_s: float = 60.0
    presence_grace_s: float = 60.0

    # ERP (erp/): the call timeout, cache times per kind, the circuit breaker, Odoo's
    # protocol (jsonrpc: execute_kw for Odoo 14-18; json2: Odoo 19+), detection of order,
    # serial, part and model numbers in inbound text (patterns replace the defaults), and
    # order-status self-service per queue ("Orders=auto,Repairs=suggest"; auto, suggest, off).
    erp_timeout_s: float = 3.0
    erp_cache_stock_s: float = 30.0
    erp_cache_orders_s: float = 120.0
    erp_cache_warranty_s: float = 3600.0
    erp_breaker_failures: int = 5
    erp_breaker_reset_s: float = 30.0
    erp_protocol: str | None = None
    erp_detection: bool = True
    erp_order_pattern: str | None = None
    erp_serial_pattern: str | None = None
    erp_part_pattern: str | None = None
    erp_model_pattern: str | None = None
    erp_self_service: str | None = None
    erp_self_service_quiet_minutes: float = 60.0
    # Twilio Voice (channels/twilio/voice.py): how long a caller waits in the queue before
    # voicemail (per queue: "Repairs=120,Orders=300"), the hold music, and how long an
    # agent's phone rings.
    voice_max_wait_s: int = 300
    voice_queue_max_wait: str | None = None
    voice_hold_music_url: str = (
        "http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"
    )
    voice_ring_timeout_s: int = 20
    voice_max_recording_s: int = 120

    # /metrics: a bearer token Prometheus sends, and/or a listener of its own (host:port);
    # see switchboard.metrics for what is served where.
    metrics_token: str | None = _secret()
    metrics_listen: str | None = None

    def __repr__(self) -> str:
        shown = []
        for f in dataclasses.fields(self):
            if not f.repr:
                continue
            value = getattr(self, f.name)
            shown.append(
                f"{f.name}={redact(value)!r}" if isinstance(value, str) else f"{f.name}={value!r}"
            )
        return f"Settings({', '.join(shown)})"

    def __post_init__(self) -> None:
        if self.db_pool_size < 1:
            raise SettingsError(f"{PREFIX}DB_POOL_SIZE must be at least 1")
        if not 0 < self.outbox_send_timeout_s < self.outbox_lease_s:
            raise SettingsError(
                f"{PREFIX}OUTBOX_SEND_TIMEOUT_S must be positive and shorter than "
                f"{PREFIX}OUTBOX_LEASE_S, or a slow send could outlive its lease"
            )
        if self.redis_socket_timeout_s <= 1.0:
            raise SettingsError(
                f"{PREFIX}REDIS_SOCKET_TIMEOUT_S must exceed 1 s (the bus blocks reads for 1 s)"
            )

    @property
    def backend(self) -> str:
        return "postgresql" if self.database_url.startswith("postgresql") else "sqlite"

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        source = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        config = source.get(PREFIX + "CONFIG")
        if config:
            try:
                values.update(tomllib.loads(Path(config).read_text("utf-8")))
            except (OSError, tomllib.TOMLDecodeError) as err:
                raise SettingsError(f"cannot read {PREFIX}CONFIG {config}: {err}") from err
        for key, value in source.items():
            if key.startswith(PREFIX) and key != PREFIX + "CONFIG":
                values[key[len(PREFIX) :].lower()] = value
        values.update(overrides)
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        known = {f.name: f for f in dataclasses.fields(cls)}
        parsed: dict[str, Any] = {}
        for key, raw in values.items():
            f = known.get(key)
            if f is None:
                continue
            parsed[key] = _coerce(key, str(f.type), raw)
        return cls(**parsed)


def _coerce(name: str, type_name: str, raw: Any) -> Any:
    if raw is None:
        return None
    if isinstance(raw, str) and raw == "" and "None" in type_name:
        return None
    try:
        if type_name.startswith("int"):
            return int(raw)
        if type_name.startswith("float"):
            return float(raw)
        if type_name.startswith("bool"):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
    except ValueError as err:
        raise SettingsError(f"{PREFIX}{name.upper()}: bad value {raw!r}") from err
    return str(raw)
