"""Signing in to the web app from an aiohttp test client, as a browser would."""

from __future__ import annotations

import re
from typing import Any

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, "the page has no csrf_token field"
    return found.group(1)


async def sign_in(client: Any, email: str, password: str = "demo") -> str:
    """Signs in; returns the session's CSRF token (read from the page it lands on)."""
    page = await client.get("/")
    token = csrf_of(await page.text())
    response = await client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/account"},
        allow_redirects=False,
    )
    assert response.status == 302, await response.text()
    landed = await client.get("/account")
    assert landed.status == 200, await landed.text()
    return csrf_of(await landed.text())
