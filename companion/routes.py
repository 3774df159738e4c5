"""Foundation routes of `/api/v1`: health, pairing (and its proof and revocation), settings,
jobs, status.

Feature routes (pending, batches, direct listing, sync) live beside their features and are added
by the app factory.
"""

from __future__ import annotations

import logging

from aiohttp import web

from companion import __version__
from companion.inputs import path_id, query_int, read_json
from companion.keys import JOBS, PAIRING, SETTINGS
from companion.loopback import local_address
from companion.middlewares import API, TOKEN_ID, error_response
from companion.pairing import CHALLENGE, PairingLocked
from companion.settings import SettingsError
from companion.status import build_status

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


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
        paired = await request.app[PAIRING].redeem(str(code).strip(), request.headers.get("Origin"))
    except PairingLocked as locked:
        return web.json_response(
            {
                "error": {
                    "code": "PAIRING_LOCKED",
                    "message": "コードの誤りが続いたため、このコードは1分間使えません。"
                    "`recore-connector pair` で新しいコードを出すと、すぐにペアリングできます。",
                    "message_en": "too many wrong codes: this code rests for a minute; "
                    "a new code works at once",
                }
            },
            status=429,
            headers={"Retry-After": str(int(locked.retry_after) + 1)},
        )
    if paired is None:
        log.warning("pairing refused: wrong or expired code")
        return error_response(
            403,
            "PAIRING_FAILED",
            "コードが違うか期限切れです。`recore-connector pair` で新しいコードを出してください。",
            "wrong or expired pairing code",
        )
    log.info("paired with origin %s", request.headers.get("Origin") or "(none)")
    return web.json_response(paired.to_dict())


@routes.post(f"{API}/prove")
async def prove(request: web.Request) -> web.Response:
    """The extension's check, before it sends its token or a secret, that this is the companion
    it paired with: `{"key_id", "challenge"}` → `{"proof"}` (see `pairing.proof`)."""
    body = await read_json(request)
    key_id = body.get("key_id") if isinstance(body, dict) else None
    challenge = body.get("challenge") if isinstance(body, dict) else None
    if (
        not isinstance(key_id, str)
        or not isinstance(challenge, str)
        or not CHALLENGE.match(challenge)
    ):
        return error_response(
            400,
            "VALIDATION_FAILED",
            "確認用の値（key_id, challenge）が正しくありません",
            "key_id and a base64url challenge of 16-64 bytes are required",
        )
    ip, port = local_address(request) or ("", 0)
    address = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    answer = request.app[PAIRING].prove(key_id, challenge, address)
    if answer is None:
        return error_response(
            403,
            "UNKNOWN_PAIRING",
            "このペアリングは解除されたか、見つかりません。もう一度ペアリングしてください。",
            "no live pairing has this key id",
        )
    return web.json_response({"proof": answer})


@routes.get(f"{API}/pairings")
async def list_pairings(request: web.Request) -> web.Response:
    return web.json_response({"pairings": request.app[PAIRING].pairings(request[TOKEN_ID])})


async def _revoke(request: web.Request, token_id: int) -> web.Response:
    if not await request.app[PAIRING].revoke(token_id):
        return error_response(404, "NOT_FOUND", "そのペアリングは見つかりません", "no such pairing")
    log.info("pairing %d revoked", token_id)
    return web.json_response({"revoked": token_id})


@routes.delete(f"{API}/pairings/current")
async def revoke_current_pairing(request: web.Request) -> web.Response:
    """「ペアリングを解除」: the extension's own token ends here, not only in the extension."""
    return await _revoke(request, request[TOKEN_ID])


@routes.delete(f"{API}/pairings/{{pairing_id}}")
async def revoke_pairing(request: web.Request) -> web.Response:
    return await _revoke(request, path_id(request, "pairing_id"))


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
    limit = query_int(request, "limit", 20, lo=1, hi=100)
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
