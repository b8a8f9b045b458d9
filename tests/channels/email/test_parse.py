"""Parsing: every fixture decodes to the right sender, subject and new text (no U+FFFD,
no mojibake), quoted history and signatures stripped, attachments named; charset
detection on bare 8-bit bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.email.charsets import decode, detect_decode
from channels.email.classify import Noise, classify
from channels.email.parse import parse, strip_quoted
from switchboard.charsets import install_cjk_aliases

FIXTURES = Path(__file__).parent / "fixtures"
OWN = {"service@example.com", "orders@example.com"}

# name: (sender, subject, the new text, attachment names, noise)
EXPECTED: dict[str, tuple[str | None, str, str, list[str], Noise | None]] = {
    "plain__utf8.eml": (
        "li.ming@example.cn",
        "空调不制冷",
        "我家空调不制冷了，型号KFR-35GW。",
        [],
        None,
    ),
    "reply__outlook.eml": (
        "john@contoso.com",
        "RE: [#SB-1001] Leaking unit",
        "Hello,\n\nThe unit still leaks water after the visit.\n\nBest regards\nJohn",
        [],
        None,
    ),
    "reply__gmail.eml": (
        "ana.lopez@gmail.com",
        "Re: Replacement part",
        "Thanks, the new part works.",
        [],
        None,
    ),
    "reply__apple_mail.eml": (
        "wang.fang@icloud.com",
        "回复: 洗衣机维修",
        "明天下午在家，谢谢。",
        [],
        None,
    ),
    "reply__foxmail_qq.eml": ("zhangwei@qq.com", "回复：冰箱异响", "好的，收到。", [], None),
    "reply__references_only_outlook.eml": (
        "refs.only@example.org",
        "RE: Your repair",
        "Outlook kept only References.",
        [],
        None,
    ),
    "reply__signature.eml": (
        "sig@example.org",
        "Question",
        "Is the warranty still valid?",
        [],
        None,
    ),
    "charset__gb2312_subject_gbk_chars.eml": (
        "chen.rong@163.com",
        "镕堃喆昇的空调",
        "我叫陈镕，朋友叫我堃哥。空调坏了。镕堃喆昇",
        [],
        None,
    ),
    "charset__gbk_8bit.eml": (
        "liu.yang@sina.com",
        "退款申请",
        "订单SO-2291申请退款，谢谢。",
        [],
        None,
    ),
    "charset__gb18030.eml": (
        "zhao.min@126.com",
        "热水器漏水",
        "热水器漏水，㐀㐁 是扩展字符。",
        [],
        None,
    ),
    "charset__big5.eml": (
        "lin@example.com.tw",
        "冷氣不冷",
        "您好，我家的冷氣不冷了，請派人維修。",
        [],
        None,
    ),
    "charset__iso2022jp.eml": (
        "yamada@example.jp",
        "エアコンの修理",
        "エアコンが壊れました。修理をお願いします。",
        [],
        None,
    ),
    "charset__shift_jis.eml": (
        "sato@example.jp",
        "冷蔵庫の故障",
        "冷蔵庫が冷えません。よろしくお願いします。",
        [],
        None,
    ),
    "charset__latin1.eml": (
        "zoe@example.de",
        "Kühlschrank kaputt",
        "Grüße, der Kühlschrank ist kaputt. Très urgent!",
        [],
        None,
    ),
    "charset__8bit_no_charset_gbk.eml": (
        "zhou@example.cn",
        "电视黑屏",
        "电视开机后黑屏，有声音没有图像。",
        [],
        None,
    ),
    "charset__8bit_no_charset_utf8.eml": (
        "wu@example.cn",
        "no charset",
        "热水器不出热水了。",
        [],
        None,
    ),
    "charset__raw_8bit_subject.eml": (
        "sun@example.cn",
        "微波炉不加热",
        "微波炉转但不热。",
        [],
        None,
    ),
    "charset__unknown_label.eml": ("ivan@example.ru", "unknown label", "洗碗机漏水", [], None),
    "html__only.eml": (
        "buyer@shop.example",
        "HTML only",
        "Order SO-2291 arrived broken.\n\nPlease call me.",
        [],
        None,
    ),
    "html__hostile.eml": ("mallory@evil.example", "hostile", "Hi\nx\nPlease refund.", [], None),
    "inline__image.eml": ("chen.jing@example.cn", "故障照片", "见照片：", ["photo.png"], None),
    "attachment__pdf_chinese_rfc2231.eml": (
        "huang@example.cn",
        "发票",
        "请看附件发票。",
        ["发票扫描.pdf"],
        None,
    ),
    "attachment__xlsx_chinese_encoded_word.eml": (
        "zheng@example.cn",
        "配件清单",
        "配件清单见附件。",
        ["配件清单.xlsx"],
        None,
    ),
    "attachment__lying_type.eml": ("eve@example.com", "invoice", "see attached", ["x.png"], None),
    "attachment__over_limit.eml": (
        "big@example.com",
        "large video",
        "video of the noise attached",
        ["noise.mp4"],
        None,
    ),
    "forwarded__message.eml": (
        "manager@shop.example",
        "Fwd: broken washer",
        "Customer complaint below, please handle.",
        [],
        None,
    ),
    "cc__participants.eml": (
        "boss@corp.example",
        "Office AC broken",
        "The office AC is broken; my assistant is on CC.",
        [],
        None,
    ),
    "auto__out_of_office.eml": (
        "traveller@example.com",
        "Automatic reply: [#SB-1001] Leaking unit",
        "I am out of the office until Monday.",
        [],
        Noise.AUTO_REPLY,
    ),
    "auto__chinese_subject.eml": (
        "away@example.cn",
        "自动回复：空调维修",
        "我正在休假，回来后回复。",
        [],
        Noise.AUTO_REPLY,
    ),
    "auto__precedence_bulk.eml": (
        "news@list.example",
        "Weekly deals",
        "Our weekly deals.",
        [],
        Noise.BULK,
    ),
    "bounce__dsn.eml": (
        "mailer-daemon@mx.example.com",
        "Undelivered Mail Returned to Sender",
        "I'm sorry to have to inform you that your message could not be delivered.",
        [],
        Noise.BOUNCE,
    ),
    "bounce__mailer_daemon_plain.eml": (
        "mailer-daemon@qq.com",
        "系统退信",
        "您发送的邮件无法送达。",
        [],
        Noise.BOUNCE,
    ),
    "malformed__missing_message_id.eml": (
        "noid@example.com",
        "no message id",
        "There is no Message-ID here.",
        [],
        None,
    ),
    "malformed__bad_date.eml": ("baddate@example.com", "bad date", "Date is garbage.", [], None),
    "malformed__unclosed_boundary.eml": (
        "cutoff@example.com",
        "unclosed",
        "The body is here but the boundary never closes.",
        [],
        None,
    ),
    "malformed__headers.eml": (
        "real@example.com",
        "坏掉的x",
        "X-Garbage\n\nbody survives",
        [],
        None,
    ),
    "malformed__no_from.eml": ("fallback@example.com", "no from", "who am I", [], None),
    "own__address.eml": (
        "service@example.com",
        "[#SB-1001] loop",
        "Our own mail came back.",
        [],
        Noise.OWN_ADDRESS,
    ),
}


@pytest.fixture(autouse=True)
def aliases() -> None:
    install_cjk_aliases()


def test_every_fixture_has_an_expectation() -> None:
    names = sorted(p.name for p in FIXTURES.glob("*.eml"))
    assert len(names) >= 30
    assert names == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(name: str) -> None:
    sender, subject, text, files, noise = EXPECTED[name]
    parsed = parse((FIXTURES / name).read_bytes())
    assert parsed.sender == sender
    assert parsed.subject == subject
    assert parsed.text == text
    assert [p.name for p in parsed.parts] == files
    assert classify(parsed, OWN) == noise
    assert "\ufffd" not in parsed.full_text + parsed.subject
    assert parsed.external_id


def test_missing_message_id_gets_a_stable_stand_in() -> None:
    raw = (FIXTURES / "malformed__missing_message_id.eml").read_bytes()
    first, second = parse(raw), parse(raw)
    assert first.message_id is None
    assert first.external_id == second.external_id and first.external_id.startswith("sha256:")


def test_bad_date_is_none_and_threading_ids_are_read() -> None:
    assert parse((FIXTURES / "malformed__bad_date.eml").read_bytes()).date is None
    gmail = parse((FIXTURES / "reply__gmail.eml").read_bytes())
    assert gmail.in_reply_to == "<sb-aaaa@example.com>"
    assert gmail.message_id == "<CAJ+abc123=XyZ@mail.gmail.com>"
    outlook = parse((FIXTURES / "reply__references_only_outlook.eml").read_bytes())
    assert outlook.in_reply_to is None
    assert outlook.references[-1] == "<sb-ffffffffffffffffffffffffffffffff@example.com>"


def test_bounce_names_the_failed_message_and_reason() -> None:
    report = parse((FIXTURES / "bounce__dsn.eml").read_bytes()).report
    assert report is not None
    assert report.original_message_id == "<sb-0123456789abcdef0123456789abcdef@example.com>"
    assert report.status == "5.1.1" and "Recipient address rejected" in (report.diagnostic or "")


def test_cc_and_full_original_text_are_kept() -> None:
    cc = parse((FIXTURES / "cc__participants.eml").read_bytes())
    assert cc.cc == ("assistant@corp.example", "facilities@corp.example")
    foxmail = parse((FIXTURES / "reply__foxmail_qq.eml").read_bytes())
    assert "原始邮件" in foxmail.full_text and "请提供购买凭证" in foxmail.full_text


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("我家空调不制冷了，请尽快派人维修。", "gb18030"),
        ("我家空調不製冷了，請儘快派人維修。", "big5"),
        ("エアコンが壊れました。修理をお願いします。", "shift_jis"),
        ("エアコンが壊れました。修理をお願いします。", "euc_jp"),
        ("Grüße aus Köln, très bien", "latin-1"),
        ("订单SO-2291退款", "gb18030"),
        ("热水器", "utf-8"),
    ],
)
def test_detects_unlabelled_8bit_text(text: str, codec: str) -> None:
    assert detect_decode(text.encode(codec)) == text


def test_gb2312_label_reads_gbk_only_characters() -> None:
    assert decode("镕堃".encode("gb18030"), "gb2312") == "镕堃"
    assert decode("镕堃".encode("gb18030"), "GBK") == "镕堃"


def test_strip_quoted_keeps_text_when_nothing_new() -> None:
    assert strip_quoted("> only a quote\n> here") == "> only a quote\n> here"
    assert strip_quoted("new\n\nOn Mon, Jan 1, 2026 at 9:00 AM Bob <b@x> wrote:\n> old") == "new"
