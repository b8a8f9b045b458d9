"""Re-vendors the browser libraries of the web app from the npm registry.

The app has no Node build step: each library is pinned here (version and the registry's
sha512 integrity), downloaded as its npm tarball, checked, and the files the pages load
are copied with the package's licence into ``agent_ui/static/vendor/<name>/``. Run it after
changing a pin: ``python scripts/vendor.py`` (``--check`` verifies the committed files).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).resolve().parent.parent / "agent_ui" / "static" / "vendor"


@dataclass(frozen=True)
class Pin:
    name: str
    package: str
    version: str
    integrity: str
    files: dict[str, str]
    """Path inside the tarball's ``package/`` -> file name in the vendor folder."""


PINS = [
    Pin(
        "htmx",
        "htmx.org",
        "2.0.11",
        "sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==",
        {"dist/htmx.min.js": "htmx.min.js", "LICENSE": "LICENSE"},
    ),
    Pin(
        "uplot",
        "uplot",
        "1.6.32",
        "sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==",
        {
            "dist/uPlot.iife.min.js": "uPlot.iife.min.js",
            "dist/uPlot.min.css": "uPlot.min.css",
            "LICENSE": "LICENSE",
        },
    ),
]


def fetch(pin: Pin) -> dict[str, bytes]:
    url = f"{REGISTRY}/{pin.package}/-/{pin.package.split('/')[-1]}-{pin.version}.tgz"
    with urllib.request.urlopen(url, timeout=60) as response:
        data: bytes = response.read()
    algo, _, expected = pin.integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{pin.package}@{pin.version}: integrity mismatch ({url})")
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for inner, target in pin.files.items():
            member = tar.extractfile(f"package/{inner}")
            if member is None:
                raise SystemExit(f"{pin.package}@{pin.version}: no {inner} in the tarball")
            out[target] = member.read()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    stale = []
    for pin in PINS:
        folder = VENDOR / pin.name
        files = fetch(pin)
        manifest = {"package": pin.package, "version": pin.version, "integrity": pin.integrity}
        files["VERSION.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
        for name, content in files.items():
            path = folder / name
            if args.check:
                if not path.exists() or path.read_bytes() != content:
                    stale.append(str(path))
                continue
            folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        print(f"{pin.package}@{pin.version} -> {folder}")
    if stale:
        print("stale vendored files:\n  " + "\n  ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
