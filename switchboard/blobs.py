"""The filesystem blob store: attachment bytes under ``SWITCHBOARD_BLOB_DIR``, named by
their SHA-256, so the same file uploaded twice is stored once.

A reference is ``sha256:<64 hex digits>`` and nothing else is ever turned into a path,
so no reference can reach outside the directory. Files are written to a temporary name
and renamed into place (a crash never leaves half a blob under a real name); the disk
work runs in a thread, off the event loop."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path

REF = re.compile(r"sha256:([0-9a-f]{64})")


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, ref: str) -> Path:
        match = REF.fullmatch(ref)
        if match is None:
            raise KeyError(ref)
        digest = match.group(1)
        return self.root / digest[:2] / digest[2:4] / digest

    async def put(self, data: bytes, content_type: str) -> str:
        ref = "sha256:" + hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._write, self._path(ref), data)
        return ref

    async def put_many(self, items: list[tuple[bytes, str]]) -> list[str]:
        """Stores a batch with one flush to disk for all of it (``syncfs`` where Linux
        has it) instead of an fsync per file: email intake writes a raw original and its
        attachments for every message of a fetch batch, then commits once."""
        refs = ["sha256:" + hashlib.sha256(data).hexdigest() for data, _ in items]
        await asyncio.to_thread(self._write_many, [self._path(r) for r in refs], items)
        return refs

    def _write_many(self, paths: list[Path], items: list[tuple[bytes, str]]) -> None:
        written = [
            path
            for path, (data, _) in zip(paths, items, strict=True)
            if self._write_one(path, data)
        ]
        if written and not _syncfs(self.root):
            for path in written:
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    async def open(self, ref: str) -> bytes:
        path = self._path(ref)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as err:
            raise KeyError(ref) from err

    @staticmethod
    def _write_one(path: Path, data: bytes) -> bool:
        """Writes without syncing; False when the blob was there already."""
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _syncfs(root: Path) -> bool:
    """Flushes the file system holding ``root`` (Linux ``syncfs``); False elsewhere."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(root, os.O_RDONLY)
    try:
        return bool(syncfs(fd) == 0)
    finally:
        os.close(fd)


def default_blob_dir(database_url: str) -> Path:
    """``./blobs`` next to the SQLite file, else in the working directory."""
    prefix = "sqlite+aiosqlite:///"
    if database_url.startswith(prefix):
        db_path = database_url[len(prefix) :].split("?", 1)[0]
        if db_path and db_path != ":memory:":
            return Path(db_path).parent / "blobs"
    return Path("blobs")
