"""The alerts feature (`setup(app)`): settings, the durable queue, テスト送信.

Routes:
- `GET /api/v1/alerts` — the alert settings (secrets only as `{"set": bool}`) and, per channel,
  what waits, what was sent and the last error.
- `PUT /api/v1/alerts` — a partial update, validated whole (`400 VALIDATION_FAILED` with
  `fields` such as `"chatwork.room_id"`).
- `POST /api/v1/alerts/test {"channel": "email|chatwork|line"}` — a test message with the saved
  settings: `{"ok": true, "message"}` or `{"ok": false, "error": {"code", "message", …}}`.

Chatwork's and LINE's addresses come from `app[ALERT_ENDPOINTS]` (tests) or the environment
(`RECORE_CONNECTOR_CHATWORK_API`, `RECORE_CONNECTOR_LINE_API`), never from the HTTP API.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from companion.alerts.channels import AlertEndpoints
from companion.alerts.config import CHANNELS, DEFAULTS, AlertConfig
from companion.alerts.queue import AlertQueue, QueueOptions
from companion.inputs import read_json
from companion.keys import ALERT_ENDPOINTS, ALERTS, CONFIG, DB, HISTORY
from companion.middlewares import API, error_response
from companion.secretbox import SecretBox
from companion.settings import SettingsError

ALERT_OPTIONS = web.AppKey("alert_options", QueueOptions)


def configured_value(app: web.Application, key: str) -> Any:
    """A top-level alert setting (stuck minutes, retention days), its default without the feature."""
    queue = app.get(ALERTS)
    return queue.config.value(key) if queue is not None else DEFAULTS[key]


async def chrome_kinds(app: web.Application) -> list[str]:
    queue = app.get(ALERTS)
    return queue.config.kinds("chrome") if queue is not None else list(DEFAULTS["chrome"]["kinds"])


routes = web.RouteTableDef()


async def _public(queue: AlertQueue) -> dict[str, Any]:
    return {**queue.config.public(), "status": await queue.status()}


@routes.get(f"{API}/alerts")
async def get_alerts(request: web.Request) -> web.Response:
    return web.json_response(await _public(request.app[ALERTS]))


@routes.put(f"{API}/alerts")
async def put_alerts(request: web.Request) -> web.Response:
    queue = request.app[ALERTS]
    body = await read_json(request)
    try:
        await queue.config.update(body)
    except SettingsError as exc:
        return error_response(
            400,
            "VALIDATION_FAILED",
            "通知の設定に誤りがあります",
            f"invalid alert settings: {exc}",
            fields={k: ja for k, (ja, _en) in exc.fields.items()},
            fields_en={k: en for k, (_ja, en) in exc.fields.items()},
        )
    queue.wake()  # a channel switched off drops its waiting alerts; one switched on may send
    return web.json_response(await _public(queue))


@routes.post(f"{API}/alerts/test")
async def post_test(request: web.Request) -> web.Response:
    body = await read_json(request)
    channel = body.get("channel") if isinstance(body, dict) else None
    if channel not in CHANNELS:
        return error_response(
            400,
            "VALIDATION_FAILED",
            "送信先（メール・Chatwork・LINE）を選んでください",
            f"channel must be one of {CHANNELS}",
            fields={"channel": "email・chatwork・line のいずれかです"},
        )
    return web.json_response(await request.app[ALERTS].test_send(channel))


def setup(app: web.Application) -> None:
    app.add_routes(routes)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        config = AlertConfig(app[DB], SecretBox.load(app[CONFIG].data_dir))
        await config.load()
        endpoints = app.get(ALERT_ENDPOINTS) or AlertEndpoints.from_env()
        queue = AlertQueue(app[DB], config, endpoints, app.get(ALERT_OPTIONS))
        await queue.start()
        app[ALERTS] = queue
        recorder = app.get(HISTORY)
        if recorder is not None:
            recorder.on_new(queue.enqueue, queue.wake)
        task = None
        if app[CONFIG].workers:
            task = asyncio.create_task(queue.run(), name="alert-queue")
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await queue.close()

    app.cleanup_ctx.append(ctx)
