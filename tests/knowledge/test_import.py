"""``kb import`` / ``kb export``: a good folder loads with counts, a second import changes
nothing, an edited file makes a new version, a bad file is named with its reason and
leaves nothing of it behind, and export writes the same format back."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import knowledge
from switchboard import db
from switchboard.cli import main
from tests.helpers import T0

GOOD = """---
title: 空调 E21 故障
locale: zh-CN
tags: [故障代码]
models: [KFR-35GW/BpTYC1]
visibility: public
category: 空调
---

重启空调。
"""


async def _count(session: AsyncSession, model: type) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[db.SessionFactory]:
    engine = db.create_engine(database_url)
    yield db.session_factory(engine)
    await engine.dispose()


async def _import(sessions: db.SessionFactory, folder: Path) -> knowledge.ImportReport:
    @asynccontextmanager
    async def transaction() -> AsyncIterator[AsyncSession]:
        async with db.transaction(sessions) as session:
            yield session

    seen: list[tuple[int, int]] = []
    report = await knowledge.import_folder(
        folder, transaction, T0, progress=lambda done, total, name: seen.append((done, total))
    )
    assert seen[-1][0] == seen[-1][1]
    return report


async def test_import_twice_then_edit(sessions: db.SessionFactory, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(knowledge.DEMO_DIR, folder)
    total = len(list(folder.glob("*.md")))
    assert total >= 30
    report = await _import(sessions, folder)
    assert (report.created, report.updated, report.unchanged, report.failed) == (total, 0, 0, [])
    again = await _import(sessions, folder)
    assert (again.created, again.updated, again.unchanged) == (0, 0, total)
    async with db.transaction(sessions) as s:
        assert await _count(s, knowledge.Article) == total
        assert await _count(s, knowledge.ArticleVersion) == total

    path = folder / "warranty-en.md"
    path.write_text(path.read_text().replace("1 year", "2 years"), encoding="utf-8")
    edited = await _import(sessions, folder)
    assert (edited.created, edited.updated, edited.unchanged) == (0, 1, total - 1)
    async with db.transaction(sessions) as s:
        article = await knowledge.by_slug(s, "warranty-en")
        assert article is not None and article.version == 2 and "2 years" in article.body
        history = await knowledge.versions(s, article)
        assert [v.version for v in history] == [2, 1]
        assert "1 year" in history[1].body
        restored = await knowledge.restore_version(s, "warranty-en", 1, None, T0)
        assert restored.article.version == 3 and "1 year" in restored.article.body
        others = await knowledge.translations(s, article)
        assert [a.slug for a in others] == ["warranty-zh"]


BAD = {
    "no-front.md": ("# title only\n", "no front matter"),
    "bad-yaml.md": ("---\ntitle: [unclosed\n---\nx\n", "bad YAML"),
    "no-title.md": ("---\nlocale: en\n---\nx\n", "'title' is missing"),
    "bad-locale.md": ("---\ntitle: T\nlocale: fr\n---\nx\n", "locale 'fr'"),
    "Bad_Slug.md": ("---\ntitle: T\nlocale: en\n---\nx\n", "slug 'Bad_Slug'"),
    "bad-tags.md": ("---\ntitle: T\nlocale: en\ntags: one\n---\nx\n", "'tags' must be a list"),
    "unknown.md": ("---\ntitle: T\nlocale: en\nauthor: me\n---\nx\n", "unknown front matter"),
}


async def test_bad_files_are_named_and_leave_nothing(
    sessions: db.SessionFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "good.md").write_text(GOOD, encoding="utf-8")
    for name, (content, _) in BAD.items():
        (folder / name).write_text(content, encoding="utf-8")
    (folder / "latin1.md").write_bytes("---\ntitle: caf\xe9\n".encode("latin-1"))
    report = await _import(sessions, folder)
    assert report.created == 1
    reasons = {bad.path.name: bad.reason for bad in report.failed}
    assert set(reasons) == {*BAD, "latin1.md"}
    for name, (_, reason) in BAD.items():
        assert reason in reasons[name], (name, reasons[name])
    assert "UTF-8" in reasons["latin1.md"]
    async with db.transaction(sessions) as s:
        assert await _count(s, knowledge.Article) == 1
        assert await _count(s, knowledge.ArticleVersion) == 1


async def test_export_writes_the_same_format_back(
    sessions: db.SessionFactory, tmp_path: Path
) -> None:
    async with db.transaction(sessions) as s:
        await knowledge.seed_articles(s, T0)
    out = tmp_path / "out"
    async with db.transaction(sessions) as s:
        written = await knowledge.export_folder(s, out)
    assert written == len(list(knowledge.DEMO_DIR.glob("*.md")))
    for path in knowledge.DEMO_DIR.glob("*.md"):
        assert knowledge.parse_file(out / path.name) == knowledge.parse_file(path)
    report = await _import(sessions, out)
    assert report.unchanged == written


def test_cli_import_and_export(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "good.md").write_text(GOOD, encoding="utf-8")
    assert main(["kb", "import", str(folder), "--database-url", sqlite_url]) == 0
    assert "1 created, 0 updated, 0 unchanged, 0 failed" in capsys.readouterr().out
    (folder / "broken.md").write_text("no front matter", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["kb", "import", str(folder), "--database-url", sqlite_url])
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert "0 created, 0 updated, 1 unchanged, 1 failed" in captured.out
    assert "broken.md: no front matter" in captured.err
    out = tmp_path / "out"
    assert main(["kb", "export", str(out), "--database-url", sqlite_url]) == 0
    assert (out / "good.md").read_text(encoding="utf-8").startswith("---\ntitle: 空调 E21 故障\n")
    assert main(["kb", "import", str(tmp_path / "missing"), "--database-url", sqlite_url]) == 2
    assert "missing: not a folder" in capsys.readouterr().err
