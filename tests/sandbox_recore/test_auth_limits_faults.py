"""Keys (401/403), the 5 requests/s limit (429) and the fault switches."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from sandbox.recore import protocol as p
from sandbox.recore.app import create_app, demo_credentials, mint_key
from sandbox.recore.auth import RateLimiter

from .conftest import ClientFactory


async def test_missing_or_bad_key_is_401(client: TestClient, creds: dict[str, Any]) -> None:
    params = {"ec_account_id": creds["ec_account_id"]}
    other_company = jwt.encode(
        {"company_id": 9, "scope": list(p.ALL_SCOPES), "iat": 1},
        "recore-sandbox-signing-key-not-secret",
    )
    forged = jwt.encode(
        {"company_id": creds["company_id"], "scope": list(p.ALL_SCOPES), "iat": 1}, "x" * 32
    )
    no_scope_claim = jwt.encode(
        {"company_id": creds["company_id"], "iat": 1}, "recore-sandbox-signing-key-not-secret"
    )
    for headers in (
        {},
        {"X-Identification": "not-a-jwt"},
        {"X-Identification": forged},
        {"X-Identification": other_company},
        {"X-Identification": no_scope_claim},
    ):
        resp = await client.get("/ec/gateway/tasks", params=params, headers=headers)
        assert resp.status == 401
        body = await resp.json()
        assert body["error"]["code"] == "UNAUTHORIZED"
        assert "APIキー" in body["error"]["message"]


async def test_missing_scope_is_403(
    client: TestClient, app: web.Application, creds: dict[str, Any]
) -> None:
    key = mint_key(app, [p.SCOPE_INVENTORY_INDEX])
    headers = {"X-Identification": key}
    resp = await client.get(
        "/ec/gateway/tasks", params={"ec_account_id": creds["ec_account_id"]}, headers=headers
    )
    assert resp.status == 403
    body = await resp.json()
    assert body["error"]["code"] == "FORBIDDEN"
    assert body["error"]["detail"] == {"scope": ["ec:gateway:task:index が必要です。"]}
    assert (await client.get("/ec/inventories", headers=headers)).status == 200
    resp = await client.post("/ec/gateway/order/upsert", json={}, headers=headers)
    assert resp.status == 403  # scope is checked before the body


async def test_store_header(client: TestClient, app: web.Application) -> None:
    scoped = {"X-Identification": mint_key(app, [p.SCOPE_INVENTORY_INDEX], store_id=1)}
    assert (
        await client.get("/ec/inventories", headers={**scoped, "X-Store-Id": "1"})
    ).status == 200
    assert (
        await client.get("/ec/inventories", headers={**scoped, "X-Store-Id": "2"})
    ).status == 403
    free = {"X-Identification": mint_key(app, [p.SCOPE_INVENTORY_INDEX])}
    assert (await client.get("/ec/inventories", headers={**free, "X-Store-Id": "2"})).status == 200
    resp = await client.get("/ec/inventories", headers={**free, "X-Store-Id": "abc"})
    assert resp.status == 400 and "X-Store-Id" in (await resp.json())["error"]["detail"]


async def test_rate_limit_is_per_endpoint_and_key(aiohttp_client: ClientFactory) -> None:
    app = create_app()  # the real limit: 5 requests/s
    client = await aiohttp_client(app)
    auth = {"X-Identification": demo_credentials(app)["api_key"]}
    statuses = []
    for _ in range(12):
        resp = await client.get("/ec/inventories", params={"limit": 1}, headers=auth)
        statuses.append(resp.status)
        if resp.status == 429:
            assert int(resp.headers["Retry-After"]) >= 1
            assert (await resp.json())["error"]["code"] == "TOO_MANY_REQUESTS"
            break
    assert statuses[:5] == [200] * 5 and statuses[-1] == 429
    # Another endpoint and another key have their own windows.
    assert (await client.get("/ec/orders", headers=auth)).status == 200
    other = {"X-Identification": mint_key(app, [p.SCOPE_INVENTORY_INDEX])}
    assert (await client.get("/ec/inventories", headers=other)).status == 200


def test_rate_limiter_sliding_window() -> None:
    limiter = RateLimiter(5)
    bucket = ("key", "127.0.0.1", "GET /ec/inventories")
    assert [limiter.check(bucket, now=10.0 + i * 0.1) for i in range(5)] == [None] * 5
    wait = limiter.check(bucket, now=10.5)
    assert wait == pytest.approx(0.5)
    assert limiter.check(bucket, now=10.99) is not None  # refusals are not counted...
    assert limiter.check(bucket, now=11.0) is None  # ...so the first request has left the window
    assert RateLimiter.retry_after_header(0.2) == "1"


async def _tasks_status(client: TestClient, auth: dict[str, str], account: int) -> web.Response:
    return await client.get("/ec/gateway/tasks", params={"ec_account_id": account}, headers=auth)


async def test_faults_down_5xx_storm_slow_and_reset(
    client: TestClient, auth: dict[str, str], creds: dict[str, Any]
) -> None:
    account = creds["ec_account_id"]
    assert (await client.post("/_sandbox/faults", json={"error_5xx": 2})).status == 200
    for _ in range(2):
        resp = await _tasks_status(client, auth, account)
        assert resp.status == 500
        assert (await resp.json())["error"]["code"] == "INTERNAL_SERVER_ERROR"
    assert (await _tasks_status(client, auth, account)).status == 200

    await client.post("/_sandbox/faults", json={"rate_limit_storm": 3})
    for _ in range(3):
        resp = await _tasks_status(client, auth, account)
        assert resp.status == 429 and resp.headers["Retry-After"] == "1"
    assert (await _tasks_status(client, auth, account)).status == 200

    await client.post("/_sandbox/faults", json={"down_seconds": 120})
    resp = await _tasks_status(client, auth, account)
    assert resp.status == 503 and int(resp.headers["Retry-After"]) > 1
    assert (await resp.json())["error"]["code"] == "SERVICE_UNAVAILABLE"
    # Pages, photos and controls stay up: only the protocol is down.
    assert (await client.get("/ui/listings")).status == 200
    assert (await client.get("/images/1.jpg")).status == 200
    faults = (await (await client.get("/_sandbox/state")).json())["faults"]
    assert faults["served"] == {"503": 1, "500": 2, "429": 3} and faults["down_seconds_left"] > 0

    resp = await client.post("/_sandbox/faults", json={"reset": True, "slow_ms": 20})
    assert (await resp.json())["faults"]["slow_ms"] == 20
    assert (await _tasks_status(client, auth, account)).status == 200

    resp = await client.post("/_sandbox/faults", json={"down_seconds": -1, "bogus": 1})
    assert resp.status == 400
    assert set((await resp.json())["error"]["detail"]) == {"down_seconds", "bogus"}


async def test_wrong_method_and_unknown_path_answer_in_envelope(
    client: TestClient, auth: dict[str, str]
) -> None:
    resp = await client.delete("/ec/inventories", headers=auth)
    assert resp.status == 405 and (await resp.json())["error"]["code"] == "METHOD_NOT_ALLOWED"
    resp = await client.get("/ec/nothing", headers=auth)
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "NOT_FOUND"
