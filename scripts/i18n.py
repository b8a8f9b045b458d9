"""Translation catalogs of the web app (Babel).

    python scripts/i18n.py update    # extract messages, merge them into every .po
    python scripts/i18n.py compile   # .po -> .mo (the .mo files are committed)
    python scripts/i18n.py check     # non-zero when a .mo is stale or zh_CN lacks a msgstr

Each UI area is its own gettext domain (``agent_ui/locale/<lang>/LC_MESSAGES/<domain>.po``)
so areas (and the rooms that add pages) never edit one another's catalog; the app merges
the domains at load. Translators use the usual tools (Poedit, Weblate) on the .po files.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from jinja2.ext import babel_extract

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "agent_ui" / "locale"
LANGUAGES = ("zh_CN", "en")
DOMAINS: dict[str, list[str]] = {
    "base": ["agent_ui/templates/*.html", "agent_ui/web/*.py", "agent_ui/panels.py"],
    "workspace": ["agent_ui/templates/agent/*.html", "agent_ui/web/workspace/**/*.py"],
    "ticket": ["agent_ui/templates/agent/ticket/**/*.html", "agent_ui/web/ticket/**/*.py"],
    "wallboard": ["agent_ui/templates/supervisor/**/*.html", "agent_ui/web/wallboard/**/*.py"],
    "kb": [
        "agent_ui/templates/help/*.html",
        "agent_ui/templates/agent/kb/*.html",
        "agent_ui/web/kb/*.py",
        "agent_ui/kb_panel.py",
    ],
    "email": ["channels/email/timeline.py"],
    "erp": ["erp/*.html", "erp/panel.py", "agent_ui/web/erp/**/*.py"],
    "voice": ["channels/twilio/voice_ui.py"],
    "telegram": ["channels/telegram/render.py"],
}
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "false"}


def sources(domain: str) -> Iterator[Path]:
    for pattern in DOMAINS[domain]:
        yield from sorted(ROOT.glob(pattern))


def extract(domain: str) -> Catalog:
    template = Catalog(project="switchboard", fuzzy=False)
    for path in sources(domain):
        method = babel_extract if path.suffix == ".html" else "python"
        options = JINJA_OPTIONS if path.suffix == ".html" else {}
        for lineno, message, comments, context in extract_from_file(
            method, str(path), keywords=DEFAULT_KEYWORDS, options=options
        ):
            template.add(
                message,
                None,
                [(str(path.relative_to(ROOT)), lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


def po_path(language: str, domain: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{domain}.po"


def load(path: Path, language: str) -> Catalog:
    if not path.exists():
        return Catalog(locale=language, project="switchboard", fuzzy=False)
    with path.open("rb") as fp:
        return read_po(fp, locale=language)


def compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def update() -> None:
    for domain in DOMAINS:
        template = extract(domain)
        for language in LANGUAGES:
            path = po_path(language, domain)
            if not len(template) and not path.exists():
                continue
            catalog = load(path, language)
            catalog.update(template, no_fuzzy_matching=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as fp:
                write_po(
                    fp,
                    catalog,
                    width=100,
                    omit_header=False,
                    sort_output=True,
                    ignore_obsolete=True,
                )
            print(f"{path.relative_to(ROOT)}: {len(catalog)} messages")


def compile_all() -> None:
    for path in sorted(LOCALE.glob("*/LC_MESSAGES/*.po")):
        catalog = load(path, path.parent.parent.name)
        path.with_suffix(".mo").write_bytes(compiled(catalog))
        print(f"{path.with_suffix('.mo').relative_to(ROOT)}")


def problems() -> list[str]:
    found = []
    for domain in DOMAINS:
        wanted = {m.id for m in extract(domain) if m.id}
        for language in LANGUAGES:
            path = po_path(language, domain)
            catalog = load(path, language)
            missing = wanted - {m.id for m in catalog if m.id}
            if missing:
                found.append(f"{path.relative_to(ROOT)} lacks {sorted(map(str, missing))[:5]}")
            if language != "en":
                empty = [str(m.id) for m in catalog if m.id and not m.string]
                if empty:
                    found.append(f"{path.relative_to(ROOT)} untranslated: {empty[:5]}")
            mo = path.with_suffix(".mo")
            if path.exists() and (not mo.exists() or mo.read_bytes() != compiled(catalog)):
                found.append(f"{mo.relative_to(ROOT)} is stale: run scripts/i18n.py compile")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["update", "compile", "check"])
    args = parser.parse_args(argv)
    if args.command == "update":
        update()
    elif args.command == "compile":
        compile_all()
    else:
        found = problems()
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
