"""The aiohttp application factory: wires the rooms together and owns every long-lived
resource (engine, Redis, bus, workers) in ``cleanup_ctx`` so start-up and shutdown are
ordered and graceful (workers are cancelled and awaited; sockets closed)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_ui import DESK, api_routes, error_middleware
from agent_ui.api import auth_middleware
from agent_ui.context import ROUTING
from agent_ui.http import Handler
from channels import SenderRegistry
from channels.webchat import VisitorSigner, Webchat
from routing.audit_trail import RoutingAudit
from routing.engine import RoutingEngine
from routing.redis_store import RedisStore
from routing.rules import QueueRules
from routing.store import MemoryStore, RoutingStore
from switchboard import db
from switchboard.bus import EventBus, InProcessBus, RedisBus, RedisClient, redis_client
from switchboard.charsets import install_cjk_aliases
from switchboard.clock import utc_now
from switchboard.dispatcher import OutboxDispatcher
from switchboard.metrics import Metrics
from switchboard.settings import Settings
from tickets import Desk, RetryPolicy, SlaClocks, SystemValue

log = logging.getLogger(__name__)


class MigrationsPending(RuntimeError):
    pass


@dataclass
class Runtime:
    """Everything the app started, for health checks, tests and shutdown."""

    settings: Settings
    engine: AsyncEngine
    bus: EventBus
    desk: Desk
    metrics: Metrics
    senders: SenderRegistry
    webchat: Webchat
    dispatcher: OutboxDispatcher
    routing: RoutingEngine
    sla: SlaClocks
    redis: RedisClient | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


RUNTIME = web.AppKey("runtime", Runtime)
SETTINGS = web.AppKey("settings", Settings)


async def signing_key(sessions: db.SessionFactory, settings: Settings) -> bytes:
    """The configured secret, or one made once and kept in the database so visitor
    cookies survive restarts of a demo or single-node install."""
    if settings.secret_key:
        return settings.secret_key.encode()
    async with db.transaction(sessions) as session:
        found = await session.get(SystemValue, "secret_key")
        if found is not None:
            return found.value.encode()
        value = secrets.token_hex(32)
        session.add(SystemValue(key="secret_key", value=value))
    async with sessions() as session:
        stored = (
            await session.execute(select(SystemValue.value).where(SystemValue.key == "secret_key"))
        ).scalar_one()
    return stored.encode()


def make_bus(redis: RedisClient | None, redis_prefix: str = "switchboard") -> EventBus:
    return InProcessBus() if redis is None else RedisBus(redis, prefix=redis_prefix)


def make_routing_store(redis: RedisClient | None, redis_prefix: str) -> RoutingStore:
    return MemoryStore() if redis is None else RedisStore(redis, prefix=f"{redis_prefix}:routing")


async def build_runtime(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    redis_prefix: str = "switchboard",
    check_migrations: bool = True,
) -> Runtime:
    install_cjk_aliases()
    engine = db.engine_for(settings)
    try:
        if check_migrations and await db.pending_migrations(engine):
            raise MigrationsPending(
                "the database is not at the latest migration; run `switchboard db upgrade`"
            )
        sessions = db.session_factory(engine)
        redis = (
            redis_client(
                settings.redis_url,
                socket_timeout_s=settings.redis_socket_timeout_s,
                connect_timeout_s=settings.redis_connect_timeout_s,
            )
            if settings.redis_url
            else None
        )
        bus = make_bus(redis, redis_prefix)
        rules = QueueRules()
        desk = Desk(sessions, bus, clock, choose_queue=rules)
        routing = RoutingEngine(make_routing_store(redis, redis_prefix), desk, rules=rules)
        sla = SlaClocks(desk)
        metrics = Metrics()
        webchat = Webchat(
            desk,
            VisitorSigner(await signing_key(sessions, settings)),
            max_length=settings.webchat_max_length,
            rate_per_minute=settings.webchat_rate_per_minute,
            secure_cookie=(settings.public_url or "").startswith("https://"),
        )
        senders = SenderRegistry()
        senders.register(webchat.sender)
        policy = RetryPolicy(
            base_s=settings.outbox_base_delay_s,
            max_attempts=settings.outbox_max_attempts,
            lease_s=settings.outbox_lease_s,
            send_timeout_s=settings.outbox_send_timeout_s,
        )
        dispatcher = OutboxDispatcher(desk, senders, policy, metrics=metrics)
    except BaseException:
        await engine.dispose()
        raise
    bus.subscribe(webchat.on_event)
    bus.subscribe(metrics.on_event)
    bus.subscribe(dispatcher.on_event)
    bus.consume("routing", routing.on_event)
    bus.consume("sla", sla.on_event)
    bus.consume("routing-audit", RoutingAudit(desk).on_event)
    return Runtime(
        settings, engine, bus, desk, metrics, senders, webchat, dispatcher, routing, sla, redis
    )


async def start_runtime(runtime: Runtime, *, workers: bool) -> None:
    await runtime.routing.ensure_state()
    await runtime.bus.start()
    if workers:
        runtime.tasks.append(asyncio.create_task(runtime.dispatcher.run(), name="outbox"))
        runtime.tasks.append(asyncio.create_task(runtime.routing.run(), name="routing"))
        runtime.tasks.append(asyncio.create_task(runtime.sla.run(), name="sla"))
    log.info(
        "switchboard started: database=%s bus=%s workers=%s channels=%s",
        runtime.settings.backend,
        "redis" if runtime.settings.redis_url else "in-process",
        "on" if workers else "off",
        ",".join(c.value for c in runtime.senders.channels()),
    )


async def stop_runtime(runtime: Runtime) -> None:
    # The loops also check a flag: redis-py can swallow a cancellation mid-command.
    runtime.routing.stop()
    runtime.sla.stop()
    runtime.dispatcher.stop()
    for task in runtime.tasks:
        task.cancel()
    if runtime.tasks:
        _done, lingering = await asyncio.wait(runtime.tasks, timeout=10.0)
        for task in lingering:
            log.warning("task %s did not stop in time", task.get_name())
    runtime.tasks.clear()
    await runtime.webchat.hub.close_all()
    await runtime.bus.stop()
    await runtime.desk.close()
    if runtime.redis is not None:
        await runtime.redis.aclose()
    await runtime.engine.dispose()


HEALTH_CHECK_TIMEOUT_S = 2.0


async def _check(probe: Callable[[], Awaitable[object]]) -> str:
    """One dependency's state, bounded: a hung server reads ``error: timeout``."""
    try:
        async with asyncio.timeout(HEALTH_CHECK_TIMEOUT_S):
            await probe()
    except TimeoutError:
        return "error: timeout"
    except Exception as err:
        return f"error: {type(err).__name__}"
    return "ok"


