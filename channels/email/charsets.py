"""Text from mail bytes whatever the sender's software did with charsets.

Two problems the standard library leaves to us:
- a label that lies: Chinese mail labelled ``gb2312`` or ``gbk`` often holds GB18030-only
  characters, which the strict codecs turn into U+FFFD. ``decode`` reads every label of
  that family as GB18030 (a superset of both), whether or not the process-wide aliases of
  ``switchboard.charsets`` are installed;
- no label at all: an 8-bit body (or raw 8-bit header) without a charset is detected here
  without chardet: UTF-8 when it is valid UTF-8, ISO-2022-JP by its escapes, else the
  East Asian codec whose decoding reads most like real text (common simplified characters
  for GB18030, Big5's frequent-character block for Big5, kana for Shift_JIS/EUC-JP), and
  Windows-1252/Latin-1 when the high bytes stand alone as accented letters do.
"""

from __future__ import annotations

import codecs
import re

_GB_FAMILY = frozenset(
    {"gb2312", "gbk", "euc_cn", "euccn", "cp936", "x_gbk", "gb18030", "csgb2312"}
)
_SPELLINGS = {
    "big5_hkscs": "big5hkscs",
    "x_mac_chinesesimp": "gb18030",
    "ks_c_5601_1987": "cp949",
    "unicode_1_1_utf_7": "utf_7",
    "x_unknown": "",
    "unknown_8bit": "",
}
_KANA = re.compile(r"[\u3040-\u30ff]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _gb2312_strict() -> codecs.CodecInfo | None:
    """The real GB2312 table (the name may be aliased to GB18030 process-wide)."""
    try:
        import _codecs_cn  # type: ignore[import-not-found]

        codec = _codecs_cn.getcodec("gb2312")
    except (ImportError, LookupError):  # pragma: no cover - CPython always has it
        return None
    return codecs.CodecInfo(
        name="gb2312-strict",
        encode=lambda s, e="strict": (codec.encode(s, e), len(s)),
        decode=lambda b, e="strict": (codec.decode(b, e), len(b)),
    )


_GB2312 = _gb2312_strict()


def codec_for(label: str | None) -> str | None:
    """The Python codec to decode text labelled ``label``; None when unknown or unusable."""
    if not label:
        return None
    key = label.strip().strip('"').lower().replace("-", "_")
    if key in _GB_FAMILY or key.replace("_", "") in _GB_FAMILY:
        return "gb18030"
    key = _SPELLINGS.get(key, key)
    if not key:
        return None
    try:
        name = codecs.lookup(key).name
    except LookupError:
        return None
    if name in ("gb2312", "gbk"):
        return "gb18030"
    if name in ("ascii", "us-ascii"):
        return "ascii"
    return name


def decode(data: bytes, label: str | None = None) -> str:
    """``data`` as text: by its label when the label is right, else detected."""
    codec = codec_for(label)
    if codec and codec != "ascii":
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass
    return detect_decode(data)


def detect_decode(data: bytes) -> str:
    if all(b < 0x80 for b in data):
        if b"\x1b$" in data or b"\x1b(" in data:
            try:
                return data.decode("iso2022_jp_ext")
            except UnicodeDecodeError:
                pass
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _isolated_high_bytes(data):
        return _western(data)
    best: tuple[float, str] | None = None
    for codec in ("gb18030", "big5", "shift_jis", "euc_jp"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        score = _score(codec, text)
        if codec in ("shift_jis", "euc_jp") and score >= 0.2:
            score += 1.0  # kana is Japanese: no Chinese text decodes into much of it
        if best is None or score > best[0]:
            best = (score, text)
    if best is not None and best[0] > 0.5:
        return best[1]
    return _western(data)


def _western(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _isolated_high_bytes(data: bytes) -> bool:
    """True when no two bytes >= 0x80 stand side by side (accented letters in Latin-1),
    which no double-byte East Asian text does."""
    high = False
    for b in data:
        if b >= 0x80:
            if high:
                return False
            high = True
        else:
            high = False
    return True


def _score(codec: str, text: str) -> float:
    """How much ``text`` reads like real text of that codec's language (0 to 1)."""
    wide = [ch for ch in text if ord(ch) >= 0x80]
    if not wide:
        return 0.0
    if codec in ("shift_jis", "euc_jp"):
        kana = len(_KANA.findall(text))
        return kana / len(wide) + 0.01 * (codec == "shift_jis")
    cjk = _CJK.findall(text)
    if not cjk:
        return 0.0
    share = len(cjk) / len(wide)
    if codec == "gb18030":
        common = sum(1 for ch in cjk if _in_gb2312(ch))
        return share * common / len(cjk)
    common = sum(1 for ch in cjk if _big5_frequent(ch))
    return share * common / len(cjk)


def _in_gb2312(ch: str) -> bool:
    if _GB2312 is None:  # pragma: no cover
        return True
    try:
        _GB2312.encode(ch)
    except UnicodeEncodeError:
        return False
    return True


def _big5_frequent(ch: str) -> bool:
    """In Big5's level-1 block (lead bytes 0xA4-0xC6), the 5,401 frequent characters."""
    try:
        raw = ch.encode("big5")
    except UnicodeEncodeError:
        return False
    return len(raw) == 2 and 0xA4 <= raw[0] <= 0xC6


def repair_header(value: str) -> str:
    """A header the parser read from raw 8-bit bytes keeps them as surrogate escapes;
    those bytes are decoded here by detection instead of being shown as ``\\udcxx``."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    return detect_decode(value.encode("utf-8", "surrogateescape"))
