"""The aiohttp application factory: wires the rooms together and owns every long-lived
resource (engine, Redis, bus, workers) in ``cleanup_ctx`` so start-up and shutdown are
ordered and graceful (workers are cancelled and awaited; sockets closed)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import tickets
from agent_ui import DESK, api_routes, error_middleware
from agent_ui.api import auth_middleware
from agent_ui.attachments import BLOBS
from agent_ui.context import ROUTING, SENDERS
from agent_ui.erp_api import ERP
from agent_ui.http import Handler
from agent_ui.kb_panel import suggestions_panel
from agent_ui.panels import PANELS, Panel, PanelRegistry
from agent_ui.stream import (
    STREAM,
    FeedTap,
    LiveFeed,
    make_feed,
    make_stream,
)
from agent_ui.uploads import UPLOAD_KEY, Uploads
from agent_ui.web import (
    WEB_CONFIG,
    Limits,
    LoginGuard,
    MemoryCounter,
    RedisCounter,
    WebConfig,
    page_errors,
    security_headers,
    session_authenticator,
    session_middleware,
    setup_web,
)
from agent_ui.web.config import page_user
from agent_ui.web.i18n import gettext_
from channels import SenderRegistry
from channels.base import DeliveryError
from channels.email.channel import EmailChannel
from channels.email.timeline import PARTICIPANTS_TITLE, email_renderer, render_participants
from channels.telegram import TelegramChannel, make_telegram
from channels.twilio.sdk import TwilioApi, TwilioConfig
from channels.twilio.sms import SMS, TwilioSms, sms_routes
from channels.twilio.voice import WEBHOOKS as VOICE_WEBHOOKS
from channels.twilio.voice import Voice, VoiceOptions, no_order_lookup, parse_queue_waits
from channels.twilio.voice_orders import ErpOrderLookup
from channels.twilio.voice_ui import PANEL_TITLE as VOICE_PANEL_TITLE
from channels.twilio.voice_ui import VoiceUi, callback_failed, callback_placed
from channels.webchat import (
    ChatLimits,
    ClientPolicy,
    MemoryRateLimiter,
    Rate,
    VisitorSigner,
    Webchat,
    parse_networks,
)
from erp.panel import PANEL_TITLE as ERP_PANEL_TITLE
from erp.panel import ErpPanel
from erp.service import ErpService
from routing.audit_trail import RoutingAudit
from routing.engine import RoutingEngine
from routing.redis_store import RedisStore
from routing.rules import QueueRules
from routing.store import MemoryStore, RoutingStore
from switchboard import db
from switchboard.blobs import FileBlobStore, default_blob_dir
from switchboard.bus import Bury, EventBus, InProcessBus, RedisBus, RedisClient, redis_client
from switchboard.charsets import install_cjk_aliases
from switchboard.chatwait import wait_estimator
from switchboard.clock import utc_now
from switchboard.deflection import kb_deflector
from switchboard.dispatcher import OutboxDispatcher
from switchboard.email import make_email
from switchboard.erp_setup import make_erp_service
from switchboard.metrics import Metrics, check_access, start_listener
from switchboard.ratelimit import RedisRateLimiter
from switchboard.relay import EventRelay
from switchboard.settings import Settings, SettingsError
from tickets import (
    Channel,
    Desk,
    Event,
    Invalid,
    RetryPolicy,
    SlaClocks,
    SystemValue,
    bury_event,
    business_time_zone,
)

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
    relay: EventRelay
    redis: RedisClient | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    feed: LiveFeed | None = None
    twilio_sms: TwilioSms | None = None
    email: EmailChannel | None = None
    erp: ErpService | None = None
    erp_http: aiohttp.ClientSession | None = None
    telegram: TelegramChannel | None = None
    signing_key: bytes = b""


RUNTIME = web.AppKey("runtime", Runtime)
SETTINGS = web.AppKey("settings", Settings)
METRICS_RUNNER = web.AppKey("metrics_runner", web.AppRunner)


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


def make_webchat(
    settings: Settings, desk: Desk, signer: VisitorSigner, redis: RedisClient | None, prefix: str
) -> Webchat:
    """The chat with its limits: shared through Redis when configured, else in memory."""
    limits = ChatLimits(
        visitor_messages=_rate(settings.webchat_rate_per_minute, 10),
        address_messages=_rate(settings.webchat_address_rate_per_minute, 30),
        address_new_visitors=_rate(settings.webchat_new_visitors_per_minute, 20),
    )
    try:
        proxies = parse_networks((settings.trusted_proxies or "").split(","))
    except ValueError as err:
        raise SettingsError(f"SWITCHBOARD_TRUSTED_PROXIES: {err}") from err
    clients = ClientPolicy(
        trusted_proxies=proxies,
        allowed_origins=(settings.webchat_allowed_origins or "").split(","),
        public_url=settings.public_url,
    )
    return Webchat(
        desk,
        signer,
        max_length=settings.webchat_max_length,
        limits=limits,
        limiter=MemoryRateLimiter() if redis is None else RedisRateLimiter(redis, prefix),
        clients=clients,
        secure_cookie=(settings.public_url or "").startswith("https://"),
        blobs=blob_store(settings),
        max_upload=settings.attachment_max_bytes,
        deflector=kb_deflector(desk),
    )


def blob_store(settings: Settings) -> FileBlobStore:
    return FileBlobStore(
        Path(settings.blob_dir) if settings.blob_dir else default_blob_dir(settings.database_url)
    )


def _rate(per_minute: int, max_burst: int) -> Rate:
    """Bursts of up to ``max_burst``, never more than a minute's worth."""
    return Rate(per_minute, max(1, min(per_minute, max_burst)))


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
        feed = make_feed(redis, redis_prefix)
        published = FeedTap(bus, feed)  # what staff screens show enters the live feed
        rules = QueueRules()
        desk = Desk(sessions, published, clock, choose_queue=rules)
        routing = RoutingEngine(
            make_routing_store(redis, redis_prefix),
            desk,
            rules=rules,
            refusal_cooldown_s=settings.routing_refusal_cooldown_s,
            reconcile_s=settings.routing_reconcile_s,
        )
        sla = SlaClocks(desk)
        metrics = Metrics()
        key = await signing_key(sessions, settings)
        webchat = make_webchat(
            settings,
            desk,
            VisitorSigner(key),
            redis,
            redis_prefix,
        )
        webchat.wait_estimator = wait_estimator(routing, settings.webchat_minutes_per_chat)
        senders = SenderRegistry()
        senders.register(webchat.sender)
        email = make_email(settings, desk, blob_store(settings))
        if email is not None and email.sender is not None:
            senders.register(email.sender)
        telegram = make_telegram_channel(settings, desk)
        if telegram is not None:
            senders.register(telegram.sender)
        policy = RetryPolicy(
            base_s=settings.outbox_base_delay_s,
            max_attempts=settings.outbox_max_attempts,
            lease_s=settings.outbox_lease_s,
            send_timeout_s=settings.outbox_send_timeout_s,
        )
        # Twilio SMS: its sender is registered wherever the outbox runs (serve, worker).
        twilio_sms = make_twilio_sms(settings, desk)
        if twilio_sms is not None:
            senders.register(twilio_sms.sender)
        dispatcher = OutboxDispatcher(desk, senders, policy, metrics=metrics)
        relay = EventRelay(desk, published)
        erp, erp_http = await make_erp_service(settings, desk, clock)
    except BaseException:
        await engine.dispose()
        raise
    bus.subscribe(webchat.on_event)
    bus.subscribe(metrics.on_event)
    bus.subscribe(dispatcher.on_event)
    bus.consume("routing", routing.on_event)
    bus.consume("sla", sla.on_event)
    bus.consume("routing-audit", RoutingAudit(desk).on_event)
    bus.set_bury(dead_letter_store(desk))
    bus.subscribe(routing.events.on_config)
    bus.consume("erp", erp.on_event)
    return Runtime(
        settings,
        engine,
        bus,
        desk,
        metrics,
        senders,
        webchat,
        dispatcher,
        routing,
        sla,
        relay,
        redis,
        feed=feed,
        twilio_sms=twilio_sms,
        email=email,
        erp=erp,
        erp_http=erp_http,
        telegram=telegram,
        signing_key=key,
    )


