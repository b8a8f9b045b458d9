"""The translation catalogs are complete and compiled, and the vendored browser libraries
are pinned with their licences."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from agent_ui.web import i18n

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str) -> ModuleType:
    file = name.removeprefix("sb_").removesuffix("_script")
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{file}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_catalogs_cover_every_message_and_are_compiled() -> None:
    assert _script("sb_i18n_script").problems() == []


def test_language_choice() -> None:
    assert i18n.choose(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh_CN"
    assert i18n.choose(None, "fr-FR, en;q=0.5, zh;q=0.4") == "en"
    assert i18n.choose(None, "en;q=0.2, zh-TW;q=0.9") == "zh_CN"
    assert i18n.choose("en", "zh-CN") == "en", "the user's preference wins"
    assert i18n.choose(None, "de, fr;q=x") == "en"
    assert i18n.choose(None, None) == "en"
    with i18n.active("zh_CN"):
        assert i18n.gettext_("Sign in") == "登录"
    with i18n.active("en"):
        assert i18n.gettext_("Sign in") == "Sign in"


def test_vendored_libraries_are_pinned_with_licences() -> None:
    vendor = _script("sb_vendor_script")
    for pin in vendor.PINS:
        folder = vendor.VENDOR / pin.name
        manifest = json.loads((folder / "VERSION.json").read_text())
        assert manifest["version"] == pin.version and manifest["integrity"] == pin.integrity
        for target in pin.files.values():
            assert (folder / target).stat().st_size > 0, target
        assert (folder / "LICENSE").read_text().strip()
