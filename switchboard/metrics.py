"""Prometheus metrics: HTTP traffic (by route template, never by raw path), domain
events seen on the bus, outbox outcomes and open chat sockets. One registry per app."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from tickets import Event


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
