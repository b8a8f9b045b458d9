"""Sign-in, sessions, CSRF, lock-out, language and security headers of the web app,
through the real routes on both backends."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from switchboard import db
from tests.agent_ui.webhelpers import csrf_of, sign_in
from tests.apphelpers import start_api
from tests.conftest import Stack
from tickets.websessions import StaffSession


async def _sessions(url: str) -> int:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(
                (await conn.execute(select(func.count()).select_from(StaffSession))).scalar_one()
            )
    finally:
        await engine.dispose()


async def test_login_page_is_the_front_door(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    page = await api.client.get("/", headers={"Accept-Language": "en-US,en;q=0.8"})
    html = await page.text()
    assert page.status == 200
    assert '<label for="email">Email</label>' in html
    assert '<label for="password">Password</label>' in html
    assert ">Sign in</button>" in html
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"


async def test_chinese_browser_gets_chinese_labels(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    page = await api.client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    html = await page.text()
    assert '<html lang="zh-CN">' in html
    assert ">登录</button>" in html and ">邮箱</label>" in html
    english = await api.client.get("/?lang=en", headers={"Accept-Language": "zh-CN"})
    assert ">Sign in</button>" in await english.text()
    again = await api.client.get("/", headers={"Accept-Language": "zh-CN"})
    assert ">Sign in</button>" in await again.text(), "the chosen language is remembered"


async def test_sign_in_sets_a_safe_cookie_and_logout_ends_the_session(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    client = api.client
    page = await client.get("/")
    token = csrf_of(await page.text())
    response = await client.post(
        "/login",
        data={"email": "agent1@example.com", "password": "demo", "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 302 and response.headers["Location"] == "/agent"
    cookie = response.headers.getall("Set-Cookie")
    session_cookie = next(c for c in cookie if c.startswith("sb_session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Secure" not in session_cookie  # plain http public URL
    assert await _sessions(stack.database_url) == 1
    listed = await client.get("/api/v1/tickets")
    assert listed.status == 200, "the session cookie authenticates the app's API calls"
    value = client.session.cookie_jar.filter_cookies(client.make_url("/"))["sb_session"].value

    account = await client.get("/account")
    csrf = csrf_of(await account.text())
    out = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status == 302
    assert await _sessions(stack.database_url) == 0
    replay = await client.get("/api/v1/tickets", headers={"Cookie": f"sb_session={value}"})
    assert replay.status == 401, "a logged-out cookie is dead server-side"
    back = await client.get(
        "/account", headers={"Cookie": f"sb_session={value}"}, allow_redirects=False
    )
    assert back.status == 302 and back.headers["Location"].startswith("/?next=")


async def test_secure_cookie_on_https(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> None:
    api = await start_api(
        aiohttp_client, stack, redis_prefix, public_url="https://desk.example.com"
    )
    page = await api.client.get("/")
    token = csrf_of(await page.text())
    login_cookie = page.cookies["sb_login_csrf"]
    assert login_cookie["secure"], "an https deployment marks every cookie Secure"
    response = await api.client.post(
        "/login",
        data={"email": "agent1@example.com", "password": "demo", "csrf_token": token},
        headers={"Cookie": f"sb_login_csrf={login_cookie.value}"},
        allow_redirects=False,
    )
    assert response.status == 302, await response.text()
    cookie = next(c for c in response.headers.getall("Set-Cookie") if c.startswith("sb_session="))
    assert "Secure" in cookie


async def test_posts_without_the_csrf_token_are_refused(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    client = api.client
    await client.get("/")
    no_token = await client.post("/login", data={"email": "agent1@example.com", "password": "demo"})
    assert no_token.status == 403
    csrf = await sign_in(client, "agent1@example.com")
    forged = await client.post("/logout", data={})
    assert forged.status == 403
    wrong = await client.post("/logout", data={"csrf_token": "x" * 40})
    assert wrong.status == 403
    htmx = await client.post("/logout", headers={"HX-Request": "true"})
    assert htmx.status == 403
    api_call = await client.post("/api/v1/presence", json={"status": "online"})
    assert api_call.status == 403, "cookie-authenticated API calls need the CSRF header too"
    ok = await client.post(
        "/api/v1/presence", json={"status": "online"}, headers={"X-CSRF-Token": csrf}
    )
    assert ok.status == 200, await ok.text()
    assert await _sessions(stack.database_url) == 1


async def test_lockout_after_repeated_failures(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix, login_failures_per_account=3)
    client = api.client
    token = csrf_of(await (await client.get("/")).text())

    async def attempt(password: str, email: str = "agent1@example.com") -> Any:
        return await client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": token},
            allow_redirects=False,
        )

    for _ in range(3):
        failed = await attempt("wrong")
        assert failed.status == 401
        assert "Wrong email or password." in await failed.text()
    locked = await attempt("demo")
    assert locked.status == 429
    assert "Too many failed sign-ins. Try again in 15 minutes." in await locked.text()
    other = await attempt("demo", "agent2@example.com")
    assert other.status == 302, "another account from the same address still signs in"


async def test_lockout_per_address(aiohttp_client: Any, stack: Stack, redis_prefix: str) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix, login_failures_per_address=4)
    client = api.client
    token = csrf_of(await (await client.get("/")).text())
    for n in range(4):
        await client.post(
            "/login",
            data={"email": f"nobody{n}@example.com", "password": "x", "csrf_token": token},
        )
    locked = await client.post(
        "/login",
        data={"email": "agent1@example.com", "password": "demo", "csrf_token": token},
        allow_redirects=False,
    )
    assert locked.status == 429


async def test_pages_need_a_session_and_next_is_local(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    client = api.client
    away = await client.get("/account", allow_redirects=False)
    assert away.status == 302 and away.headers["Location"] == "/?next=/account"
    htmx = await client.get("/agent", headers={"HX-Request": "true"}, allow_redirects=False)
    assert htmx.status == 401 and htmx.headers["HX-Redirect"] == "/"
    token = csrf_of(await (await client.get("/")).text())
    for hostile in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = await client.post(
            "/login",
            data={
                "email": "agent1@example.com",
                "password": "demo",
                "csrf_token": token,
                "next": hostile,
            },
            allow_redirects=False,
        )
        assert response.status == 302 and response.headers["Location"] == "/agent"
        client.session.cookie_jar.clear()
        token = csrf_of(await (await client.get("/")).text())


async def test_an_admin_ends_a_session_from_the_command_line(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    from tests.switchboard.test_cli import run

    api = await start_api(aiohttp_client, stack, redis_prefix)
    await sign_in(api.client, "agent1@example.com")
    env = {"SWITCHBOARD_DATABASE_URL": stack.database_url}
    code, out, err = await run("session", "list", "agent1@example.com", env=env)
    assert code == 0, err
    header, row = out.strip().splitlines()
    assert header.split()[:3] == ["ID", "SIGNED", "IN"]
    session_id = row.split()[0]
    code, out, err = await run("session", "end", session_id, env=env)
    assert code == 0 and f"web session {session_id} ended" in out, err
    gone = await api.client.get("/account", allow_redirects=False)
    assert gone.status == 302, "the browser is signed out at once"
    code, _, err = await run("session", "end", session_id, env=env)
    assert code == 2 and "no web session" in err

    await sign_in(api.client, "agent1@example.com")
    code, out, err = await run("session", "end-all", "agent1@example.com", env=env)
    assert code == 0 and "1 web session(s)" in out, err
    assert (await api.client.get("/account", allow_redirects=False)).status == 302


async def test_account_page_lists_sessions_and_ends_others(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    other = await aiohttp_client(api.client.server)
    await sign_in(other, "agent1@example.com")
    csrf = await sign_in(api.client, "agent1@example.com")
    page = await (await api.client.get("/account")).text()
    assert page.count('/end"') == 1, "one other session to end, this one is marked"
    ended = await api.client.post(
        "/account/sessions/end-others", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert ended.status == 303
    assert (await other.get("/account", allow_redirects=False)).status == 302
    assert (await api.client.get("/account", allow_redirects=False)).status == 200
    await sign_in(other, "agent2@example.com")
    page2 = await (await other.get("/account")).text()
    assert "agent1@example.com" not in page2
    foreign = await api.client.post(
        "/account/sessions/99999/end", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert foreign.status == 404


async def test_language_time_zone_and_password_from_the_account_page(
    aiohttp_client: Any, stack: Stack, redis_prefix: str
) -> None:
    api = await start_api(aiohttp_client, stack, redis_prefix)
    other = await aiohttp_client(api.client.server)
    await sign_in(other, "agent1@example.com")
    csrf = await sign_in(api.client, "agent1@example.com")
    client = api.client
    saved = await client.post(
        "/account/preferences",
        data={"csrf_token": csrf, "locale": "zh_CN", "time_zone": "Europe/Berlin"},
        allow_redirects=False,
    )
    assert saved.status == 303
    page = await (await client.get("/account", headers={"Accept-Language": "en"})).text()
    assert "修改密码" in page, "the user's language wins over the browser's"
    assert '<option value="Europe/Berlin" selected>' in page
    bad_zone = await client.post(
        "/account/preferences", data={"csrf_token": csrf, "time_zone": "Mars/Base"}
    )
    assert bad_zone.status == 400 and "未知的时区" in await bad_zone.text()

    wrong = await client.post(
        "/account/password",
        data={"csrf_token": csrf, "old": "nope", "new": "longenough1", "repeat": "longenough1"},
    )
    assert wrong.status == 403 and "当前密码错误" in await wrong.text()
    short = await client.post(
        "/account/password",
        data={"csrf_token": csrf, "old": "demo", "new": "short", "repeat": "short"},
    )
    assert short.status == 400
    assert (await other.get("/account", allow_redirects=False)).status == 200
    changed = await client.post(
        "/account/password",
        data={"csrf_token": csrf, "old": "demo", "new": "longenough1", "repeat": "longenough1"},
        allow_redirects=False,
    )
    assert changed.status == 303
    assert (await other.get("/account", allow_redirects=False)).status == 302, (
        "a password change signs every other browser out at once"
    )
    assert (await client.get("/account", allow_redirects=False)).status == 200
    fresh = await aiohttp_client(api.client.server)
    await sign_in(fresh, "agent1@example.com", "longenough1")