async def healthz(request: web.Request) -> web.Response:
    """Database and Redis checked at once, each within ``HEALTH_CHECK_TIMEOUT_S``."""
    runtime = request.app[RUNTIME]

    async def database() -> None:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    probes = {"database": _check(database)}
    if runtime.settings.redis_url:
        probes["redis"] = _check(runtime.bus.ping)
    results = dict(zip(probes, await asyncio.gather(*probes.values()), strict=True))
    checks = {"database": results["database"], "redis": results.get("redis", "disabled")}
    healthy = all(v in ("ok", "disabled") for v in checks.values())
    return web.json_response(
        {"status": "ok" if healthy else "unhealthy", **checks}, status=200 if healthy else 503
    )


async def metrics_view(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    runtime.metrics.chat_sockets.set(runtime.webchat.hub.total())
    return runtime.metrics.render()


async def index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/chat")


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    redis_prefix: str = "switchboard",
    workers: bool | None = None,
) -> web.Application:
    metrics_holder: list[Metrics] = []

    @web.middleware
    async def metrics_mw(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not metrics_holder:
            return await handler(request)
        return await metrics_holder[0].middleware(request, handler)

    app = web.Application(
        middlewares=[metrics_mw, error_middleware, auth_middleware], client_max_size=1024**2
    )
    app[SETTINGS] = settings

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        runtime = await build_runtime(settings, clock=clock, redis_prefix=redis_prefix)
        app[RUNTIME] = runtime
        app[DESK] = runtime.desk
        app[ROUTING] = runtime.routing
        metrics_holder.append(runtime.metrics)
        await start_runtime(runtime, workers=settings.run_workers if workers is None else workers)
        yield
        await stop_runtime(runtime)

    app.cleanup_ctx.append(lifecycle)
    app.add_routes(
        [web.get("/healthz", healthz), web.get("/metrics", metrics_view), web.get("/", index)]
    )
    app.add_routes(api_routes())

    app.router.add_route("GET", "/chat", _lazy(lambda a: a[RUNTIME].webchat.page))
    app.router.add_route("GET", "/chat/ws", _lazy(lambda a: a[RUNTIME].webchat.socket))
    app.router.add_route("GET", "/chat/widget.js", _lazy(lambda a: a[RUNTIME].webchat.widget))
    return app


def _lazy(pick: Callable[[web.Application], Handler]) -> Handler:
    """A route whose handler lives on a runtime object made at start-up."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return await pick(request.app)(request)

    return handler


__all__ = ["RUNTIME", "MigrationsPending", "Runtime", "build_runtime", "create_app"]
