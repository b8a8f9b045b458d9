"""What the detector reads in customers' messages."""

from __future__ import annotations

import pytest

from erp.detect import Detector, Found


def test_the_default_numbering_is_found() -> None:
    scan = Detector.with_overrides().scan
    assert scan("我的订单SO-2291什么时候到？") == Found(orders=("SO-2291",))
    assert scan("order sal-ord-2026-00042 and S00042 please").orders == (
        "SAL-ORD-2026-00042",
        "S00042",
    )
    found = scan(
        "空调 KFR-35GW/BpTYC1 序列号 SN-AC-2026-0042 不制冷，需要压缩机 CP-KFR35-01，"
        "洗衣机 XQG80-BD14126 也坏了"
    )
    assert found.serials == ("SN-AC-2026-0042",)
    assert found.parts == ("CP-KFR35-01",)
    assert found.models == ("KFR-35GW/BpTYC1", "XQG80-BD14126")
    assert scan("BCD-470WDPG and ES60H-J5").models == ("BCD-470WDPG", "ES60H-J5")


def test_plain_text_finds_nothing() -> None:
    scan = Detector.with_overrides().scan
    assert not scan("我家空调不制冷了, call me at 13800138000 or on 2026-12-04")
    assert not scan("SO-12 is too short, ES is no model")


def test_repeats_count_once_and_lists_are_bounded() -> None:
    scan = Detector.with_overrides().scan
    assert scan("SO-2291 so-2291 SO-2291").orders == ("SO-2291",)
    many = " ".join(f"SO-{n}" for n in range(1000, 1020))
    assert len(scan(many).orders) == 5


def test_a_company_sets_its_own_numbering() -> None:
    detector = Detector.with_overrides({"orders": r"\bXSD\d{8}\b", "serials": None})
    assert detector.scan("销售单 XSD20261204 SN-AC-2026-0042") == Found(
        serials=("SN-AC-2026-0042",), orders=("XSD20261204",)
    )
    with pytest.raises(ValueError, match="orders pattern"):
        Detector.with_overrides({"orders": "("})
    with pytest.raises(ValueError, match="unknown kind"):
        Detector.with_overrides({"invoices": "x"})