def twilio_config(settings: Settings) -> TwilioConfig | None:
    """The Twilio account, when the settings name all of it; else None."""
    sid, token, number = (
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_number,
    )
    if not (sid and token and number and settings.public_url):
        return None
    return TwilioConfig(sid, token, number, settings.public_url, settings.twilio_api_base)


def make_twilio_sms(settings: Settings, desk: Desk) -> TwilioSms | None:
    config = twilio_config(settings)
    if config is None:
        if settings.twilio_account_sid or settings.twilio_auth_token or settings.twilio_number:
            log.warning(
                "Twilio SMS disabled: set SWITCHBOARD_TWILIO_ACCOUNT_SID, _TWILIO_AUTH_TOKEN, "
                "_TWILIO_NUMBER and SWITCHBOARD_PUBLIC_URL (Twilio signs against it)"
            )
        return None
    return TwilioSms(desk, TwilioApi(config), blob_store(settings), settings.attachment_max_bytes)


def dead_letter_store(desk: Desk) -> Bury:
    """Where the bus keeps events a consumer group gave up on: the database, so they
    survive a Redis loss and the CLI can list and retry them."""

    async def bury(
        group: str, event_id: str, wire: dict[str, Any], error: str, attempts: int
    ) -> None:
        async def work(session: AsyncSession, now: datetime) -> tuple[None, list[Event]]:
            await bury_event(session, group, event_id, wire, error, attempts, now)
            return None, []

        await desk.write(work)

    return bury


