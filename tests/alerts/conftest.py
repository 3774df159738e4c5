"""A companion with the alerts feature pointed at the local stand-ins, and the things that happen
in a shop (a paused job, a blocked early end, a sale) made through the companion's own code."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from companion.alerts.channels import AlertEndpoints
from companion.alerts.queue import AlertQueue, QueueOptions
from companion.alerts.service import ALERT_OPTIONS
from companion.db.models import AlertDelivery, ListingRecord, RecoreTask, utcnow
from companion.history import HistoryRecorder
from companion.jobs import JobContext, JobPaused
from companion.keys import ALERT_ENDPOINTS, ALERTS, DB, HISTORY, JOBS
from companion.recore import client as rc
from companion.recore import outbox as ob
from companion.recore.outbox import RetryPolicy
from tests.alerts.standins import (
    CHATWORK,
    CHATWORK_ROOM,
    CHATWORK_TOKEN,
    LINE,
    LINE_TO,
    LINE_TOKEN,
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpStandIn,
    StandIn,
    chatwork_app,
    line_app,
)
from tests.conftest import pair_client

# no waiting between attempts: the tests decide when a pass runs
NO_WAIT = RetryPolicy(base=0.0, factor=1.0, max_delay=0.0, jitter=0.0, unauthorized_delay=0.0)


@dataclass
class AlertsHub:
    client: TestClient
    auth: dict[str, str]
    chatwork: TestServer
    line: TestServer
    smtp: SmtpStandIn

    @property
    def app(self) -> web.Application:
        return self.client.app

    @property
    def queue(self) -> AlertQueue:
        return self.app[ALERTS]

    @property
    def recorder(self) -> HistoryRecorder:
        return self.app[HISTORY]

    @property
    def chatwork_seen(self) -> StandIn:
        return self.chatwork.app[CHATWORK]

    @property
    def line_seen(self) -> StandIn:
        return self.line.app[LINE]

    async def put(self, patch: dict[str, Any]) -> tuple[int, Any]:
        resp = await self.client.put("/api/v1/alerts", json=patch, headers=self.auth)
        return resp.status, await resp.json()

    async def test_send(self, channel: str) -> dict[str, Any]:
        resp = await self.client.post(
            "/api/v1/alerts/test", json={"channel": channel}, headers=self.auth
        )
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def turn_on(self, *channels: str, kinds: list[str] | None = None) -> None:
        settings = {
            "chatwork": {"room_id": CHATWORK_ROOM, "token": CHATWORK_TOKEN},
            "line": {"to": LINE_TO, "token": LINE_TOKEN},
            "email": {
                "host": "127.0.0.1",
                "port": self.smtp.port,
                "security": "none",
                "username": SMTP_USER,
                "password": SMTP_PASSWORD,
                "from": "connector@example.jp",
                "to": ["owner@example.jp", "staff@example.jp"],
            },
        }
        patch: dict[str, Any] = {}
        for channel in channels:
            patch[channel] = {**settings[channel], "enabled": True}
            if kinds is not None:
                patch[channel]["kinds"] = kinds
        status, body = await self.put(patch)
        assert status == 200, body

    async def record(self) -> int:
        """One pass of the history recorder (what its loop does every few seconds)."""
        return await self.recorder.catch_up()

    async def time_passes(self) -> None:
        """The waits after failures are over: every channel and waiting alert is due now."""
        self.queue._held_until.clear()
        async with self.app[DB].session() as s, s.begin():
            await s.execute(
                update(AlertDelivery)
                .where(AlertDelivery.state == "pending")
                .values(next_attempt_at=utcnow())
            )


@pytest.fixture
def smtp() -> Iterator[SmtpStandIn]:
    server = SmtpStandIn()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def alerts_hub(make_companion: Any, aiohttp_server: Any, smtp: SmtpStandIn) -> AlertsHub:
    chatwork = await aiohttp_server(chatwork_app())
    line = await aiohttp_server(line_app())

    def prepare(app: web.Application) -> None:
        app[ALERT_ENDPOINTS] = AlertEndpoints(
            chatwork=str(chatwork.make_url("/v2")).rstrip("/"),
            line=str(line.make_url("")).rstrip("/"),
            timeout=5.0,
        )
        app[ALERT_OPTIONS] = QueueOptions(policy=NO_WAIT)

    client = await make_companion(prepare)
    token = await pair_client(client)
    return AlertsHub(client, {"Authorization": f"Bearer {token}"}, chatwork, line, smtp)


# ---- what happens in a shop, through the companion's own code ---------------------------------------
async def pause_a_job(app: web.Application) -> str:
    """A job that stops at the SMS wall, as direct listing does."""

    async def sms_wall(ctx: JobContext) -> None:
        raise JobPaused(
            "SMS_AUTH",
            "ヤフオクのログインでSMS認証を求められたため、一時停止しました。",
            "SMS authentication wall",
        )

    jobs = app[JOBS]
    jobs.register("direct_listing_probe", sms_wall)
    job_id = await jobs.submit("direct_listing_probe")
    await jobs.wait(job_id)
    return job_id


async def block_an_early_end(
    app: web.Application, listing_id: int, number: str, auction_id: str
) -> str:
    """ReCORE says the item sold in the shop; Yahoo refuses to end the auction (bids): the
    DELETE_INVENTORY task is reported failed through the outbox, as the task handler does."""
    task_id = f"task-delete-{listing_id}"
    message = (
        f"管理番号 {number} のオークション {auction_id} には入札があるため、早期終了できません。"
        "ヤフオク!ストアで入札の取り消しなどを行ってください。"
    )
    async with app[DB].session() as s, s.begin():
        s.add(
            ListingRecord(
                id=listing_id, management_number=number, auction_id=auction_id, state="listed"
            )
        )
        s.add(
            RecoreTask(
                id=task_id,
                type=rc.DELETE_INVENTORY,
                ec_inventory_id=listing_id,
                state="new",
            )
        )
        await s.flush()
        await ob.enqueue_task_failed(
            s, task_id, message, {"management_number": [message]}, ob.listing_key(listing_id)
        )
    return task_id


async def a_sale(
    app: web.Application, order_id: str, number: str, auction_id: str, status: str
) -> None:
    """An order upsert bound for ReCORE, as the sync sends it (`status`: 保留中 or 未出荷)."""
    recore_status = rc.ORDER_STATUS_TO_RECORE[rc.OrderStatus(status)]
    body = {
        "mall_order_id": order_id,
        "status": recore_status,
        "sub_status": "未処理" if status == "保留中" else "入金済み",
        "goods": [{"mall_item_id": auction_id, "mall_item_code": number, "unit_price": 12800}],
    }
    async with app[DB].session() as s, s.begin():
        await ob.enqueue_order_upsert(s, order_id, body, f"{status}-{order_id}")
