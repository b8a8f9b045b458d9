"""Secrets stay out of what Switchboard prints: the settings repr and CLI errors."""

from __future__ import annotations

from switchboard.settings import Settings
from tests.switchboard.test_cli import run


def test_repr_hides_url_passwords_and_secret_fields() -> None:
    settings = Settings.load(
        env={
            "SWITCHBOARD_DATABASE_URL": "postgresql+asyncpg://sb:hunter2@db.internal:5432/sb",
            "SWITCHBOARD_REDIS_URL": "redis://:r3dis@cache:6379/0",
            "SWITCHBOARD_METRICS_TOKEN": "scrape-me",
            "SWITCHBOARD_TWILIO_AUTH_TOKEN": "tw-secret",
        }
    )
    shown = repr(settings)
    for secret in ("hunter2", "r3dis", "scrape-me", "tw-secret"):
        assert secret not in shown
    assert "postgresql+asyncpg://sb:***@db.internal:5432/sb" in shown
    assert "redis://:***@cache:6379/0" in shown
    assert settings.database_url.endswith("sb:hunter2@db.internal:5432/sb")  # still usable
    assert str(settings) == shown


async def test_cli_errors_hide_url_passwords() -> None:
    bad = "postgresql-asyncpg://sb:hunter2@db.internal/sb"
    code, _, err = await run("db", "upgrade", env={"SWITCHBOARD_DATABASE_URL": bad})
    assert code == 2 and err.startswith("error: bad database URL"), err
    assert "hunter2" not in err and "sb:***@db.internal" in err
