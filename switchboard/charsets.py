"""Chinese mail labelled gb2312/gbk often carries GB18030-only characters; Python's strict
codecs would turn them into U+FFFD. Aliasing them to the superset fixes it for every
decoder in the process. Must run before anything decodes."""

from __future__ import annotations

import encodings.aliases


def install_cjk_aliases() -> None:
    encodings.aliases.aliases.update(
        {"gb2312": "gb18030", "gbk": "gb18030", "euc_cn": "gb18030", "cp936": "gb18030"}
    )
