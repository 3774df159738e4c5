"""Foundation routes of `/api/v1`: health, pairing, settings, jobs, status.

Feature routes (pending, batches, direct listing, sync) live beside their features and are added
by the app factory.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from companion import __version__
from companion.keys import JOBS, PAIRING, SETTINGS
from companion.middlewares import API, error_response
from companion.pairing import PairingLocked
from companion.settings import SettingsError
from companion.status import build_status

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


async def read_json(request: web.Request) -> Any:
    """The body as JSON, or a 400 that says so (never a 500)."""
    try:
        return await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise web.HTTPBadRequest(
            text=json.dumps(
                {
                    "error": {
                        "code": "BAD_JSON",
                        "message": "リクエストの形式が正しくありません（JSON）",
                        "message_en": "body is not valid JSON",
                    }
                }
            ),
            content_type="application/json",
        ) from None


@routes.get(f"{API}/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response(
        {"ok": True, "version": __version__, "paired": request.app[PAIRING].is_paired}
    )


@routes.post(f"{API}/pair")
async def pair(request: web.Request) -> web.Response:
    body = await read_json(request)
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, str | int) or not str(code).strip().isdigit():
        return error_response(
            400,
            "VALIDATION_FAILED",
            "ペアリングコード（数字）を入力してください",
            "code must be digits",
        )
    try:
        token = await request.app[PAIRING].redeem(str(code).strip(), request.headers.get("Origin"))
    except PairingLocked as locked:
        return web.json_response(
            {
                "error": {
                    "code": "PAIRING_LOCKED",
                    "message": "コードの誤りが続いたため、1分間ペアリングできません。",
                    "message_en": "too many wrong codes; pairing locked for a minute",
                }
            },
            status=429,
            headers={"Retry-After": str(int(locked.retry_after) + 1)},
        )
    if token is None:
        log.warning("pairing refused: wrong or expired code")
        return error_response(
            403,
            "PAIRING_FAILED",
            "コードが違うか期限切れです。`recore-connector pair` で新しいコードを出してください。",
            "wrong or expired pairing code",
        )
    log.info("paired with origin %s", request.headers.get("Origin") or "(none)")
    return web.json_response({"token": token})


@routes.get(f"{API}/settings")
async def get_settings(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SETTINGS].public())


@routes.put(f"{API}/settings")
async def put_settings(request: web.Request) -> web.Response:
    body = await read_json(request)
    try:
        return web.json_response(await request.app[SETTINGS].update(body))
    except SettingsError as exc:
        return error_response(
            400,
            "VALIDATION_FAILED",
            "設定に誤りがあります",
            f"invalid settings: {exc}",
            fields={k: ja for k, (ja, _en) in exc.fields.items()},
            fields_en={k: en for k, (_ja, en) in exc.fields.items()},
        )


@routes.get(f"{API}/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    try:
        limit = min(max(int(request.query.get("limit", "20")), 1), 100)
    except ValueError:
        limit = 20
    jobs = await request.app[JOBS].list(request.query.get("kind"), limit)
    return web.json_response({"jobs": jobs})


@routes.get(f"{API}/jobs/{{job_id}}")
async def get_job(request: web.Request) -> web.Response:
    job = await request.app[JOBS].get(request.match_info["job_id"])
    if job is None:
        return error_response(404, "NOT_FOUND", "その処理は見つかりません", "no such job")
    return web.json_response(job)


@routes.get(f"{API}/status")
async def status(request: web.Request) -> web.Response:
    return web.json_response(await build_status(request.app))
