"""Prometheus metrics: HTTP traffic (by route template, never by raw path), domain
events seen on the bus, outbox outcomes and open chat sockets. One registry per app.

Who may read ``/metrics`` (queue sizes, traffic and error rates are not for the public):
- ``SWITCHBOARD_METRICS_LISTEN=host:port``: ``/metrics`` moves to a listener of its own
  that serves nothing else (bind it to an internal interface for Prometheus); the main
  port answers 404 for it.
- ``SWITCHBOARD_METRICS_TOKEN``: ``/metrics`` needs ``Authorization: Bearer <token>``
  (Prometheus' ``authorization`` / ``bearer_token`` scrape setting), on whichever listener
  serves it.
- neither: only clients on this host may read it (a loopback peer whose request carries
  no ``Forwarded``/``X-Forwarded-For``/``X-Real-IP``, so a reverse proxy on the same host
  does not make the Internet local). A Prometheus on another host therefore needs the
  token or the separate listener, which is what an operator configures anyway; a demo or a
  laptop keeps ``curl localhost:8080/metrics`` working with no setup.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from switchboard.settings import SettingsError
from tickets import Event

FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "switchboard_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "switchboard_http_request_seconds",
            "HTTP request latency",
            ["route"],
            registry=self.registry,
        )
        self.events = Counter(
            "switchboard_events_total", "Domain events published", ["type"], registry=self.registry
        )
        self.outbox = Counter(
            "switchboard_outbox_sends_total",
            "Outbox send attempts",
            ["channel", "result"],
            registry=self.registry,
        )
        self.chat_sockets = Gauge(
            "switchboard_webchat_sockets", "Open web chat sockets", registry=self.registry
        )

    async def on_event(self, event: Event) -> None:
        self.events.labels(event.type_name).inc()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        start = time.perf_counter()
        status = 500
        try:
            response: web.StreamResponse = await handler(request)
            status = response.status
            return response
        except web.HTTPException as err:
            status = err.status
            raise
        finally:
            self.requests.labels(request.method, route, str(status)).inc()
            self.latency.labels(route).observe(time.perf_counter() - start)

    def render(self) -> web.Response:
        response = web.Response(body=generate_latest(self.registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        response.charset = "utf-8"
        return response


def check_access(request: web.Request, token: str | None) -> None:
    """Raises 401 (token set, wrong or missing) or 403 (no token set, not a local
    client); see the module docstring."""
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise web.HTTPUnauthorized(
                text="metrics need Authorization: Bearer <SWITCHBOARD_METRICS_TOKEN>\n",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return
    if not _is_local(request):
        raise web.HTTPForbidden(
            text="metrics are served to this host only; set SWITCHBOARD_METRICS_TOKEN or "
            "SWITCHBOARD_METRICS_LISTEN to scrape from elsewhere\n"
        )


def _is_local(request: web.Request) -> bool:
    if any(h in request.headers for h in FORWARDING_HEADERS) or request.remote is None:
        return False
    try:
        return ipaddress.ip_address(request.remote).is_loopback
    except ValueError:
        return False


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``."""
    host, sep, port = listen.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise SettingsError(f"SWITCHBOARD_METRICS_LISTEN: expected host:port, got {listen!r}")
    return host, int(port)


async def start_listener(
    listen: str, token: str | None, render: Callable[[], web.Response]
) -> web.AppRunner:
    """A listener serving only ``GET /metrics``; the caller cleans the runner up."""
    host, port = parse_listen(listen)

    async def view(request: web.Request) -> web.Response:
        if token:
            check_access(request, token)
        return render()

    app = web.Application()
    app.router.add_get("/metrics", view)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as err:
        await runner.cleanup()
        raise SettingsError(
            f"cannot listen on SWITCHBOARD_METRICS_LISTEN {listen}: {err.strerror}"
        ) from err
    return runner
