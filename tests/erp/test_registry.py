"""Adapters are found through the ``switchboard.erp`` entry points; every one we declare
loads; a missing credential disables the ERP with a reason instead of failing start-up."""

from __future__ import annotations

import logging
from typing import cast

import aiohttp
import pytest

from erp.erpnext import ErpNextErp
from erp.port import ErpAdapter, Unavailable
from erp.registry import AdapterContext, Unconfigured, UnknownAdapter, available, load
from switchboard import db
from switchboard.erp_setup import make_erp_service
from switchboard.settings import Settings, SettingsError
from tests.helpers import Clock, RecordingPublisher
from tickets import Desk


def test_every_declared_adapter_loads() -> None:
    names = set(available())
    assert {"builtin", "erpnext", "odoo"} <= names
    for name in names:
        assert callable(load(name)), name
    with pytest.raises(UnknownAdapter, match="kingdee"):
        load("kingdee")


async def test_a_missing_credential_disables_the_erp_with_one_line(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_mapping({"database_url": sqlite_url, "erp": "erpnext"})
    engine = db.create_engine(sqlite_url)
    desk = Desk(db.session_factory(engine), RecordingPublisher(), Clock())
    with caplog.at_level(logging.ERROR):
        service, http = await make_erp_service(settings, desk, Clock())
    try:
        assert isinstance(service.erp.adapter, Unconfigured)
        assert isinstance(service.erp.adapter, ErpAdapter)
        assert "ERP erpnext disabled: SWITCHBOARD_ERP=erpnext needs SWITCHBOARD_ERP_URL" in (
            caplog.text
        )
        answer = await service.order("SO-1")
        assert isinstance(answer, Unavailable) and "not configured" in answer.reason
    finally:
        await http.close()
        await engine.dispose()


async def test_an_unknown_adapter_is_a_settings_error(sqlite_url: str) -> None:
    settings = Settings.from_mapping({"database_url": sqlite_url, "erp": "kingdee"})
    engine = db.create_engine(sqlite_url)
    desk = Desk(db.session_factory(engine), RecordingPublisher(), Clock())
    try:
        with pytest.raises(SettingsError, match="no such ERP adapter"):
            await make_erp_service(settings, desk, Clock())
    finally:
        await engine.dispose()


async def test_the_adapter_gets_the_shared_session() -> None:
    async with aiohttp.ClientSession() as http:
        context = AdapterContext(
            desk=cast(Desk, None), http=http, url="http://erp", api_key="k", api_secret="s"
        )
        adapter = load("erpnext")(context)
        assert isinstance(adapter, ErpNextErp)
        assert adapter.http is http
