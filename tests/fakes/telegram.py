"""A local Telegram Bot API server for tests: the methods Switchboard calls, on the real
paths (``POST /bot{token}/{method}``, files at ``GET /file/bot{token}/{path}``), with the
documented envelopes: ``{"ok": true, "result": ...}`` and, on failure,
``{"ok": false, "error_code": N, "description": "...", "parameters": {"retry_after": N}}``.

Parameters arrive as the SDK sends them (form fields, multipart for uploads, or JSON);
nested objects such as ``reply_parameters`` are JSON strings in a form. A test sets the
world up (``files``, ``blocked``, ``unknown_chats``, ``fail_next``, ``push_update``) and
reads what was called (``calls``, ``sent``)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 7000000001
BOT_USERNAME = "switchboard_test_bot"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    skip: int = 0
    """Calls of the method that succeed before this failure."""


def error_body(status: int, description: str, retry_after: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


class FakeBotApi:
    def __init__(self, token: str) -> None:
        self.token = token
        self.port = 0
        self.calls: list[Call] = []
        self.files: dict[str, tuple[str, bytes]] = {}
        """file_id -> (file_path, bytes) for getFile and the download."""
        self.declared_sizes: dict[str, int] = {}
        self.blocked: set[int] = set()
        self.unknown_chats: set[int] = set()
        self.failures: dict[str, list[Failure]] = defaultdict(list)
        self.webhook: dict[str, Any] = {}
        self.updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._ids = itertools.count(100)
        self._runner: web.AppRunner | None = None

    # -- test set-up -----------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_file(self, file_id: str, data: bytes, path: str, declared: int | None = None) -> None:
        self.files[file_id] = (path, data)
        if declared is not None:
            self.declared_sizes[file_id] = declared

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        retry_after: int | None = None,
        *,
        skip: int = 0,
    ) -> None:
        self.failures[method].append(Failure(status, description, retry_after, skip))

    def push_update(self, update: dict[str, Any]) -> None:
        self.updates.append(update)
        self._new_update.set()

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    # -- server ------------------------------------------------------------------------

    async def start(self) -> FakeBotApi:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.AbstractServer)
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def close(self) -> None:
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, tuple[str, bytes]] = {}
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.method == "POST":
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = (value.filename, value.file.read())
                else:
                    params[key] = value
        for key, value in list(params.items()):  # "attach://name": a part of the upload
            if isinstance(value, str) and value.startswith("attach://"):
                files[key] = files.pop(value.removeprefix("attach://"))
                del params[key]
        for key in ("reply_parameters", "allowed_updates", "reply_markup"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params, files

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(error_body(401, "Unauthorized"), status=401)
        method = request.match_info["method"]
        params, files = await self._params(request)
        self.calls.append(Call(method, params, files))
        pending = self.failures.get(method)
        if pending and pending[0].skip > 0:
            pending[0].skip -= 1
        elif pending:
            failure = pending.pop(0)
            return web.json_response(
                error_body(failure.status, failure.description, failure.retry_after),
                status=failure.status,
            )
        handler = getattr(self, "_m_" + method, None)
        if handler is None:
            return web.json_response(error_body(404, "Not Found"), status=404)
        try:
            result = await handler(params, files)
        except _ApiError as err:
            return web.json_response(error_body(err.status, err.description), status=err.status)
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        for file_path, data in self.files.values():
            if file_path == path:
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404)

    # -- methods -----------------------------------------------------------------------

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Switchboard",
            "username": BOT_USERNAME,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _chat(self, params: dict[str, Any]) -> int:
        try:
            chat_id = int(params["chat_id"])
        except (KeyError, ValueError):
            raise _ApiError(400, "Bad Request: chat_id is empty") from None
        if chat_id in self.blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.unknown_chats:
            raise _ApiError(400, "Bad Request: chat not found")
        return chat_id

    def _message(self, chat_id: int, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._ids),
            "from": self._bot_user(),
            "chat": {"id": chat_id, "first_name": "Customer", "type": "private"},
            "date": int(time.time()),
            **content,
        }

    async def _m_getMe(self, params: dict[str, Any], files: Any) -> Any:
        return self._bot_user()

    async def _m_sendMessage(self, params: dict[str, Any], files: Any) -> Any:
        chat_id = self._chat(params)
        text = str(params.get("text", ""))
        if not text:
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        return self._message(chat_id, text=text, **({"reply_markup": markup} if markup else {}))

    async def _m_answerCallbackQuery(self, params: dict[str, Any], files: Any) -> Any:
        if not params.get("callback_query_id"):
            raise _ApiError(400, "Bad Request: query is too old and response timeout expired")
        return True

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any], files: Any) -> Any:
        chat_id = self._chat(params)
        if not params.get("message_id"):
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        return self._message(chat_id, text="", message_id=int(params["message_id"]))

    async def _m_sendPhoto(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat_id = self._chat(params)
        if "photo" not in files and "photo" not in params:
            raise _ApiError(400, "Bad Request: there is no photo in the request")
        size = len(files["photo"][1]) if "photo" in files else 0
        photo = [
            {"file_id": "sent-photo", "file_unique_id": "sp", "width": 90, "height": 90},
            {"file_id": "sent-photo-big", "file_unique_id": "spb", "width": 800, "height": 800},
        ]
        return self._message(chat_id, photo=photo, caption=params.get("caption"), size=size)

    async def _m_sendDocument(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat_id = self._chat(params)
        if "document" not in files and "document" not in params:
            raise _ApiError(400, "Bad Request: there is no document in the request")
        name, data = files.get("document", ("file", b""))
        document = {
            "file_id": "sent-doc",
            "file_unique_id": "sd",
            "file_name": name,
            "file_size": len(data),
        }
        return self._message(chat_id, document=document)

    async def _m_getFile(self, params: dict[str, Any], files: Any) -> Any:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            raise _ApiError(400, "Bad Request: invalid file_id")
        path, data = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": self.declared_sizes.get(file_id, len(data)),
            "file_path": path,
        }

    async def _m_setWebhook(self, params: dict[str, Any], files: Any) -> Any:
        url = str(params.get("url", ""))
        if url and not url.startswith("https://"):
            raise _ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        self.webhook = {
            "url": url,
            "secret_token": params.get("secret_token"),
            "allowed_updates": params.get("allowed_updates"),
        }
        return True

    async def _m_deleteWebhook(self, params: dict[str, Any], files: Any) -> Any:
        self.webhook = {}
        return True

    async def _m_getWebhookInfo(self, params: dict[str, Any], files: Any) -> Any:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
            "allowed_updates": self.webhook.get("allowed_updates") or [],
        }

    async def _m_getUpdates(self, params: dict[str, Any], files: Any) -> Any:
        if self.webhook.get("url"):
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        # Like Telegram: an offset confirms every update before it.
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates:
            self._new_update.clear()
            timeout = float(params.get("timeout") or 0)
            if timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_update.wait(), min(timeout, 5.0))
        limit = int(params.get("limit") or 100)
        return self.updates[:limit]


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
