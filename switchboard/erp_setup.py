"""Builds the ERP service from settings: the adapter named by ``SWITCHBOARD_ERP`` (found
through the ``switchboard.erp`` entry points) behind the resilience layer, the detector
with any configured patterns, and the shared HTTP session the adapter calls through."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import aiohttp

from erp.detect import Detector
from erp.port import ErpAdapter, LookupKind
from erp.registry import AdapterContext, Unconfigured, UnknownAdapter, make_adapter
from erp.resilience import Policy, ResilientErp
from erp.selfservice import PolicyError, SelfService, parse_policy
from erp.service import ErpService
from switchboard.settings import Settings, SettingsError
from tickets import Desk

log = logging.getLogger(__name__)


def erp_policy(settings: Settings) -> Policy:
    return Policy(
        timeout_s=settings.erp_timeout_s,
        ttl_s={
            LookupKind.PART: settings.erp_cache_stock_s,
            LookupKind.ORDER: settings.erp_cache_orders_s,
            LookupKind.WARRANTY: settings.erp_cache_warranty_s,
        },
        breaker_failures=settings.erp_breaker_failures,
        breaker_reset_s=settings.erp_breaker_reset_s,
    )


def erp_detector(settings: Settings) -> Detector:
    try:
        return Detector.with_overrides(
            {
                "orders": settings.erp_order_pattern,
                "serials": settings.erp_serial_pattern,
                "parts": settings.erp_part_pattern,
                "models": settings.erp_model_pattern,
            }
        )
    except ValueError as err:
        raise SettingsError(f"SWITCHBOARD_ERP_*_PATTERN: {err}") from err


async def make_erp_service(
    settings: Settings, desk: Desk, clock: Callable[[], datetime]
) -> tuple[ErpService, aiohttp.ClientSession]:
    http = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.erp_timeout_s + 1.0),
        headers={"User-Agent": "Switchboard"},
    )
    context = AdapterContext(
        desk=desk,
        http=http,
        url=settings.erp_url,
        api_key=settings.erp_api_key,
        api_secret=settings.erp_api_secret,
        database=settings.erp_database,
        username=settings.erp_username,
        protocol=settings.erp_protocol,
        timeout_s=settings.erp_timeout_s,
    )
    adapter: ErpAdapter
    try:
        detector = erp_detector(settings)
        try:
            parse_policy(settings.erp_self_service)
        except PolicyError as err:
            raise SettingsError(str(err)) from err
        try:
            adapter = make_adapter(settings.erp, context)
        except UnknownAdapter:
            raise
        except ValueError as err:
            log.error("ERP %s disabled: %s", settings.erp, err)
            adapter = Unconfigured(settings.erp, f"not configured: {err}")
    except (UnknownAdapter, SettingsError) as err:
        await http.close()
        raise SettingsError(str(err)) from err
    except BaseException:
        await http.close()
        raise
    resilient = ResilientErp(adapter, erp_policy(settings), clock=clock)
    policy = parse_policy(settings.erp_self_service)
    service = ErpService(
        resilient,
        desk,
        detector,
        detection=settings.erp_detection,
        self_service=SelfService(desk, policy) if policy else None,
    )
    return service, http
