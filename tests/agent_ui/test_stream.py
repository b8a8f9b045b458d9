"""The staff stream (``GET /api/v1/stream``) through its socket: who receives what,
resume after a gap, collision notices, authentication, and presence grace."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient
from aiohttp.web import Request
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.stream import STREAM, Authenticator
from tests.apphelpers import Api, start_api
from tests.conftest import Stack
from tests.helpers import eventually, inbound
from tickets import Channel, Event, StaffUser, authenticate_token, deactivate_user

A1, A2, A3 = "agent1@example.com", "agent2@example.com", "agent3@example.com"
SUP = "supervisor@example.com"
ORDERS_TEXT = "我的订单 SO-2291 什么时候到"


@pytest.fixture
async def api(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> Api:
    return await start_api(aiohttp_client, stack, redis_prefix, presence_grace_s=0.3)


Socket = aiohttp.ClientWebSocketResponse


async def connect(
    client: TestClient,  # type: ignore[type-arg]
    token: str,
    last_id: str | None = None,
) -> Socket:
    path = "/api/v1/stream" + (f"?last_id={last_id}" if last_id else "")
    ws = await client.ws_connect(path, headers={"Authorization": f"Bearer {token}"})
    return ws


async def until(ws: Socket, want: Any, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Frames up to and including the first one ``want`` accepts."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.receive_json()
            seen.append(frame)
            if want(frame):
                return seen


def of_type(kind: str, number: str | None = None) -> Any:
    def want(frame: dict[str, Any]) -> bool:
        if frame.get("type") != kind:
            return False
        return number is None or frame["data"].get("number") == number

    return want


def tickets_in(frames: list[dict[str, Any]]) -> set[str]:
    return {f["data"]["number"] for f in frames if "number" in f.get("data", {})}


async def test_an_agent_sees_only_events_of_her_queues(api: Api) -> None:
    a1 = await connect(api.client, api.tokens[A1])
    a3 = await connect(api.client, api.tokens[A3])
    sup = await connect(api.client, api.tokens[SUP])
    for ws in (a1, a3, sup):
        await until(ws, of_type("hello"))

    repairs = await api.runtime.desk.ingest(inbound("+8613800000001", "我家空调不制冷了"))
    got = await until(a1, of_type("MessageReceived", repairs.number))
    created = next(f for f in got if f["type"] == "TicketCreated")
    assert created["data"]["number"] == repairs.number and created["data"]["queue"] == "Repairs"
    assert isinstance(created["id"], str) and created["id"]
    await until(sup, of_type("MessageReceived", repairs.number))

    orders = await api.runtime.desk.ingest(inbound("+8613800000002", ORDERS_TEXT))
    seen_by_a3 = await until(a3, of_type("MessageReceived", orders.number))
    assert repairs.number not in tickets_in(seen_by_a3)
    assert orders.number in tickets_in(seen_by_a3)
    await until(sup, of_type("MessageReceived", orders.number))

    # A ticket moved into agent3's queue reaches her from then on.
    await api.send("PATCH", f"/api/v1/tickets/{repairs.number}", {"queue": "Orders"})
    moved = await until(a3, of_type("TicketUpdated", repairs.number))
    assert moved[-1]["data"]["changes"] == {"queue": "Orders"}
    await until(a1, of_type("TicketUpdated", repairs.number))  # who lost it learns it went
    for ws in (a1, a3, sup):
        await ws.close()


async def test_offers_reach_only_their_agent(api: Api) -> None:
    a1 = await connect(api.client, api.tokens[A1])
    a2 = await connect(api.client, api.tokens[A2])
    for ws in (a1, a2):
        await until(ws, of_type("hello"))
    await api.send("POST", "/api/v1/presence", {"status": "online"}, who=A1)
    presence = await until(a1, of_type("AgentPresenceChanged"))
    assert presence[-1]["data"]["new"] == "online"
    result = await api.runtime.desk.ingest(
        inbound("v_offer", "我家空调不制冷了", channel=Channel.WEBCHAT)
    )
    offer = (await until(a1, of_type("OfferMade", result.number)))[-1]
    assert offer["data"]["agent_id"] == (await api.get("/api/v1/me", who=A1))["id"]
    # agent2 (same queue) sees the ticket but not agent1's offer or presence.
    seen = await until(a2, of_type("MessageReceived", result.number))
    await a2.send_json({"type": "ping"})
    seen += await until(a2, of_type("pong"))
    assert not {"OfferMade", "AgentPresenceChanged"} & {f["type"] for f in seen}
    for ws in (a1, a2):
        await ws.close()


async def test_a_reconnecting_client_gets_what_it_missed(api: Api) -> None:
    ws = await connect(api.client, api.tokens[A1])
    hello = (await until(ws, of_type("hello")))[-1]
    first = await api.runtime.desk.ingest(inbound("+8613800000003", "空调漏水"))
    last_id = (await until(ws, of_type("MessageReceived", first.number)))[-1]["id"]
    await ws.close()

    missed = await api.runtime.desk.ingest(inbound("+8613800000004", "热水器坏了"))
    await api.runtime.desk.ingest(inbound("+8613800000005", ORDERS_TEXT))  # not agent1's
    again = await connect(api.client, api.tokens[A1], last_id=last_id)
    replayed = await until(again, of_type("hello"))
    kinds = {(f["type"], f["data"].get("number")) for f in replayed}
    assert {("TicketCreated", missed.number), ("MessageReceived", missed.number)} <= kinds
    assert tickets_in(replayed) <= {first.number, missed.number}  # SLA clocks of the first
    assert ("MessageReceived", first.number) not in kinds and replayed[-1]["type"] == "hello"
    assert replayed[-1]["data"]["last_id"] != hello["data"]["last_id"]

    # The resume point of the hello resumes with nothing missing and nothing repeated.
    await again.close()
    later = await connect(api.client, api.tokens[A1], last_id=replayed[-1]["data"]["last_id"])
    repeated = await until(later, of_type("hello"))
    assert not {("TicketCreated", missed.number), ("MessageReceived", missed.number)} & {
        (f["type"], f["data"].get("number")) for f in repeated
    }
    await later.close()


async def test_a_resume_frame_replays_and_an_unknown_id_asks_for_a_reload(api: Api) -> None:
    ws = await connect(api.client, api.tokens[A1])
    start = (await until(ws, of_type("hello")))[-1]["data"]["last_id"]
    result = await api.runtime.desk.ingest(inbound("+8613800000006", "空调不制冷"))
    await until(ws, of_type("MessageReceived", result.number))
    await ws.send_json({"type": "resume", "last_id": start})
    again = await until(ws, of_type("hello"))
    repeated = {(f["type"], f["data"].get("number")) for f in again}
    assert ("MessageReceived", result.number) not in repeated  # sent live already
    await ws.close()

    stale = await connect(api.client, api.tokens[A1], last_id="not-an-id")
    frames = await until(stale, of_type("hello"))
    assert [f["type"] for f in frames] == ["reload", "hello"]
    await stale.close()


async def test_collision_notice_goes_to_others_who_may_see_the_ticket(api: Api) -> None:
    result = await api.runtime.desk.ingest(inbound("+8613800000007", "空调不制冷"))
    a1 = await connect(api.client, api.tokens[A1])
    a2 = await connect(api.client, api.tokens[A2])
    a3 = await connect(api.client, api.tokens[A3])
    for ws in (a1, a2, a3):
        await until(ws, of_type("hello"))
    await a1.send_json({"type": "typing", "ticket": result.number})
    notice = (await until(a2, of_type("Collision")))[-1]["data"]
    assert notice["ticket"] == result.number and notice["action"] == "typing"
    assert notice["name"] == "王芳 Wang Fang"
    for ws in (a1, a3):  # neither the typist nor an agent of another queue gets it
        await ws.send_json({"type": "ping"})
        assert "Collision" not in [f["type"] for f in await until(ws, of_type("pong"))]
    await a3.send_json({"type": "viewing", "ticket": result.number})
    refused = (await until(a3, of_type("error")))[-1]
    assert refused["data"]["code"] == "not_found"
    await a3.send_str("{not json")
    assert (await until(a3, of_type("error")))[-1]["data"]["code"] == "bad_json"
    for ws in (a1, a2, a3):
        await ws.close()


async def test_the_socket_needs_credentials_and_checks_the_origin_of_cookies(api: Api) -> None:
    anonymous = await api.client.get("/api/v1/stream", headers={"Upgrade": "websocket"})
    assert anonymous.status == 401
    assert (await anonymous.json())["error"]["code"] == "unauthenticated"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await api.client.ws_connect(
            "/api/v1/stream", headers={"Authorization": "Bearer sb_not-a-token"}
        )
    assert refused.value.status == 401

    staff = await _staff(api, A1)

    async def cookie(request: Request) -> StaffUser | None:
        return staff if request.cookies.get("test_session") == "ok" else None

    app = api.client.app
    assert app is not None
    app[STREAM].add_authenticator(Authenticator(cookie, browser=True))
    host = f"http://{api.client.server.host}:{api.client.server.port}"
    headers = {"Cookie": "test_session=ok"}
    with pytest.raises(aiohttp.WSServerHandshakeError) as hijack:
        await api.client.ws_connect(
            "/api/v1/stream", headers={**headers, "Origin": "https://evil.example"}
        )
    assert hijack.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as no_origin:
        await api.client.ws_connect("/api/v1/stream", headers=headers)
    assert no_origin.value.status == 403
    ws = await api.client.ws_connect("/api/v1/stream", headers={**headers, "Origin": host})
    assert (await until(ws, of_type("hello")))[-1]["data"]["user"] == A1
    await ws.close()


async def test_a_deactivated_user_is_disconnected(api: Api) -> None:
    ws = await connect(api.client, api.tokens[A3])
    await until(ws, of_type("hello"))

    async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
        await deactivate_user(session, A3, now)
        return None, []

    await api.runtime.desk.write(work)
    async with asyncio.timeout(5):
        while (await ws.receive()).type not in (WSMsgType.CLOSE, WSMsgType.CLOSED):
            pass
    assert ws.close_code == 4401


async def test_closing_the_last_socket_sets_an_online_agent_away_after_the_grace(
    api: Api,
) -> None:
    await api.send("POST", "/api/v1/presence", {"status": "online"}, who=A1)
    await api.send("POST", "/api/v1/presence", {"status": "offline"}, who=A2)
    first = await connect(api.client, api.tokens[A1])
    second = await connect(api.client, api.tokens[A1])
    offline = await connect(api.client, api.tokens[A2])
    for ws in (first, second, offline):
        await until(ws, of_type("hello"))

    async def presence(email: str) -> str:
        agents = {a["email"]: a for a in (await api.get("/api/v1/agents"))["agents"]}
        return str(agents[email]["presence"])

    await first.close()
    await offline.close()
    await asyncio.sleep(0.6)  # past the grace: one socket of agent1 is still open
    assert await presence(A1) == "online"
    await second.close()
    back = await connect(api.client, api.tokens[A1])  # back within the grace
    await until(back, of_type("hello"))
    await asyncio.sleep(0.6)
    assert await presence(A1) == "online"
    await back.close()
    assert await eventually(lambda: _is(presence(A1), "away"))
    assert await presence(A2) == "offline"  # an agent who is offline stays offline


async def _is(value: Any, wanted: str) -> bool:
    return bool(await value == wanted)


async def _staff(api: Api, email: str) -> StaffUser:
    found = await authenticate_token(api.runtime.desk, api.tokens[email])
    assert found is not None
    return found


async def test_the_web_session_cookie_opens_the_socket_and_logout_closes_it(api: Api) -> None:
    from tests.agent_ui.webhelpers import sign_in

    csrf = await sign_in(api.client, A1)
    host = f"http://{api.client.server.host}:{api.client.server.port}"
    with pytest.raises(aiohttp.WSServerHandshakeError) as hijack:
        await api.client.ws_connect("/api/v1/stream", headers={"Origin": "https://evil.example"})
    assert hijack.value.status == 403, "a cookie from another site's page is refused"
    ws = await api.client.ws_connect("/api/v1/stream", headers={"Origin": host})
    assert (await until(ws, of_type("hello")))[-1]["data"]["user"] == A1
    out = await api.client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status == 302
    async with asyncio.timeout(5):
        while (await ws.receive()).type not in (WSMsgType.CLOSE, WSMsgType.CLOSED):
            pass
    with pytest.raises(aiohttp.WSServerHandshakeError) as ended:
        await api.client.ws_connect("/api/v1/stream", headers={"Origin": host})
    assert ended.value.status == 401, "the ended session cannot reconnect"