async def start_runtime(runtime: Runtime, *, workers: bool, timers: bool | None = None) -> None:
    """``workers``: this process takes durable work from the bus (consumer groups) and
    runs the relay and the timers; without it (``serve --no-workers``) it runs none of
    them, and only answers HTTP and listens to broadcasts. Every process declares the
    consumer groups, so what it publishes reaches each group's stream even before a worker
    has ever started. ``timers`` alone turns the timers off (tests that drive the clock by
    hand)."""
    await runtime.routing.ensure_state()
    await runtime.bus.start(consumers=workers)
    await start_telegram(runtime, workers=workers)
    if workers if timers is None else timers:
        runtime.tasks.append(asyncio.create_task(runtime.relay.run(), name="relay"))
        runtime.tasks.append(asyncio.create_task(runtime.dispatcher.run(), name="outbox"))
        runtime.tasks.append(asyncio.create_task(runtime.routing.run(), name="routing"))
        runtime.tasks.append(asyncio.create_task(runtime.sla.run(), name="sla"))
        if runtime.erp is not None:
            quiet = timedelta(minutes=runtime.settings.erp_self_service_quiet_minutes)
            runtime.tasks.append(asyncio.create_task(runtime.erp.run(quiet), name="erp"))
    if runtime.email is not None:
        await runtime.email.start(workers=workers)
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
    runtime.relay.stop()
    if runtime.erp is not None:
        runtime.erp.stop()
    if runtime.telegram is not None:
        runtime.telegram.poller.stop()
    for task in runtime.tasks:
        task.cancel()
    if runtime.tasks:
        _done, lingering = await asyncio.wait(runtime.tasks, timeout=10.0)
        for task in lingering:
            log.warning("task %s did not stop in time", task.get_name())
    runtime.tasks.clear()
    if runtime.email is not None:
        await runtime.email.stop()
    await runtime.webchat.hub.close_all()
    if runtime.twilio_sms is not None:
        await runtime.twilio_sms.close()
    if runtime.telegram is not None:
        await runtime.telegram.close()
    await runtime.bus.stop()
    await runtime.desk.close()
    if runtime.erp_http is not None:
        await runtime.erp_http.close()
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
    if runtime.settings.metrics_listen:
        raise web.HTTPNotFound(text="metrics are on SWITCHBOARD_METRICS_LISTEN\n")
    check_access(request, runtime.settings.metrics_token)
    return _render_metrics(runtime)


