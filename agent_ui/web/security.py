"""Headers that keep what customers wrote inert in staff browsers.

Every HTML page gets a Content-Security-Policy without ``'unsafe-inline'`` or
``'unsafe-eval'`` for scripts (so an injected ``<script>`` or ``onerror=`` cannot run even
if escaping ever failed) and no inline styles; frames only from our own origin (the
sandboxed email view); no framing of our pages by others; no MIME sniffing. A page that
sets its own policy (the customer chat, which is embedded by shops) keeps it.
"""

from __future__ import annotations

from aiohttp import web

from agent_ui.http import Handler

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self' ws: wss:",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/chat"):
        return await handler(request)  # embedded by shops: the chat sets its own policy
    try:
        response = await handler(request)
    except web.HTTPException as err:
        _apply(err)
        raise
    _apply(response)
    return response


def _apply(response: web.StreamResponse) -> None:
    if response.prepared:
        return
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if (response.content_type or "").startswith("text/html"):
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Frame-Options", "DENY")
