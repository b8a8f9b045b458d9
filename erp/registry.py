"""Finds ERP adapters through the ``switchboard.erp`` entry-point group, so a company can
ship an adapter for its own ERP (Kingdee, Yonyou, SAP) as a separate package: its
``pyproject.toml`` declares ``[project.entry-points."switchboard.erp"] kingdee =
"kingdee_switchboard:make"`` and ``SWITCHBOARD_ERP=kingdee`` picks it. An entry point is a
factory taking one ``AdapterContext`` and returning an ``ErpAdapter``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast

import aiohttp

from erp.port import (
    ErpAdapter,
    ErpTemporaryFailure,
    OrderStatus,
    Part,
    Reservation,
    ReservationLine,
    Warranty,
)
from tickets import Desk

GROUP = "switchboard.erp"


@dataclass(frozen=True)
class AdapterContext:
    """What an adapter may use: its settings (``SWITCHBOARD_ERP_*``), the shared HTTP
    session (never one of its own, so tests point it at a fake) and the desk (the builtin
    adapter's database)."""

    desk: Desk
    http: aiohttp.ClientSession
    url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api_secret: str | None = field(default=None, repr=False)
    database: str | None = None
    username: str | None = None
    protocol: str | None = None
    """Odoo: ``jsonrpc`` (execute_kw, Odoo 14-18) or ``json2`` (Odoo 19+)."""
    timeout_s: float = 3.0


AdapterFactory = Callable[[AdapterContext], ErpAdapter]


class UnknownAdapter(LookupError):
    pass


def available() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load(name: str) -> AdapterFactory:
    found = available().get(name)
    if found is None:
        known = ", ".join(sorted(available())) or "none (is the package installed?)"
        raise UnknownAdapter(f"SWITCHBOARD_ERP={name!r}: no such ERP adapter; installed: {known}")
    return cast(AdapterFactory, found.load())


def make_adapter(name: str, context: AdapterContext) -> ErpAdapter:
    return load(name)(context)


class Unconfigured:
    """Stands in for an adapter whose settings are missing: every call is a temporary
    failure with the reason, so the agent reads "ERP unavailable" and start-up goes on."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    async def _fail(self) -> Any:
        raise ErpTemporaryFailure(self.reason)

    async def part_availability(self, query: str) -> Part:
        return cast(Part, await self._fail())

    async def order_status(self, reference: str) -> OrderStatus:
        return cast(OrderStatus, await self._fail())

    async def warranty(self, serial: str) -> Warranty:
        return cast(Warranty, await self._fail())

    async def reserve_parts(self, ticket: str, lines: Sequence[ReservationLine]) -> Reservation:
        return cast(Reservation, await self._fail())

    async def release_reservation(self, ticket: str) -> Reservation | None:
        return cast(Reservation | None, await self._fail())

    async def close(self) -> None:
        return None
