# ruff: noqa: E501
"""Writes the .eml fixtures (``python -m tests.channels.email.make_fixtures``). Each is the
shape a real client sends (headers, multipart layout, charsets and transfer encodings as
Outlook, Gmail, Apple Mail, Foxmail/QQ Mail, Japanese and Taiwanese clients, mailers and
MTAs write them); byte-level fixtures are spelled out, so the lies real mail tells (GBK
characters under a gb2312 label, 8-bit bodies without a charset, broken boundaries) stay
in the files exactly."""

from __future__ import annotations

import base64
import quopri
from email.header import Header
from pathlib import Path

HERE = Path(__file__).parent / "fixtures"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
XLSX = b"PK\x03\x04" + b"\x14\x00\x06\x00" + b"\x00" * 40 + b"xl/workbook.xml"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def b64(data: bytes) -> str:
    return base64.encodebytes(data).decode()


def words(text: str, charset: str) -> str:
    return Header(text, charset).encode()


def head(
    frm: str,
    subject: str,
    mid: str | None,
    *,
    to: str = "service@example.com",
    extra: str = "",
    date: str = "Mon, 30 Nov 2026 09:15:00 +0800",
) -> str:
    lines = [f"From: {frm}", f"To: {to}", f"Subject: {subject}", f"Date: {date}"]
    if mid:
        lines.append(f"Message-ID: {mid}")
    lines.append("MIME-Version: 1.0")
    return "\r\n".join(lines) + "\r\n" + extra


def text_mail(frm: str, subject: str, mid: str | None, body: str, **kw: str) -> bytes:
    return (
        head(frm, subject, mid, **kw)
        + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64(body.encode())
    ).encode()


def alternative(plain: bytes, html: bytes, charset: str, boundary: str = "ALT") -> str:
    return (
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset={charset}\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{b64(plain)}\r\n"
        f"--{boundary}\r\nContent-Type: text/html; charset={charset}\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{b64(html)}\r\n--{boundary}--\r\n"
    )


