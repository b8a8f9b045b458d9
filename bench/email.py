# ruff: noqa: E402
"""Email intake throughput, end to end to committed tickets, on SQLite and PostgreSQL
(from SWITCHBOARD_TEST_DATABASE_URL; skipped with a note when unset):

- IMAP: a real dovecot mailbox holding N mails (written straight into its Maildir),
  drained by the poller (UID FETCH BODY.PEEK[] in batches, one transaction per batch,
  flagged \\Seen after each commit);
- SMTP: the receiver on this loop, 8 concurrent senders (aiosmtplib, one connection
  each) delivering N mails, each answered 250 only after its commit;
- parse time per message (p50/p99) over the same mails.

The mails are a realistic mix: Chinese in UTF-8 and GB2312/GBK, Big5, HTML with plain
alternatives, replies that thread onto earlier mails, 1 in 10 with a PDF attachment.

    python bench/email.py [--messages 5000] [--senders 8] [--batch 200]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow
# the standard library's ``email`` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import base64
import shutil
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosmtplib

from bench.common import percentile, postgres_base, postgres_database, print_result, sqlite_database
from channels.email.imap import ImapAccount, ImapPoller
from channels.email.intake import EmailConfig, EmailIntake
from channels.email.parse import parse
from channels.email.smtpd import serve
from routing.rules import QueueRules
from switchboard import db
from switchboard.blobs import FileBlobStore
from switchboard.charsets import install_cjk_aliases
from tests.channels.email.dovecot import start as start_dovecot
from tickets import Desk, Event

ROOT = Path(__file__).resolve().parent.parent
CONFIG = EmailConfig.parse(
    "service@example.com", "service@example.com=Repairs,orders@example.com=Orders", None, 10 << 20
)
PDF = b"%PDF-1.4\n" + b"0" * 20_000 + b"\n%%EOF\n"
BODIES = [
    ("utf-8", "空调不制冷", "您好，我家的空调不制冷了，型号KFR-35GW，麻烦尽快安排师傅上门。"),
    ("gb2312", "订单退款", "订单SO-2291申请退款，商品已寄回，请查收。谢谢！镕"),
    ("big5", "冷氣不冷", "您好，我家的冷氣不冷了，請派人維修。"),
    ("utf-8", "Fridge noisy", "Hello, the fridge makes a loud noise at night. Order SO-1234."),
]


class NullPublisher:
    async def publish(self, events: Sequence[Event]) -> None:
        return None

    async def broadcast(self, events: Sequence[Event]) -> None:
        return None


def make_mail(i: int, tag: str) -> bytes:
    charset, subject, text = BODIES[i % len(BODIES)]
    sender = f"customer{i % 1500}@example.org"
    codec = "gb18030" if charset == "gb2312" else charset
    subject_word = f"=?{charset}?B?{base64.b64encode(subject.encode(codec)).decode()}?="
    to = "orders@example.com" if i % 3 == 0 else "service@example.com"
    head = (
        f"From: Customer {i % 1500} <{sender}>\r\nTo: {to}\r\nSubject: {subject_word}\r\n"
        f"Date: Mon, 30 Nov 2026 09:15:00 +0800\r\nMessage-ID: <{tag}-{i}@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
    )
    if i >= 1500 and i % 2 == 0:  # a reply to this customer's first mail
        head += f"In-Reply-To: <{tag}-{i % 1500}@example.org>\r\n"
    body = base64.encodebytes(text.encode(codec)).decode()
    html = base64.encodebytes(f"<div><p>{text}</p></div>".encode(codec)).decode()
    alternative = (
        'Content-Type: multipart/alternative; boundary="ALT"\r\n\r\n'
        f"--ALT\r\nContent-Type: text/plain; charset={charset}\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n"
        f"--ALT\r\nContent-Type: text/html; charset={charset}\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{html}\r\n--ALT--\r\n"
    )
    if i % 10:
        return (head + alternative).encode()
    return (
        head
        + 'Content-Type: multipart/mixed; boundary="MIX"\r\n\r\n--MIX\r\n'
        + alternative
        + "--MIX\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        + f"Content-Disposition: attachment; filename=invoice-{i}.pdf\r\n\r\n"
        + base64.encodebytes(PDF).decode()
        + "--MIX--\r\n"
    ).encode()


async def make_intake(url: str, blob_dir: Path) -> tuple[EmailIntake, Any]:
    engine = db.create_engine(url, pool_size=20)
    desk = Desk(
        db.session_factory(engine), NullPublisher(), lambda: datetime.now(UTC), QueueRules()
    )

    async def queues(session: Any, now: datetime) -> tuple[None, list[Event]]:
        import tickets

        for name in ("Repairs", "Orders"):
            await tickets.ensure_queue(session, name)
        return None, []

    await desk.write(queues)
    return EmailIntake(desk, FileBlobStore(blob_dir), CONFIG), engine


def _dovecot() -> tuple[Any, Path]:
    root = Path(tempfile.mkdtemp(prefix="sb-bench-dovecot-"))
    root.chmod(0o755)
    return start_dovecot(root), root


def _fill_maildir(new: Path, mails: list[bytes]) -> None:
    new.mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(mails):
        (new / f"{1700000000 + i}.M{i}P1.bench").write_bytes(raw)
    shutil.chown(new, "nobody", "nogroup")
    for path in new.iterdir():
        shutil.chown(path, "nobody", "nogroup")


async def bench_imap(url: str, backend: str, count: int, batch: int) -> dict[str, Any]:
    server, root = _dovecot()
    try:
        user, password = server.add_user()
        mails = [make_mail(i, f"imap-{backend}") for i in range(count)]
        _fill_maildir(root / "homes" / user / "Maildir" / "new", mails)
        with tempfile.TemporaryDirectory() as blobs:
            intake, engine = await make_intake(url, Path(blobs))
            poller = ImapPoller(
                intake,
                ImapAccount("127.0.0.1", server.port, user, password, tls=False, batch=batch),
            )
            started = time.perf_counter()
            client = await poller.connect()
            done = await poller.sync(client)
            elapsed = time.perf_counter() - started
            await client.logout()
            await intake.desk.close()
            await engine.dispose()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    assert done == count, (done, count)
    return row(backend, "imap", count, elapsed, mails)


async def bench_smtp(url: str, backend: str, count: int, senders: int) -> dict[str, Any]:
    mails = [make_mail(i, f"smtp-{backend}") for i in range(count)]
    with tempfile.TemporaryDirectory() as blobs:
        intake, engine = await make_intake(url, Path(blobs))
        smtp, commit = await serve(intake, "127.0.0.1", 0, 25 << 20)
        port = smtp.sockets[0].getsockname()[1]

        # The senders are another process (as remote mail servers would be), so the
        # receiver's process is not charged for the clients' work.
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import asyncio, sys; from bench.email import send_all; "
            "asyncio.run(send_all(*map(int, sys.argv[1:4]), sys.argv[4]))",
            str(port),
            str(count),
            str(senders),
            f"smtp-{backend}",
            cwd=str(ROOT),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await child.communicate()
        assert child.returncode == 0, out
        elapsed = float(out.decode().split()[-1])
        smtp.close()
        await smtp.wait_closed()
        await commit.close()
        await intake.desk.close()
        await engine.dispose()
    return row(backend, "smtp", count, elapsed, mails)


async def send_all(port: int, count: int, senders: int, tag: str) -> None:
    """Run in the sender process: ``count`` mails over ``senders`` connections, each mail
    answered 250 (after its commit) before the next; prints the seconds it took."""
    mails = [make_mail(i, tag) for i in range(count)]

    async def sender(share: list[bytes]) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:
            for raw in share:
                await client.sendmail("c@example.org", ["service@example.com"], raw)

    started = time.perf_counter()
    await asyncio.gather(*(sender(mails[k::senders]) for k in range(senders)))
    print(f"{time.perf_counter() - started:.6f}", flush=True)


def row(backend: str, path: str, count: int, elapsed: float, mails: list[bytes]) -> dict[str, Any]:
    samples = []
    for raw in mails:
        t0 = time.perf_counter()
        parse(raw)
        samples.append(time.perf_counter() - t0)
    result = {
        "backend": backend,
        "path": path,
        "messages": count,
        "messages_per_s": round(count / elapsed, 1),
        "parse_p50_ms": round(percentile(samples, 0.50) * 1000, 3),
        "parse_p99_ms": round(percentile(samples, 0.99) * 1000, 3),
    }
    print(
        f"{backend:10s} {path}: {count} mails in {elapsed:.1f}s = {result['messages_per_s']} msg/s"
        f" (parse p50 {result['parse_p50_ms']} ms, p99 {result['parse_p99_ms']} ms)",
        flush=True,
    )
    return result


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args(argv)
    install_cjk_aliases()
    rows = []
    async with sqlite_database() as url:
        rows.append(await bench_imap(url, "sqlite", args.messages, args.batch))
    async with sqlite_database() as url:
        rows.append(await bench_smtp(url, "sqlite", args.messages, args.senders))
    base = postgres_base()
    if base:
        async with postgres_database(base) as url:
            rows.append(await bench_imap(url, "postgresql", args.messages, args.batch))
        async with postgres_database(base) as url:
            rows.append(await bench_smtp(url, "postgresql", args.messages, args.senders))
    else:
        print("postgresql: skipped (set SWITCHBOARD_TEST_DATABASE_URL)", flush=True)
    print_result(rows)


if __name__ == "__main__":
    asyncio.run(main())
