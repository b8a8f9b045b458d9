"""Hostile input never answers 5xx: every API route, on both stacks, is fired with the
requests a hostile user would try (JSON nested past the recursion limit, non-ASCII and
64-bit-overflowing numbers, NUL and lone surrogates, wrong JSON types in every field,
silly limits and cursors) and must answer a 4xx with the JSON error shape.

Each test collects every offending request and reports them together, so one run shows
the whole class instead of the first case."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import inbound
from tickets.contracts import Channel

NUL = "\x00"
SURROGATE = "\ud800"
DEEP = "[" * 100_000 + "]" * 100_000
DEEP_IN_FIELD = '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}"

# Path segments as a client would send them (percent-encoded where a URL needs it).
BAD_NUMBERS = [
    "SB-%C2%B2",  # SB-²
    "SB-%E2%91%A0",  # SB-①
    "SB-%D9%A3%D9%A3%D9%A3%D9%A3",  # SB-٣٣٣٣
    "SB-99999999999999999999999",
    "SB-9223372036854775808",
    "SB-9223372036854775807",
    "SB-0",
    "SB--5",
    "SB-1e9999",
    "SB-%00",
    "SB-%ED%A0%80",
    "SB-" + "9" * 5000,
    "%F0%9F%98%80",
]
BAD_IDS = [
    "1e9999",
    "%D9%A3",  # ٣
    "%C2%B2",
    "99999999999999999999",
    "9223372036854775808",
    "9223372036854775807",
    "-1",
    "0",
    "%00",
    "%ED%A0%80",
    "1.5",
]
# Query values: raw strings (the client percent-encodes them) plus pre-encoded oddities.
BAD_QUERY_VALUES = [NUL, "a\x00b", "x" * 2_000, "%", "\\", "'; DROP TABLE tickets; --", "②"]
BAD_LIMITS = ["-1", "0", "201", "99999999999999999999", "1e9", "٣", "²", "1.5", "", " 5", "abc"]
BAD_CURSORS = ["garbage", "SB-²", "SB-①", "SB-99999999999999999999999", "-1", "SB-0", NUL]
WRONG_TYPES: list[Any] = [
    1,
    1.5,
    True,
    None,
    [],
    {},
    [1],
    {"a": 1},
    "x",
    "",
    NUL,
    SURROGATE,
    "a" * 30_000,
    10**30,
]


@dataclass(frozen=True)
class Hostile:
    method: str
    path: str
    body: bytes | None = None
    query: dict[str, str] | None = None
    raw_query: str | None = None

    def url(self) -> str:
        return self.path + (f"?{self.raw_query}" if self.raw_query is not None else "")


def encode(value: Any) -> bytes:
    """JSON as a hostile client writes it: a lone surrogate goes out as ``\\ud800``."""
    return json.dumps(value, ensure_ascii=True).encode()


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix)


async def fire(api: Api, requests: Iterator[Hostile], who: str) -> list[str]:
    """Sends every request; returns a line for each one that broke the contract."""
    broken: list[str] = []
    for r in requests:
        headers = {**api.as_(who), "Content-Type": "application/json"}
        response = await api.client.request(
            r.method, r.url(), data=r.body, params=r.query, headers=headers
        )
        raw = await response.read()
        where = f"{r.method} {r.url()[:120]} {r.query or ''} {(r.body or b'')[:60]!r}"
        if response.status >= 500:
            broken.append(f"{response.status} {where}: {raw[:200]!r}")
            continue
        if response.status >= 400:
            try:
                error = json.loads(raw)["error"]
                assert isinstance(error["code"], str) and isinstance(error["message"], str)
            except (ValueError, KeyError, TypeError, AssertionError):
                broken.append(f"{response.status} without the error shape {where}: {raw[:200]!r}")
    return broken


async def world(api: Api) -> tuple[str, str, int]:
    sms = await api.runtime.desk.ingest(inbound("+8613800138000", "空调不制冷"))
    chat = await api.runtime.desk.ingest(
        inbound("v_hostile", "你好", channel=Channel.WEBCHAT, display_name="访客")
    )
    return sms.number, chat.number, sms.customer_id


def body_routes(number: str, customer: int) -> list[tuple[str, str, list[str]]]:
    return [
        ("PATCH", f"/api/v1/tickets/{number}", ["status", "priority", "assignee", "queue", "tags"]),
        ("POST", f"/api/v1/tickets/{number}/replies", ["text", "channel"]),
        ("POST", f"/api/v1/tickets/{number}/notes", ["text"]),
        ("POST", f"/api/v1/customers/{customer}/merge", ["merge"]),
        ("POST", "/api/v1/presence", ["status"]),
        ("POST", "/api/v1/agents/agent1@example.com/presence", ["status"]),
    ]


def path_templates() -> list[tuple[str, str, str]]:
    """(method, path with ``{}`` for the hostile segment, which kind of segment)."""
    return [
        ("GET", "/api/v1/tickets/{}", "number"),
        ("PATCH", "/api/v1/tickets/{}", "number"),
        ("POST", "/api/v1/tickets/{}/replies", "number"),
        ("POST", "/api/v1/tickets/{}/notes", "number"),
        ("POST", "/api/v1/tickets/{}/typing", "number"),
        ("GET", "/api/v1/customers/{}", "id"),
        ("POST", "/api/v1/customers/{}/merge", "id"),
        ("POST", "/api/v1/offers/{}/accept", "id"),
        ("POST", "/api/v1/offers/{}/reject", "id"),
        ("POST", "/api/v1/agents/{}/presence", "id"),
    ]


def good_body(method: str, path: str) -> bytes | None:
    if path.endswith(("/replies", "/notes")):
        return encode({"text": "hello"})
    if path.endswith("/merge"):
        return encode({"merge": 1})
    if path.endswith("/presence"):
        return encode({"status": "online"})
    return encode({"priority": "high"}) if method == "PATCH" else None


async def test_bodies_never_5xx(api: Api) -> None:
    number, _chat, customer = await world(api)

    def requests() -> Iterator[Hostile]:
        for method, path, fields in body_routes(number, customer):
            for raw in (DEEP.encode(), DEEP_IN_FIELD.encode(), b"", b"null", b"[]", b"1e99999"):
                yield Hostile(method, path, raw)
            yield Hostile(method, path, b'{"text": "\\ud800", "\\u0000": 1}')
            yield Hostile(method, path, b"\xff\xfe")
            yield Hostile(method, path, encode({SURROGATE: 1}))
            for field in fields:
                for value in WRONG_TYPES:
                    yield Hostile(method, path, encode({field: value}))
                yield Hostile(method, path, encode({field: ["a", NUL]}))
                yield Hostile(method, path, encode({field: [SURROGATE]}))
                yield Hostile(method, path, encode({field: {"x": [[[[[]]]]]}}))

    assert await fire(api, requests(), "supervisor@example.com") == []
    assert await fire(api, requests(), "agent1@example.com") == []


async def test_paths_never_5xx(api: Api) -> None:
    await world(api)

    def requests() -> Iterator[Hostile]:
        for method, template, kind in path_templates():
            for segment in BAD_NUMBERS if kind == "number" else BAD_IDS:
                path = template.format(segment)
                yield Hostile(method, path, good_body(method, path))

    assert await fire(api, requests(), "supervisor@example.com") == []
    assert await fire(api, requests(), "agent3@example.com") == []


async def test_queries_never_5xx(api: Api) -> None:
    await world(api)

    def requests() -> Iterator[Hostile]:
        path = "/api/v1/tickets"
        for name in ("status", "queue", "assignee", "q", "cursor", "limit"):
            for value in BAD_QUERY_VALUES:
                yield Hostile("GET", path, query={name: value})
            yield Hostile("GET", path, raw_query=f"{name}=%ED%A0%80")
            yield Hostile("GET", path, raw_query=f"{name}=%FF")
            yield Hostile("GET", path, raw_query=f"{name}=a%00b")
        for value in BAD_LIMITS:
            yield Hostile("GET", path, query={"limit": value})
        for value in BAD_CURSORS:
            yield Hostile("GET", path, query={"cursor": value})
        yield Hostile("GET", path, raw_query="limit=1&limit=2&cursor=a&cursor=b")

    assert await fire(api, requests(), "supervisor@example.com") == []
    assert await fire(api, requests(), "agent1@example.com") == []


@pytest.mark.parametrize("text", [NUL, f"a{NUL}b", SURROGATE, f"x{SURROGATE}y"])
async def test_unstorable_text_is_400_on_every_text_field(api: Api, text: str) -> None:
    number, _chat, _customer = await world(api)
    for method, path, body in [
        ("POST", f"/api/v1/tickets/{number}/notes", {"text": text}),
        ("POST", f"/api/v1/tickets/{number}/replies", {"text": text}),
        ("PATCH", f"/api/v1/tickets/{number}", {"tags": ["ok", text]}),
        ("PATCH", f"/api/v1/tickets/{number}", {"queue": text}),
        ("PATCH", f"/api/v1/tickets/{number}", {"assignee": text}),
        ("PATCH", f"/api/v1/tickets/{number}", {"status": text}),
    ]:
        response = await api.client.request(
            method,
            path,
            data=encode(body),
            headers={**api.as_("supervisor@example.com"), "Content-Type": "application/json"},
        )
        assert response.status == 400, (path, body, await response.text())
        assert (await response.json())["error"]["code"] == "invalid"
    if SURROGATE in text:
        return  # a URL cannot carry one (UTF-8 has none); test_queries sends its bytes
    for name in ("q", "status", "queue", "assignee", "cursor", "limit"):
        response = await api.client.get(
            "/api/v1/tickets", params={name: text}, headers=api.as_("supervisor@example.com")
        )
        assert response.status == 400, (name, await response.text())


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tickets/SB-%C2%B2",
        "/api/v1/tickets/SB-%E2%91%A0",
        "/api/v1/tickets/SB-99999999999999999999999",
        "/api/v1/customers/1e9999",
        "/api/v1/customers/%D9%A3",
        "/api/v1/customers/99999999999999999999",
    ],
)
async def test_odd_numbers_and_ids_are_404(api: Api, path: str) -> None:
    await world(api)
    body = await api.get(path, status=404)
    assert body["error"]["code"] == "not_found"


async def test_deep_json_is_400_bad_json(api: Api) -> None:
    number, _chat, _customer = await world(api)
    for raw in (DEEP, DEEP_IN_FIELD):
        response = await api.client.post(
            f"/api/v1/tickets/{number}/notes",
            data=raw.encode(),
            headers={**api.as_("supervisor@example.com"), "Content-Type": "application/json"},
        )
        assert response.status == 400, await response.text()
        assert (await response.json())["error"]["code"] == "bad_json"