def build() -> dict[str, bytes]:
    f: dict[str, bytes] = {}
    f["plain__utf8.eml"] = text_mail(
        "李明 <li.ming@example.cn>",
        words("空调不制冷", "utf-8"),
        "<plain-utf8@mail.example.cn>",
        "我家空调不制冷了，型号KFR-35GW。",
    )
    outlook_body = (
        "Hello,\r\n\r\nThe unit still leaks water after the visit.\r\n\r\nBest regards\r\n"
        "John\r\n\r\n________________________________\r\nFrom: Switchboard Support "
        "<service@example.com>\r\nSent: Monday, November 30, 2026 10:00 AM\r\nTo: John Smith "
        "<john@contoso.com>\r\nSubject: RE: [#SB-1001] Leaking unit\r\n\r\nWe will send a "
        "technician tomorrow.\r\n"
    )
    f["reply__outlook.eml"] = (
        head(
            "John Smith <john@contoso.com>",
            "RE: [#SB-1001] Leaking unit",
            "<DM6PR11MB1234ABCD@DM6PR11MB1234.namprd11.prod.outlook.com>",
            extra="Thread-Topic: Leaking unit\r\nThread-Index: AdnB1234\r\n"
            "References: <sb-0123456789abcdef0123456789abcdef@example.com>\r\n",
        )
        + alternative(
            outlook_body.encode(),
            b"<html><body><p>Hello,</p><p>The unit still leaks water after the visit.</p>"
            b"<div id=divRplyFwdMsg><b>From:</b> Switchboard Support</div></body></html>",
            "us-ascii",
        )
    ).encode()
    gmail_body = (
        "Thanks, the new part works.\r\n\r\nOn Mon, Nov 30, 2026 at 10:00 AM Switchboard "
        "Support <service@example.com>\r\nwrote:\r\n\r\n> We shipped the part today.\r\n>\r\n"
    )
    f["reply__gmail.eml"] = (
        head(
            "Ana Lopez <ana.lopez@gmail.com>",
            "Re: Replacement part",
            "<CAJ+abc123=XyZ@mail.gmail.com>",
            extra="In-Reply-To: <sb-aaaa@example.com>\r\nReferences: <sb-aaaa@example.com>\r\n",
        )
        + alternative(
            gmail_body.encode(),
            b'<div dir="ltr">Thanks, the new part works.</div><br><div class="gmail_quote">'
            b"<blockquote>We shipped the part today.</blockquote></div>",
            "UTF-8",
        )
    ).encode()
    f["reply__apple_mail.eml"] = (
        head(
            "王芳 <wang.fang@icloud.com>",
            words("回复: 洗衣机维修", "utf-8"),
            "<7F3A2B1C-0D4E-4F5A-9B8C-1A2B3C4D5E6F@icloud.com>",
            extra="In-Reply-To: <apple-orig@example.com>\r\n",
        )
        + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
        "quoted-printable\r\n\r\n"
        + quopri.encodestring(
            "明天下午在家，谢谢。\n\n发自我的iPhone\n\n> 在 2026年11月30日，10:00，客服 "
            "<service@example.com> 写道：\n>\n> 师傅明天上门。\n".encode()
        ).decode()
    ).encode()
    foxmail = (
        "好的，收到。\r\n\r\n------------------ 原始邮件 ------------------\r\n"
        '发件人: "客服"<service@example.com>;\r\n发送时间: 2026年11月30日(星期一) 上午10:00\r\n'
        '收件人: "张伟"<zhangwei@qq.com>;\r\n主题: 回复：冰箱异响\r\n\r\n请提供购买凭证。\r\n'
    )
    f["reply__foxmail_qq.eml"] = (
        head(
            '"张伟" <zhangwei@qq.com>',
            words("回复：冰箱异响", "gb18030"),
            "<tencent_ABCDEF0123456789@qq.com>",
            extra="X-Mailer: Foxmail 7.2.25\r\n",
        )
        + alternative(foxmail.encode("gbk"), "<div>好的，收到。</div>".encode("gbk"), "gb18030")
    ).encode()
    gbk_only = "镕堃喆昇"  # GBK/GB18030 characters that are not in GB2312
    f["charset__gb2312_subject_gbk_chars.eml"] = (
        head(
            "陈镕 <chen.rong@163.com>",
            "=?gb2312?B?" + base64.b64encode(f"{gbk_only}的空调".encode("gb18030")).decode() + "?=",
            "<gbk-subject@163.com>",
        )
        + "Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64(f"我叫陈镕，朋友叫我堃哥。空调坏了。{gbk_only}".encode("gb18030"))
    ).encode()
    f["charset__gbk_8bit.eml"] = (
        head("刘洋 <liu.yang@sina.com>", words("退款申请", "gbk"), "<gbk-8bit@sina.com>")
        + "Content-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + "订单SO-2291申请退款，谢谢。\r\n".encode("gbk")
    f["charset__gb18030.eml"] = (
        head("赵敏 <zhao.min@126.com>", words("热水器漏水", "gb18030"), "<gb18030@126.com>")
        + "Content-Type: text/plain; charset=GB18030\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64("热水器漏水，㐀㐁 是扩展字符。".encode("gb18030"))
    ).encode()
    f["charset__big5.eml"] = (
        head("林志明 <lin@example.com.tw>", words("冷氣不冷", "big5"), "<big5@example.com.tw>")
        + "Content-Type: text/plain; charset=big5\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64("您好，我家的冷氣不冷了，請派人維修。".encode("big5"))
    ).encode()
    f["charset__iso2022jp.eml"] = (
        head(
            "山田太郎 <yamada@example.jp>",
            words("エアコンの修理", "iso-2022-jp"),
            "<jis@example.jp>",
        )
        + "Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
    ).encode() + "エアコンが壊れました。修理をお願いします。\r\n".encode("iso2022_jp")
    f["charset__shift_jis.eml"] = (
        head("佐藤花子 <sato@example.jp>", words("冷蔵庫の故障", "shift_jis"), "<sjis@example.jp>")
        + "Content-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + "冷蔵庫が冷えません。よろしくお願いします。\r\n".encode("shift_jis")
    f["charset__latin1.eml"] = (
        head("Zoë Müller <zoe@example.de>", words("Kühlschrank kaputt", "iso-8859-1"), "<l1@ex.de>")
        + "Content-Type: text/plain; charset=ISO-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + quopri.encodestring(
            "Grüße, der Kühlschrank ist kaputt. Très urgent!".encode("latin-1")
        ).decode()
    ).encode()
    f["charset__8bit_no_charset_gbk.eml"] = (
        head(
            "周杰 <zhou@example.cn>",
            "=?gbk?B?" + base64.b64encode("电视黑屏".encode("gbk")).decode() + "?=",
            "<nocharset-gbk@example.cn>",
        )
        + "Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + "电视开机后黑屏，有声音没有图像。\r\n".encode("gbk")
    f["charset__8bit_no_charset_utf8.eml"] = (
        head("吴磊 <wu@example.cn>", "no charset", "<nocharset-utf8@example.cn>")
        + "Content-Type: text/plain\r\n\r\n"
    ).encode() + "热水器不出热水了。\r\n".encode()
    f["charset__raw_8bit_subject.eml"] = (
        b"From: =?utf-8?B?" + base64.b64encode("孙丽".encode()) + b"?= <sun@example.cn>\r\n"
        b"To: service@example.com\r\nSubject: " + "微波炉不加热".encode("gbk") + b"\r\n"
        b"Message-ID: <raw8bit@example.cn>\r\nDate: Mon, 30 Nov 2026 09:00:00 +0800\r\n"
        b"Content-Type: text/plain; charset=gbk\r\n\r\n" + "微波炉转但不热。\r\n".encode("gbk")
    )
    f["charset__unknown_label.eml"] = (
        head("Ivan <ivan@example.ru>", "unknown label", "<unknown-label@example.ru>")
        + "Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n"
    ).encode() + "洗碗机漏水\r\n".encode()
    f["html__only.eml"] = (
        head("Marketing Buyer <buyer@shop.example>", "HTML only", "<html-only@shop.example>")
        + "Content-Type: text/html; charset=utf-8\r\n\r\n"
        + "<html><head><style>p{color:red}</style></head><body><p>Order <b>SO-2291</b> "
        "arrived broken.</p><p>Please call me.</p></body></html>\r\n"
    ).encode()
    f["html__hostile.eml"] = (
        head("Mallory <mallory@evil.example>", "hostile", "<hostile@evil.example>")
        + "Content-Type: text/html; charset=utf-8\r\n\r\n"
        + '<p onclick="alert(1)">Hi</p><script>window.pwned=1</script>'
        '<img src="https://tracker.evil.example/p.gif"><a href="javascript:alert(2)">x</a>'
        "<iframe src=https://evil.example></iframe><p>Please refund.</p>\r\n"
    ).encode()
    f["inline__image.eml"] = (
        head("陈静 <chen.jing@example.cn>", words("故障照片", "utf-8"), "<inline-img@example.cn>")
        + 'Content-Type: multipart/related; boundary="REL"\r\n\r\n'
        "--REL\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        '<p>见照片：</p><img src="cid:photo1@example.cn">\r\n'
        "--REL\r\nContent-Type: image/png; name=photo.png\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-ID: <photo1@example.cn>\r\nContent-Disposition: inline; filename=photo.png\r\n\r\n"
        + b64(PNG)
        + "--REL--\r\n"
    ).encode()
    f["attachment__pdf_chinese_rfc2231.eml"] = (
        head("黄磊 <huang@example.cn>", words("发票", "utf-8"), "<pdf-2231@example.cn>")
        + 'Content-Type: multipart/mixed; boundary="MIX"\r\n\r\n'
        "--MIX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n请看附件发票。\r\n"
        "--MIX\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment;\r\n filename*=UTF-8''%E5%8F%91%E7%A5%A8%E6%89%AB%E6%8F%8F.pdf\r\n\r\n"
        + b64(PDF)
        + "--MIX--\r\n"
    ).encode()
    f["attachment__xlsx_chinese_encoded_word.eml"] = (
        head("郑爽 <zheng@example.cn>", words("配件清单", "gb18030"), "<xlsx-ew@example.cn>")
        + 'Content-Type: multipart/mixed; boundary="MIX"\r\n\r\n'
        "--MIX\r\nContent-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64("配件清单见附件。".encode("gb18030"))
        + "--MIX\r\nContent-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;"
        '\r\n name="=?gb2312?B?'
        + base64.b64encode("配件清单.xlsx".encode("gb18030")).decode()
        + '?="\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment;\r\n'
        ' filename="=?gb2312?B?'
        + base64.b64encode("配件清单.xlsx".encode("gb18030")).decode()
        + '?="\r\n\r\n'
        + b64(XLSX)
        + "--MIX--\r\n"
    ).encode()
    f["attachment__lying_type.eml"] = (
        head("Eve <eve@example.com>", "invoice", "<lying-type@example.com>")
        + 'Content-Type: multipart/mixed; boundary="MIX"\r\n\r\n'
        "--MIX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        "--MIX\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=x.png\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        + b64(b"<html><script>alert(1)</script></html>")
        + "--MIX--\r\n"
    ).encode()
    f["attachment__over_limit.eml"] = (
        head("Big Sender <big@example.com>", "large video", "<over-limit@example.com>")
        + 'Content-Type: multipart/mixed; boundary="MIX"\r\n\r\n'
        "--MIX\r\nContent-Type: text/plain\r\n\r\nvideo of the noise attached\r\n"
        "--MIX\r\nContent-Type: video/mp4\r\nContent-Disposition: attachment; filename=noise.mp4\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        + b64(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * (300 * 1024))
        + "--MIX--\r\n"
    ).encode()
    f["forwarded__message.eml"] = (
        head("Store Manager <manager@shop.example>", "Fwd: broken washer", "<fwd@shop.example>")
        + 'Content-Type: multipart/mixed; boundary="MIX"\r\n\r\n'
        "--MIX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Customer complaint below, please handle.\r\n\r\n---------- Forwarded message ---------\r\n"
        "From: Customer <cust@example.org>\r\nDate: Sun, Nov 29, 2026\r\nSubject: broken washer\r\n"
        "To: <manager@shop.example>\r\n\r\nMy washer is broken.\r\n"
        "--MIX\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: Customer <cust@example.org>\r\nSubject: broken washer\r\n"
        "Message-ID: <orig-cust@example.org>\r\n\r\nMy washer is broken.\r\n"
        "--MIX--\r\n"
    ).encode()
    f["cc__participants.eml"] = text_mail(
        "Boss <boss@corp.example>",
        "Office AC broken",
        "<cc-participants@corp.example>",
        "The office AC is broken; my assistant is on CC.",
        extra="Cc: Assistant <assistant@corp.example>, facilities@corp.example\r\n",
    )
    f["auto__out_of_office.eml"] = text_mail(
        "Traveller <traveller@example.com>",
        "Automatic reply: [#SB-1001] Leaking unit",
        "<ooo@example.com>",
        "I am out of the office until Monday.",
        extra="Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n",
    )
    f["auto__chinese_subject.eml"] = text_mail(
        "出差 <away@example.cn>",
        words("自动回复：空调维修", "utf-8"),
        "<ooo-zh@example.cn>",
        "我正在休假，回来后回复。",
    )
    f["auto__precedence_bulk.eml"] = text_mail(
        "Newsletter <news@list.example>",
        "Weekly deals",
        "<bulk@list.example>",
        "Our weekly deals.",
        extra="Precedence: bulk\r\nList-Unsubscribe: <mailto:unsub@list.example>\r\n",
    )
    f["bounce__dsn.eml"] = (
        head(
            "Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>",
            "Undelivered Mail Returned to Sender",
            "<dsn-1@mx.example.com>",
            to="service@example.com",
            extra="Auto-Submitted: auto-replied\r\n",
        )
        + 'Content-Type: multipart/report; report-type=delivery-status; boundary="DSN"\r\n\r\n'
        "--DSN\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your "
        "message could not be delivered.\r\n"
        "--DSN\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        "Final-Recipient: rfc822; nobody@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <nobody@customer.example>: Recipient address rejected\r\n"
        "\r\n--DSN\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        "From: Support <service@example.com>\r\nTo: nobody@customer.example\r\n"
        "Subject: [#SB-1001] Your repair\r\n"
        "Message-ID: <sb-0123456789abcdef0123456789abcdef@example.com>\r\n\r\n--DSN--\r\n"
    ).encode()
    f["bounce__mailer_daemon_plain.eml"] = text_mail(
        "MAILER-DAEMON@qq.com",
        "系统退信",
        "<qq-bounce@qq.com>",
        "您发送的邮件无法送达。",
    )
    f["malformed__missing_message_id.eml"] = text_mail(
        "No Id <noid@example.com>", "no message id", None, "There is no Message-ID here."
    )
    f["malformed__bad_date.eml"] = text_mail(
        "Bad Date <baddate@example.com>",
        "bad date",
        "<bad-date@example.com>",
        "Date is garbage.",
        date="Yesterday at noon, probably",
    )
    f["malformed__unclosed_boundary.eml"] = (
        head("Cut Off <cutoff@example.com>", "unclosed", "<unclosed@example.com>")
        + 'Content-Type: multipart/mixed; boundary="NEVERCLOSED"\r\n\r\n'
        "--NEVERCLOSED\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "The body is here but the boundary never closes.\r\n"
    ).encode()
    f["malformed__headers.eml"] = (
        b"From: broken@@example.com, Real Person <real@example.com>\r\n"
        b"To: service@example.com\r\nSubject: =?utf-8?B?5Z2P5o6J55qE?= =?bogus?Q?x?=\r\n"
        b"Message-ID: <malformed-headers@example.com>\r\nDate: 32 Foo 2026 99:99:99\r\n"
        b'Content-Type: text/plain; charset="utf-8\r\nX-Garbage\r\n\r\nbody survives\r\n'
    )
    f["malformed__no_from.eml"] = (
        b"Sender: fallback@example.com\r\nTo: service@example.com\r\nSubject: no from\r\n"
        b"Message-ID: <no-from@example.com>\r\n\r\nwho am I\r\n"
    )
    f["own__address.eml"] = text_mail(
        "Switchboard Support <service@example.com>",
        "[#SB-1001] loop",
        "<own-address@example.com>",
        "Our own mail came back.",
    )
    f["reply__references_only_outlook.eml"] = text_mail(
        "Customer <refs.only@example.org>",
        "RE: Your repair",
        "<refs-only@example.org>",
        "Outlook kept only References.",
        extra="References: <first@example.org> <sb-ffffffffffffffffffffffffffffffff@example.com>\r\n",
    )
    f["reply__signature.eml"] = text_mail(
        "Sig Person <sig@example.org>",
        "Question",
        "<signature@example.org>",
        "Is the warranty still valid?\n\n-- \nSig Person\nACME Corp\n+86 138 0013 8000\n",
    )
    return f


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, data in build().items():
        (HERE / name).write_bytes(data)
    print(f"{len(build())} fixtures in {HERE}")


if __name__ == "__main__":
    main()
