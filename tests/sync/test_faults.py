"""A sync that meets a fault keeps what it learned, says so in status, and the next one completes."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from companion.db.models import AuctionSnapshot, OrderSnapshot
from companion.keys import STORE
from sandbox.yahoo.app import WORLD
from sandbox.yahoo.app import create_app as create_yahoo
from tests.sync.conftest import Hub
from tests.sync.helpers import steps

# Switches of a test middleware in front of the Yahoo sandbox: faults in the MIDDLE of a sync
# (the sandbox's own switches act on the next N requests, whichever they are).
SWITCHES: dict[str, bool] = {}


@web.middleware
async def mid_sync_faults(request: web.Request, handler: Any) -> web.StreamResponse:
    if SWITCHES.get("detail_5xx") and "/order/manage/detail/" in request.path:
        return web.Response(status=503, text="ただいまアクセスが集中しています。")
    if "/order/manage/index" in request.path and SWITCHES.pop("expire_on_orders", False):
        request.app[WORLD].expire_sessions()  # the session dies between two pages
    if SWITCHES.get("layout") and request.path == "/serinavi/sold-list":
        resp = await handler(request)
        text = resp.text.replace("<th>落札価格</th>", "<th>価格</th>")  # type: ignore[union-attr]
        return web.Response(text=text, content_type="text/html")
    return await handler(request)


@pytest.fixture
async def yahoo_server(aiohttp_server: Any) -> TestServer:
    SWITCHES.clear()
    app = create_yahoo(seed=True)
    app.middlewares.append(mid_sync_faults)
    return await aiohttp_server(app)


async def count(hub: Hub, model: Any) -> int:
    async with hub.db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_yahoo_5xx_mid_sync_is_reported_and_the_next_sync_completes(hub: Hub) -> None:
    SWITCHES["detail_5xx"] = True
    job = await hub.run_sync()
    assert job["state"] == "partial"
    assert job["error"]["code"] == "YAHOO_UNAVAILABLE"
    got = steps(job)
    assert got["selling"] == got["orders"] == "succeeded"
    assert got["details"] == "failed"
    # what it learned is kept: every selling auction, and nothing half-sent
    assert await count(hub, AuctionSnapshot) == 30
    assert (await hub.recore_state())["orders"] == []
    status = await hub.status()
    assert status["sync"]["last_result"] == "partial"
    assert status["sync"]["last_error"]["code"] == "YAHOO_UNAVAILABLE"
    assert any("ヤフオクが応答しません" in e["message"] for e in status["last_errors"])

    SWITCHES["detail_5xx"] = False
    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    assert len((await hub.recore_state())["orders"]) == 10
    status = await hub.status()
    assert status["sync"]["last_result"] == "succeeded" and status["sync"]["last_error"] is None


async def test_session_expiring_mid_sync_logs_in_again(hub: Hub) -> None:
    SWITCHES["expire_on_orders"] = True
    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    assert (await hub.app[STORE].browser()).logins == 2
    assert len((await hub.recore_state())["orders"]) == 10


async def test_changed_layout_is_named_and_the_rest_is_kept(hub: Hub) -> None:
    SWITCHES["layout"] = True
    job = await hub.run_sync()
    assert job["state"] == "partial"
    assert job["error"]["code"] == "YAHOO_LAYOUT_CHANGED"
    assert "落札価格" in job["error"]["message"]
    assert steps(job)["sold"] == "failed"
    assert len((await hub.recore_state())["orders"]) == 10  # orders did not need the sold list


async def test_recore_down_is_reported_and_the_next_sync_delivers(hub: Hub) -> None:
    await hub.recore_post("/_sandbox/faults", {"down_seconds": 60})
    job = await hub.run_sync()
    assert job["state"] == "partial"
    assert job["error"]["code"] == "RECORE_UNAVAILABLE"
    got = steps(job)
    assert got["recore_tasks"] == "failed" and got["deliver"] == "failed"
    assert got["upserts"] == "succeeded"
    assert await count(hub, OrderSnapshot) == 10  # read, reconciled, waiting in the outbox
    assert (await hub.status())["outbox"]["pending"] == 10

    await hub.recore_post("/_sandbox/faults", {"reset": True})
    job = await hub.run_sync()
    assert job["state"] == "succeeded", job["items"]
    assert len((await hub.recore_state())["orders"]) == 10
    assert (await hub.status())["outbox"]["pending"] == 0


async def test_a_login_wall_stops_automatic_logins_until_staff_act(hub: Hub) -> None:
    await hub.yahoo_post("/_sandbox/faults", {"sms_wall": True})
    job = await hub.run_sync()
    assert job["state"] == "failed"
    assert job["error"]["code"] == "YAHOO_SMS_AUTH"
    assert "SMS認証" in job["error"]["message"]
    assert hub.app[STORE].blocked["code"] == "YAHOO_SMS_AUTH"  # kept across restarts too

    # the scheduler's run does not walk into the wall again (no new login session on Yahoo)
    sessions = len(hub.world.sessions)
    summary, fault = await hub.sync.sync_once(reason="auto")
    assert fault is not None and fault.code == "YAHOO_LOGIN_BLOCKED"
    assert "同期開始" in fault.message
    assert len(hub.world.sessions) == sessions

    # staff fix it (SMS認証 off) and press 同期開始: it logs in and completes
    await hub.yahoo_post("/_sandbox/faults", {"sms_wall": False})
    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    assert hub.app[STORE].blocked is None