def _render_metrics(runtime: Runtime) -> web.Response:
    runtime.metrics.chat_sockets.set(runtime.webchat.hub.total())
    return runtime.metrics.render()


async def make_web_config(runtime: Runtime, redis_prefix: str) -> WebConfig:
    settings = runtime.settings
    counter = (
        RedisCounter(runtime.redis, redis_prefix) if runtime.redis is not None else MemoryCounter()
    )
    limits = Limits(
        per_account=settings.login_failures_per_account,
        per_address=settings.login_failures_per_address,
        window_s=settings.login_lockout_minutes * 60.0,
    )
    public = settings.public_url or ""
    return WebConfig(
        secure_cookies=public.startswith("https://"),
        idle=timedelta(minutes=settings.session_idle_minutes),
        clients=ClientPolicy(
            trusted_proxies=parse_networks((settings.trusted_proxies or "").split(",")),
            public_url=settings.public_url,
        ),
        guard=LoginGuard(counter, limits),
        time_zone=await runtime.desk.read(business_time_zone),
        public_origin=public.rstrip("/") or None,
    )


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    redis_prefix: str = "switchboard",
    workers: bool | None = None,
    timers: bool | None = None,
) -> web.Application:
    metrics_holder: list[Metrics] = []

    @web.middleware
    async def metrics_mw(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not metrics_holder:
            return await handler(request)
        return await metrics_holder[0].middleware(request, handler)

    app = web.Application(
        middlewares=[
            metrics_mw,
            security_headers,
            error_middleware,
            page_errors,
            session_middleware,
            auth_middleware,
        ],
        client_max_size=1024**2,
    )
    app[SETTINGS] = settings
    app[PANELS] = PanelRegistry()
    app[PANELS].add_panel(suggestions_panel(app))
    app[PANELS].add_timeline("email", email_renderer(inline_loader(app)))
    app[PANELS].add_panel(
        Panel("email-participants", PARTICIPANTS_TITLE, render_participants, order=20)
    )

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        runtime = await build_runtime(settings, clock=clock, redis_prefix=redis_prefix)
        app[RUNTIME] = runtime
        app[DESK] = runtime.desk
        app[ROUTING] = runtime.routing
        app[SENDERS] = runtime.senders
        assert runtime.erp is not None
        app[ERP] = runtime.erp
        app[WEB_CONFIG] = await make_web_config(runtime, redis_prefix)
        app[PANELS].add_panel(
            Panel(
                "erp", ERP_PANEL_TITLE, ErpPanel(runtime.erp, app[WEB_CONFIG].time_zone).render, 50
            )
        )
        if runtime.webchat.blobs is not None:
            app[BLOBS] = runtime.webchat.blobs
        app[UPLOAD_KEY] = Uploads(
            runtime.webchat.blobs, runtime.signing_key, runtime.settings.attachment_max_bytes
        )
        if runtime.twilio_sms is not None:
            app[SMS] = runtime.twilio_sms
        metrics_holder.append(runtime.metrics)
        assert runtime.feed is not None
        stream = make_stream(
            runtime.feed,
            runtime.desk,
            runtime.routing,
            redis=runtime.redis,
            prefix=redis_prefix,
            grace_s=settings.presence_grace_s,
            public_url=settings.public_url,
        )
        await voice_attach(  # Twilio voice: before the bus starts
            app, runtime, workers=settings.run_workers if workers is None else workers
        )
        stream.add_authenticator(session_authenticator(runtime.desk))
        app[STREAM] = stream
        runtime.bus.subscribe(stream.on_event)
        if runtime.telegram is not None:
            app[PANELS].add_timeline("telegram", runtime.telegram.render)
        await start_runtime(
            runtime, workers=settings.run_workers if workers is None else workers, timers=timers
        )
        await stream.start()
        yield
        await stream.stop()
        await stop_runtime(runtime)

    async def metrics_listener(app: web.Application) -> AsyncIterator[None]:
        if not settings.metrics_listen:
            yield
            return
        runtime = app[RUNTIME]
        runner = await start_listener(
            settings.metrics_listen, settings.metrics_token, lambda: _render_metrics(runtime)
        )
        app[METRICS_RUNNER] = runner
        yield
        await runner.cleanup()

    app.cleanup_ctx.append(lifecycle)
    app.cleanup_ctx.append(metrics_listener)
    app.add_routes([web.get("/healthz", healthz), web.get("/metrics", metrics_view)])
    app.add_routes(api_routes())
    setup_web(app)
    voice_routes(app, settings)  # Twilio voice (its block below)

    app.router.add_route("GET", "/chat", _lazy(lambda a: a[RUNTIME].webchat.page))
    app.router.add_route("GET", "/chat/ws", _lazy(lambda a: a[RUNTIME].webchat.socket))
    app.router.add_route("GET", "/chat/widget.js", _lazy(lambda a: a[RUNTIME].webchat.widget))
    app.router.add_route("GET", "/chat/chat.js", _lazy(lambda a: a[RUNTIME].webchat.script))
    app.router.add_route("GET", "/chat/chat.css", _lazy(lambda a: a[RUNTIME].webchat.stylesheet))
    app.router.add_route("POST", "/chat/upload", _lazy(lambda a: a[RUNTIME].webchat.upload))
    app.router.add_route("GET", "/chat/files/{id}", _lazy(lambda a: a[RUNTIME].webchat.file))

    # Twilio SMS webhooks (channels/twilio/sms.py), when the Twilio settings are complete.
    if twilio_config(settings) is not None:
        sms_routes(app)
    app.router.add_route("POST", "/webhooks/telegram", telegram_webhook)
    return app


# --- Twilio voice (channels/twilio/voice.py) ------------------------------------------
# The IVR webhooks, the bus consumer that bridges a queued caller to the agent who took
# the ticket, the call card and "Phone" panel on the ticket page, and the call-back
# button's route. Off (one log line) without Twilio credentials and a public URL.

VOICE = web.AppKey("voice", Voice)


def voice_routes(app: web.Application, settings: Settings) -> None:
    """The voice webhooks and the call-back button (the handlers live on ``app[VOICE]``,
    made at start-up by ``voice_attach``)."""
    if twilio_config(settings) is None:
        log.info(
            "twilio voice disabled: set SWITCHBOARD_TWILIO_ACCOUNT_SID, _TWILIO_AUTH_TOKEN, "
            "_TWILIO_NUMBER and SWITCHBOARD_PUBLIC_URL to take phone calls"
        )
        return
    for path in VOICE_WEBHOOKS:
        app.router.add_route("POST", path, _lazy(_voice_handler(path)))
    app.router.add_route("POST", "/agent/tickets/{number}/voice/call-back", _voice_call_back)

    async def close_api(app: web.Application) -> AsyncIterator[None]:
        yield
        if VOICE in app:
            await app[VOICE].api.close()

    app.cleanup_ctx.append(close_api)


async def voice_attach(app: web.Application, runtime: Runtime, *, workers: bool) -> None:
    config = twilio_config(runtime.settings)
    if config is None:
        return
    settings = runtime.settings
    api = TwilioApi(config)
    await api.start()
    options = VoiceOptions(
        max_wait_s=settings.voice_max_wait_s,
        queue_max_wait_s=parse_queue_waits(settings.voice_queue_max_wait),
        hold_music_url=settings.voice_hold_music_url,
        ring_timeout_s=settings.voice_ring_timeout_s,
        max_recording_s=settings.voice_max_recording_s,
        max_recording_bytes=settings.attachment_max_bytes,
    )
    # Order status by phone is answered from the ERP room (else every request is a call-back).
    orders = ErpOrderLookup(runtime.erp) if runtime.erp is not None else no_order_lookup
    voice = Voice(runtime.desk, api, blob_store(settings), options, orders)
    app[VOICE] = voice
    runtime.bus.consume("voice", voice.on_event)
    if workers:  # stop_runtime cancels and awaits it with the other workers
        runtime.tasks.append(asyncio.create_task(voice.sweep_forever(), name="voice-sweep"))
    ui = VoiceUi(runtime.desk)
    app[PANELS].add_timeline(Channel.VOICE.value, ui.timeline)
    app[PANELS].add_panel(Panel("voice.phone", VOICE_PANEL_TITLE, ui.panel, order=20))


def _voice_handler(path: str) -> Callable[[web.Application], Handler]:
    def pick(app: web.Application) -> Handler:
        return app[VOICE].handler(path)

    return pick


async def _voice_call_back(request: web.Request) -> web.Response:
    staff = page_user(request)
    try:
        placed = await request.app[VOICE].call_back(staff, request.match_info["number"])
    except Invalid as err:
        return web.Response(status=400, text=str(err))
    except DeliveryError as err:
        log.warning("call-back failed: %s", err)
        return web.Response(status=502, text=callback_failed(gettext_))
    return web.Response(
        text=str(callback_placed(gettext_, placed["to"])),
        content_type="text/html",
        headers={"HX-Trigger": "ticket-timeline"},
    )


def inline_loader(app: web.Application) -> Callable[[int, Any], Awaitable[bytes | None]]:
    """An attachment's bytes for the staff user looking at its ticket (inline images of
    email); None when it is gone, not theirs to see, or files are not stored."""

    async def load(attachment_id: int, staff: Any) -> bytes | None:
        runtime = app.get(RUNTIME)
        if runtime is None or runtime.webchat.blobs is None or staff is None:
            return None
        blobs = runtime.webchat.blobs
        try:
            found = await runtime.desk.read(lambda s: tickets.staff_file(s, staff, attachment_id))
            return await blobs.open(found.blob_ref)
        except (tickets.NotFound, KeyError):
            return None

    return load


# -- Telegram (channels/telegram) -------------------------------------------------------
# The bot's client, webhook, sender, long polling and timeline rendering. Off without
# SWITCHBOARD_TELEGRAM_BOT_TOKEN (one log line); the webhook refuses every request (403)
# without SWITCHBOARD_TELEGRAM_SECRET_TOKEN.


def make_telegram_channel(settings: Settings, desk: Desk) -> TelegramChannel | None:
    if not settings.telegram_bot_token:
        log.info("telegram: off (SWITCHBOARD_TELEGRAM_BOT_TOKEN is not set)")
        return None
    if not settings.telegram_secret_token and not settings.telegram_polling:
        log.warning(
            "telegram: SWITCHBOARD_TELEGRAM_SECRET_TOKEN is not set: the webhook refuses "
            "every update (set it, or use long polling)"
        )
    return make_telegram(
        desk,
        blob_store(settings),
        token=settings.telegram_bot_token,
        secret_token=settings.telegram_secret_token,
        api_base=settings.telegram_api_base,
        max_file_bytes=settings.attachment_max_bytes,
        timeout_s=min(10.0, settings.outbox_send_timeout_s),
        poll_timeout_s=settings.telegram_poll_timeout_s,
        deflector=kb_deflector(desk),
        public_url=settings.public_url,
    )


async def start_telegram(runtime: Runtime, *, workers: bool) -> None:
    telegram = runtime.telegram
    if telegram is None:
        return
    await telegram.start()
    if workers:
        runtime.tasks.append(asyncio.create_task(telegram.housekeeping(), name="telegram-prune"))
    if workers and runtime.settings.telegram_polling:
        runtime.tasks.append(asyncio.create_task(telegram.poller.run(), name="telegram-poll"))


async def telegram_webhook(request: web.Request) -> web.StreamResponse:
    telegram = request.app[RUNTIME].telegram
    if telegram is None:
        raise web.HTTPNotFound(text="the Telegram channel is not configured\n")
    return await telegram.inbound.webhook(request)


# -- end of Telegram --------------------------------------------------------------------


def _lazy(pick: Callable[[web.Application], Handler]) -> Handler:
    """A route whose handler lives on a runtime object made at start-up."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return await pick(request.app)(request)

    return handler


__all__ = [
    "METRICS_RUNNER",
    "RUNTIME",
    "MigrationsPending",
    "Runtime",
    "build_runtime",
    "create_app",
]
