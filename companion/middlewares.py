"""Security middlewares, in order: Host → Origin (+CORS) → errors → bearer token → inputs.

Modelled on Jupyter Server's checks for a localhost server: a Host allow-list against DNS
rebinding, an Origin allow-list against other web pages, and a token for everything else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from companion.inputs import inputs_middleware
from companion.keys import DISK, PAIRING
from companion.loopback import host_allowed
from companion.resources import DISK_FULL, local_problem

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

API = "/api/v1"
OPEN_PATHS = frozenset({f"{API}/health", f"{API}/pair", f"{API}/prove"})
EXTENSION_SCHEME = "chrome-extension://"
TOKEN_ID = web.RequestKey("token_id", int)  # the live token the request came with


def error_response(
    status: int, code: str, message: str, message_en: str, **extra: object
) -> web.Response:
    body: dict[str, object] = {"code": code, "message": message, "message_en": message_en, **extra}
    return web.json_response({"error": body}, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return error_response(exc.status, "HTTP_ERROR", exc.reason, exc.reason)
        raise
    except Exception as exc:
        problem = local_problem(exc)
        if problem is not None:  # the PC's disk or database: say what to do, not "see the log"
            disk = request.app.get(DISK)
            if disk is not None:
                disk.problem_seen(problem)  # room for this line in the log
            log.warning("%s %s: %s", request.method, request.path, problem.message_en)
            status = 507 if problem.code == DISK_FULL else 503
            return error_response(status, problem.code, problem.request_message, problem.message_en)
        # English in the log with the traceback; the body says nothing about internals or secrets
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(
            500,
            "INTERNAL_ERROR",
            "コンパニオンで予期しないエラーが起きました。ログを確認してください。",
            "unexpected error in the companion; see its log",
        )


@web.middleware
async def host_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Only our own loopback names with our own port: a rebound DNS name gets nothing."""
    if not host_allowed(request):
        log.warning("refused Host %r", request.headers.get("Host"))
        return error_response(
            403, "HOST_NOT_ALLOWED", "このホスト名では接続できません", "Host not allowed"
        )
    return await handler(request)


def _cors_headers(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


@web.middleware
async def origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Origin absent (CLI, service worker GET) or the paired extension; nothing else."""
    origin = request.headers.get("Origin")
    paired = request.app[PAIRING].paired_origin
    allowed = origin is None or origin == paired
    # Pairing itself: any extension may ask, the one-time code is what authenticates it.
    if not allowed and request.path == f"{API}/pair" and origin.startswith(EXTENSION_SCHEME):
        allowed = True
    if not allowed:
        log.warning("refused Origin %r on %s", origin, request.path)
        return error_response(
            403, "ORIGIN_NOT_ALLOWED", "この接続元からは利用できません", "Origin not allowed"
        )
    if request.method == "OPTIONS" and origin is not None:
        return web.Response(status=204, headers=_cors_headers(origin))
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        # the paired extension must read a 404's JSON, not meet a CORS failure
        if origin is not None:
            exc.headers.update(_cors_headers(origin))
        raise
    if origin is not None:
        response.headers.update(_cors_headers(origin))
    return response


@web.middleware
async def token_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPEN_PATHS or not request.path.startswith(API):
        return await handler(request)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token_id = request.app[PAIRING].check_token(token) if scheme.lower() == "bearer" else None
    if token_id is None:
        return error_response(
            401,
            "UNAUTHORIZED",
            "ペアリングが必要です。拡張機能のオプション画面でペアリングしてください。",
            "missing or invalid bearer token",
        )
    request[TOKEN_ID] = token_id
    return await handler(request)


MIDDLEWARES = [
    host_middleware,
    origin_middleware,
    errors_middleware,
    token_middleware,
    inputs_middleware,
]
