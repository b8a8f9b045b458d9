"""Agents send files with their replies (issue 9: "attachments included"): uploaded through
``POST /api/v1/uploads`` and named in the reply, or attached in the workspace composer;
the customer's mail carries them with their Chinese names; a forged, foreign or oversized
upload and files on SMS are refused with the reason. Real SMTP on both sides."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage
from typing import Any

import aiohttp

import tickets
from tests.agent_ui.webhelpers import sign_in
from tests.apphelpers import Api
from tests.channels.email.test_parse import FIXTURES
from tests.channels.email.test_smtp import Sink, api, send_raw, sink  # noqa: F401  (fixtures)
from tests.helpers import eventually, inbound

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
CUSTOMER = "li.ming@example.cn"


async def customer_mail(api: Api) -> str:  # noqa: F811
    mail = EmailMessage()
    mail["From"] = f"李明 <{CUSTOMER}>"
    mail["To"] = "service@example.com"
    mail["Subject"] = "空调不制冷"
    mail["Message-ID"] = "<files-1@example.cn>"
    mail.set_content("空调不制冷，能发一下保修卡吗？")
    response = await send_raw(api, mail.as_bytes(policy=email.policy.SMTP))
    return response.split()[-1]


async def upload(
    api: Api,  # noqa: F811
    data: bytes,
    name: str,
    who: str = "supervisor@example.com",
) -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return await api.client.post("/api/v1/uploads", data=form, headers=api.as_(who))


async def received(sink: Sink, count: int) -> list[EmailMessage]:  # noqa: F811
    async def enough() -> list[EmailMessage] | None:
        mails = [m for _, m in sink.received]
        return mails if len(mails) >= count else None

    found: list[EmailMessage] = await eventually(enough, timeout=15.0)
    return found


def files_of(mail: EmailMessage) -> dict[str, tuple[str, bytes]]:
    out = {}
    for part in mail.iter_attachments():
        assert isinstance(part, EmailMessage)
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        out[str(part.get_filename())] = (part.get_content_type(), payload)
    return out


async def test_an_uploaded_file_goes_out_with_the_reply(api: Api, sink: Sink) -> None:  # noqa: F811
    number = await customer_mail(api)
    made = await upload(api, PDF, "保修卡 说明书.pdf")
    assert made.status == 201, await made.text()
    file = await made.json()
    assert file["name"] == "保修卡 说明书.pdf" and file["size"] == len(PDF)
    assert file["content_type"] == "application/pdf"  # sniffed, not the client's octet-stream

    reply = await api.send(
        "POST",
        f"/api/v1/tickets/{number}/replies",
        {"text": "您好，保修卡见附件。", "attachments": [file["token"]]},
        status=201,
    )
    assert [a["name"] for a in reply["attachments"]] == ["保修卡 说明书.pdf"]
    [mail] = await received(sink, 1)
    assert files_of(mail) == {"保修卡 说明书.pdf": ("application/pdf", PDF)}
    body = mail.get_body(("plain",))
    assert body is not None and "保修卡见附件" in str(body.get_content())

    only_file = await upload(api, PNG, "接线图.png")
    token = (await only_file.json())["token"]
    await api.send(
        "POST", f"/api/v1/tickets/{number}/replies", {"attachments": [token]}, status=201
    )
    second = (await received(sink, 2))[1]
    assert list(files_of(second)) == ["接线图.png"]
    detail = await api.get(f"/api/v1/tickets/{number}")
    outs = [m for m in detail["messages"] if m["direction"] == "out"]
    assert [len(m["attachments"]) for m in outs] == [1, 1]


async def test_uploads_that_are_refused(api: Api) -> None:  # noqa: F811
    number = await customer_mail(api)
    path = f"/api/v1/tickets/{number}/replies"
    token = (await (await upload(api, PDF, "a.pdf")).json())["token"]
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    bad = await api.send("POST", path, {"text": "x", "attachments": [forged]}, status=400)
    assert bad["error"]["code"] == "bad_upload"
    theirs = await api.send(
        "POST", path, {"text": "x", "attachments": [token]}, who="admin@example.com", status=400
    )
    assert "another user" in theirs["error"]["message"]
    await api.send("POST", path, {"text": "x", "attachments": "nope"}, status=400)
    await api.send("POST", path, {}, status=400)  # neither text nor files

    assert api.runtime.email is not None
    too_big = await upload(api, b"x" * (api.runtime.settings.attachment_max_bytes + 1), "big.bin")
    assert too_big.status == 413
    empty = await api.client.post(
        "/api/v1/uploads",
        data=aiohttp.FormData({"text": "no file"}),
        headers=api.as_("supervisor@example.com"),
    )
    assert empty.status == 400
    nobody = await api.client.post("/api/v1/uploads", data=aiohttp.FormData({"file": "x"}))
    assert nobody.status == 401


async def test_files_are_not_sent_by_sms(api: Api) -> None:  # noqa: F811
    made = await api.runtime.desk.ingest(inbound("+8613800138001", "空调不制冷"))

    async def work(session: Any, now: Any) -> tuple[None, list[Any]]:
        staff = await tickets.staff_for_password(session, "supervisor@example.com", "demo")
        assert staff is not None
        ref = tickets.AttachmentRef("a.pdf", "application/pdf", 3, "sha256:abc")
        await tickets.reply(session, staff, made.number, "", now, attachments=[ref])
        return None, []

    try:
        await api.runtime.desk.write(work)
    except tickets.Invalid as err:
        assert "cannot be sent by sms" in str(err)
    else:
        raise AssertionError("files were accepted for SMS")


async def test_the_composer_sends_files_with_the_reply(api: Api, sink: Sink) -> None:  # noqa: F811
    number = await customer_mail(api)
    csrf = await sign_in(api.client, "supervisor@example.com")
    form = aiohttp.FormData()
    form.add_field("text", "请看附件")
    form.add_field("channel", "email")
    form.add_field("files", PDF, filename="发票 2291.pdf", content_type="application/pdf")
    form.add_field("files", PNG, filename="photo.png", content_type="image/png")
    sent = await api.client.post(
        f"/agent/tickets/{number}/messages",
        data=form,
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert sent.status == 200, await sent.text()
    assert "发票 2291.pdf" in await sent.text()  # the timeline shows the files
    [mail] = await received(sink, 1)
    assert sorted(files_of(mail)) == ["photo.png", "发票 2291.pdf"]

    note = aiohttp.FormData()
    note.add_field("text", "内部")
    note.add_field("note", "1")
    note.add_field("files", PDF, filename="x.pdf", content_type="application/pdf")
    refused = await api.client.post(
        f"/agent/tickets/{number}/messages",
        data=note,
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert refused.status == 400 and "cannot carry files" in await refused.text()


async def test_a_malformed_multipart_body_is_a_400_not_a_crash(api: Api) -> None:  # noqa: F811
    body = (
        b'--BB\r\nContent-Disposition: form-data; name="\x1a"\r\n\r\n[]\r\n'
        b'--BB\r\nContent-Disposition: form-data; name="\xf0\xb4\x91\xab"\r\n\r\n1\r\n--BB--\r\n'
    )
    headers = {
        **api.as_("supervisor@example.com"),
        "Content-Type": "multipart/form-data; boundary=BB",
    }
    response = await api.client.post("/api/v1/uploads", data=body, headers=headers)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_form"


async def test_an_inline_image_shows_inside_the_mail(api: Api) -> None:  # noqa: F811
    raw = (FIXTURES / "inline__image.eml").read_bytes()
    number = (await send_raw(api, raw)).split()[-1]
    detail = await api.get(f"/api/v1/tickets/{number}")
    [mail] = detail["messages"]
    assert 'src="cid:photo1@example.cn"' in mail["html"]  # kept inert in storage
    assert mail["email"]["inline"] == {"photo1@example.cn": 0}

    await sign_in(api.client, "supervisor@example.com")
    page = await (await api.client.get(f"/agent/tickets/{number}")).text()
    srcdoc = page.split('class="email-html" sandbox srcdoc="')[1].split('"')[0]
    assert "data:image/png;base64," in srcdoc and "cid:" not in srcdoc
