"""`POST /api/v1/diagnose`: the options page's 「接続診断」 runs the diagnosis in the companion.

It uses the companion's own store session (one Chromium, one login) and its settings; the zip goes
to the data directory's `exports/diagnosis` folder and the answer carries the Japanese summary and
the zip's path. One diagnosis at a time.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web

from companion.diagnose.bundle import run_diagnosis
from companion.keys import CONFIG, SETTINGS, STORE
from companion.middlewares import API, error_response

log = logging.getLogger(__name__)

routes = web.RouteTableDef()
LOCK = web.AppKey("diagnose_lock", asyncio.Lock)


@routes.post(f"{API}/diagnose")
async def diagnose(request: web.Request) -> web.Response:
    app = request.app
    lock = app[LOCK]
    if lock.locked():
        return error_response(
            409,
            "DIAGNOSIS_RUNNING",
            "接続診断を実行中です。終わるまでお待ちください。",
            "a diagnosis is already running",
        )
    async with lock, aiohttp.ClientSession() as http:
        out = app[CONFIG].exports_dir / "diagnosis"
        result = await run_diagnosis(app[SETTINGS], app[STORE], http, out)
    return web.json_response(result.as_dict())


def setup(app: web.Application) -> None:
    app[LOCK] = asyncio.Lock()
    app.add_routes(routes)
