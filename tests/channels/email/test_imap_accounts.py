"""Several IMAP accounts (``SWITCHBOARD_IMAP_ACCOUNTS`` beside ``SWITCHBOARD_IMAP_HOST``):
each is polled by the running app against a real dovecot, each folder with its own state;
a bad entry is named by its position, never by its password."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import aioimaplib
import pytest

from switchboard.email import parse_accounts
from switchboard.settings import SettingsError
from tests.apphelpers import start_api
from tests.channels.email.dovecot import Dovecot, dovecot  # noqa: F401
from tests.channels.email.test_parse import FIXTURES
from tests.conftest import Stack
from tests.helpers import eventually


def test_accounts_are_read_from_urls() -> None:
    first, second = parse_accounts(
        "imaps://orders%40example.com:p%40ss%20word@imap.example.com/INBOX,%E5%94%AE%E5%90%8E "
        "imap://service:pw@10.0.0.5:1143"
    )
    assert (first.host, first.port, first.tls) == ("imap.example.com", 993, True)
    assert (first.username, first.password) == ("orders@example.com", "p@ss word")
    assert first.mailboxes == ("INBOX", "售后")
    assert (second.port, second.tls, second.mailboxes) == (1143, False, ("INBOX",))
    assert parse_accounts(None) == () and parse_accounts("  ") == ()
    for bad in ("pop3://u:p@h/INBOX", "imaps://nopassword@h/", "imaps://u:secret-pw@h:99999/"):
        with pytest.raises(SettingsError, match="entry 2") as err:
            parse_accounts(f"imap://a:b@h {bad}")
        assert "secret-pw" not in str(err.value)


async def append(dovecot: Dovecot, name: str) -> tuple[str, str]:  # noqa: F811
    user, password = dovecot.add_user()
    client = aioimaplib.IMAP4("127.0.0.1", dovecot.port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(user, password)
    response = await client.append((FIXTURES / name).read_bytes(), "INBOX")
    assert response.result == "OK", response.lines
    await client.logout()
    return user, password


async def test_the_app_polls_every_account(
    aiohttp_client: Any,
    stack: Stack,
    redis_prefix: str,
    dovecot: Dovecot,  # noqa: F811
    tmp_path: Path,
) -> None:
    one = await append(dovecot, "plain__utf8.eml")
    two = await append(dovecot, "charset__gb2312_subject_gbk_chars.eml")
    api = await start_api(
        aiohttp_client,
        stack,
        redis_prefix,
        support_address="service@example.com",
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_username=one[0],
        imap_password=one[1],
        imap_tls=False,
        imap_accounts=f"imap://{quote(two[0])}:{quote(two[1])}@127.0.0.1:{dovecot.port}/INBOX",
        outbox_base_delay_s=0.05,
        blob_dir=str(tmp_path / "blobs"),
    )
    assert api.runtime.email is not None and len(api.runtime.email.accounts) == 2

    async def both() -> list[Any] | None:
        listed = (await api.get("/api/v1/tickets?status="))["tickets"]
        return listed if len(listed) == 2 else None

    tickets = await eventually(both, timeout=20.0)
    assert {t["channel"] for t in tickets} == {"email"}
    assert "镕堃喆昇的空调" in {t["subject"] for t in tickets}
