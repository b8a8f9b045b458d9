"""Files from the customer's chat: upload through the real route, the sniffed type, the
size limit, the visitor's own file URL, and the staff download with its visibility."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from channels.attachments import safe_name, sniff
from switchboard.blobs import FileBlobStore
from tests.apphelpers import Api, start_api
from tests.channels.chat import PNG, next_frame, opened, origin, send_message, upload
from tests.conftest import Stack


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str, tmp_path: Path) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix, blob_dir=str(tmp_path / "blobs"))


async def test_an_uploaded_image_reaches_the_ticket_and_the_visitors_own_chat(
    api: Api, tmp_path: Path
) -> None:
    ws, key = await opened(api)
    assert (await send_message(ws, "洗衣机漏水，看照片", "t1"))["type"] == "ack"
    # The declared type and the path in the name are lies; the bytes say PNG.
    response = await upload(
        api,
        key,
        PNG,
        filename="../../漏水.html",
        content_type="text/html",
        client_id="u1",
        text="这里漏水",
    )
    assert response.status == 201, await response.text()
    body = await response.json()
    (sent,) = body["attachments"]
    assert sent["content_type"] == "image/png" and sent["name"] == "漏水.html"
    echo = await next_frame(ws, "message")
    while echo.get("client_id") != "u1":
        echo = await next_frame(ws, "message")
    assert echo["direction"] == "in" and echo["attachments"][0]["url"] == sent["url"]

    detail = await api.get(f"/api/v1/tickets/{body['ticket']}", who="agent1@example.com")
    last = detail["messages"][-1]
    assert last["text"] == "这里漏水" and last["id"] == body["id"]
    assert last["attachments"] == [
        {"id": sent["id"], "name": "漏水.html", "content_type": "image/png", "size": len(PNG)}
    ]

    own = await api.client.get(sent["url"])
    assert own.status == 200 and await own.read() == PNG
    assert own.headers["Content-Type"] == "image/png"
    assert own.headers["X-Content-Type-Options"] == "nosniff"
    assert own.headers["Content-Disposition"].startswith("inline")
    assert "sandbox" in own.headers["Content-Security-Policy"]
    forged = sent["url"][:-1] + ("0" if sent["url"][-1] != "0" else "1")
    assert (await api.client.get(forged)).status == 404
    other_ws, other_key = await opened(api)
    other_token = other_key.rpartition(".")[0]  # a real visitor, but not the owner
    assert (await api.client.get(f"/chat/files/{sent['id']}?t={other_token}.x")).status == 404

    staff = await api.client.get(
        f"/api/v1/attachments/{sent['id']}", headers=api.as_("agent1@example.com")
    )
    assert staff.status == 200 and await staff.read() == PNG
    assert staff.headers["Content-Type"] == "image/png"
    assert staff.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E6%BC%8F%E6%B0%B4.html" in staff.headers["Content-Disposition"]
    assert staff.headers["X-Content-Type-Options"] == "nosniff"
    foreign = await api.client.get(
        f"/api/v1/attachments/{sent['id']}", headers=api.as_("agent3@example.com")
    )
    assert foreign.status == 404  # agent3 works Orders only: the ticket is not theirs
    assert (
        await api.client.get("/api/v1/attachments/999999", headers=api.as_("admin@example.com"))
    ).status == 404
    await ws.close()
    await other_ws.close()


async def test_unknown_bytes_are_octet_stream_served_as_a_download_and_stored_once(
    api: Api, tmp_path: Path
) -> None:
    ws, key = await opened(api)
    page = b"<html><script>alert(1)</script></html>"
    first = await (await upload(api, key, page, "a.html", "text/html")).json()
    second = await (await upload(api, key, page, "b.html", "text/html")).json()
    assert first["attachments"][0]["content_type"] == "application/octet-stream"
    url = second["attachments"][0]["url"]
    served = await api.client.get(url)
    assert served.headers["Content-Type"] == "application/octet-stream"
    assert served.headers["Content-Disposition"].startswith("attachment;")
    blobs = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1  # content-addressed: the same bytes are kept once
    photo = b"\xff\xd8\xff\xe0" + b"\0" * (3 * 1024 * 1024)  # past the 1 MB JSON body limit
    big = await upload(api, key, photo, "IMG_0001.JPG", "application/octet-stream")
    assert big.status == 201, await big.text()
    assert (await big.json())["attachments"][0]["content_type"] == "image/jpeg"
    await ws.close()


async def test_uploads_are_refused_too_large_without_a_visitor_and_from_other_sites(
    aiohttp_client: Any, stack: Stack, redis_prefix: str, tmp_path: Path
) -> None:
    api = await start_api(
        aiohttp_client,
        stack,
        redis_prefix,
        blob_dir=str(tmp_path / "blobs"),
        attachment_max_bytes=1000,
    )
    ws, key = await opened(api)
    big = await upload(api, key, PNG + b"\0" * 2000)
    assert big.status == 413
    assert (await big.json())["error"]["code"] == "too_large"
    assert "larger than" in (await big.json())["error"]["message"]
    api.client.session.cookie_jar.clear()
    nobody = await upload(api, None, PNG)
    assert nobody.status == 401
    forged = await upload(api, "v_0123.deadbeef", PNG)
    assert forged.status == 401
    elsewhere = await upload(api, key, PNG, headers={"Origin": "https://evil.example"})
    assert elsewhere.status == 403
    empty = await upload(api, key, b"")
    assert empty.status == 400 and (await empty.json())["error"]["code"] == "empty_file"
    assert (await api.get("/api/v1/tickets"))["tickets"] == []
    ok = await upload(api, key, PNG, headers={"Origin": origin(api)})
    assert ok.status == 201
    await ws.close()


async def test_the_blob_store_names_files_by_content_and_nothing_else(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    ref = await store.put(PNG, "image/png")
    assert ref.startswith("sha256:") and await store.put(PNG, "image/png") == ref
    assert await store.open(ref) == PNG
    (tmp_path / "secret").write_text("x")
    for bad in ("../secret", "sha256:../../secret", "sha256:" + "A" * 64, ref + "/..", ""):
        with pytest.raises(KeyError):
            await store.open(bad)
    with pytest.raises(KeyError):
        await store.open("sha256:" + "0" * 64)


def test_sniffing_reads_magic_numbers_and_names_lose_their_paths() -> None:
    assert sniff(PNG) == "image/png"
    assert sniff(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert sniff(b"GIF89a...") == "image/gif"
    assert sniff(b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"
    assert sniff(b"%PDF-1.7") == "application/pdf"
    assert sniff(b"<svg onload=alert(1)>") == "application/octet-stream"
    assert safe_name("C:\\x\\..\\报告\x00.pdf", "application/pdf") == "报告.pdf"
    assert safe_name('"/etc/"', "image/png") == "image.png"


async def test_an_agents_file_reaches_the_visitors_chat_as_their_own_link(api: Api) -> None:
    ws, _key = await opened(api)
    ticket = (await send_message(ws, "有说明书吗？", "t1"))["ticket"]
    form = aiohttp.FormData()
    form.add_field("file", PNG, filename="接线图.png", content_type="image/png")
    made = await api.client.post(
        "/api/v1/uploads", data=form, headers=api.as_("supervisor@example.com")
    )
    assert made.status == 201, await made.text()
    token = (await made.json())["token"]
    await api.send(
        "POST",
        f"/api/v1/tickets/{ticket}/replies",
        {"text": "请看接线图", "attachments": [token]},
        status=201,
    )
    pushed = await next_frame(ws, "message")
    while pushed["direction"] != "out":
        pushed = await next_frame(ws, "message")
    (file,) = pushed["attachments"]
    assert file["name"] == "接线图.png" and file["content_type"] == "image/png"
    own = await api.client.get(file["url"])
    assert own.status == 200 and await own.read() == PNG
    forged = file["url"][:-1] + ("0" if file["url"][-1] != "0" else "1")
    assert (await api.client.get(forged)).status in (403, 404)
    await ws.close()
