"""A real IMAP server for tests: Debian's dovecot, started once per test session in a
temporary directory on a free port (as NOTES.md describes), with a fresh user and
Maildir per test. Skipped, with how to install it, when dovecot is missing."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

USERS = 80
HINT = "dovecot not installed: `apt-get install -y dovecot-imapd` (.ci/run does it)"


@dataclass
class Dovecot:
    root: Path
    port: int
    conf: Path

    users: list[tuple[str, str]]

    def add_user(self) -> tuple[str, str]:
        """A fresh user with an empty Maildir (made up front: dovecot re-reads its user
        file by modification time, which a write within the same second may not move)."""
        return self.users.pop()

    def stop(self) -> None:
        subprocess.run(
            ["doveadm", "-c", str(self.conf), "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def _make_users(root: Path, count: int) -> list[tuple[str, str]]:
    users = []
    lines = []
    for _ in range(count):
        name, password = f"u{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
        home = root / "homes" / name
        (home / "Maildir").mkdir(parents=True)
        shutil.chown(home, "nobody", "nogroup")
        shutil.chown(home / "Maildir", "nobody", "nogroup")
        lines.append(f"{name}:{{PLAIN}}{password}:65534:65534::{home}\n")
        users.append((name, password))
    (root / "passwd").write_text("".join(lines))
    return users


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(root: Path) -> Dovecot:
    if shutil.which("dovecot") is None:
        pytest.skip(HINT)
    port = _free_port()
    root.mkdir(parents=True, exist_ok=True)
    (root / "homes").mkdir(exist_ok=True)
    shutil.chown(root / "homes", "nobody", "nogroup")
    users = _make_users(root, USERS)
    conf = root / "dovecot.conf"
    conf.write_text(
        f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = 100
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
"""
    )
    # The daemon keeps inherited pipes open: no capture, or run() would wait forever.
    subprocess.run(
        ["dovecot", "-c", str(conf)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return Dovecot(root, port, conf, users)
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"dovecot did not start: {(root / 'dovecot.log').read_text()[-2000:]}")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """Outside pytest's private temp folder: dovecot's mail processes run as ``nobody``
    and must reach the Maildirs."""
    root = Path(tempfile.mkdtemp(prefix="sb-dovecot-"))
    root.chmod(0o755)
    server = start(root)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)
