"""Each refusal of the security middlewares, and pairing."""

from __future__ import annotations

import pytest

from companion.keys import DB, PAIRING
from companion.pairing import MAX_FAILURES, create_code
from tests.conftest import pair_client

EXT = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"


async def test_health_is_open_and_says_nothing_secret(companion) -> None:
    resp = await companion.get("/api/v1/health")
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == {"ok", "version", "paired"}
    assert body["paired"] is False


async def test_foreign_host_header_is_refused(companion, auth) -> None:
    port = companion.server.port
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}"):
        resp = await companion.get("/api/v1/status", headers={**auth, "Host": host})
        assert resp.status == 403, host
        assert (await resp.json())["error"]["code"] == "HOST_NOT_ALLOWED"
    ok = await companion.get("/api/v1/status", headers={**auth, "Host": f"localhost:{port}"})
    assert ok.status == 200


async def test_web_page_origin_gets_nothing(companion, auth) -> None:
    for path in ("/api/v1/status", "/api/v1/health", "/api/v1/settings"):
        resp = await companion.get(path, headers={**auth, "Origin": "https://evil.example"})
        assert resp.status == 403
        assert "Access-Control-Allow-Origin" not in resp.headers
        assert (await resp.json())["error"]["code"] == "ORIGIN_NOT_ALLOWED"
    # a web page cannot pair either, even with a right code
    code = await create_code(companion.app[DB])
    resp = await companion.post(
        "/api/v1/pair", json={"code": code}, headers={"Origin": "https://evil.example"}
    )
    assert resp.status == 403


async def test_missing_and_wrong_token_are_401(companion, auth) -> None:
    assert (await companion.get("/api/v1/status")).status == 401
    bad = {"Authorization": "Bearer " + "x" * 43}
    assert (await companion.get("/api/v1/status", headers=bad)).status == 401
    assert (
        await companion.get("/api/v1/status", headers={"Authorization": "Basic abc"})
    ).status == 401
    assert (await companion.get("/api/v1/status", headers=auth)).status == 200


async def test_pairing_learns_the_extension_origin_and_cors_answers_only_it(companion) -> None:
    token = await pair_client(companion, origin=EXT)
    headers = {"Authorization": f"Bearer {token}", "Origin": EXT}
    resp = await companion.get("/api/v1/settings", headers=headers)
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == EXT
    assert resp.headers["Access-Control-Allow-Origin"] != "*"
    other = "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba"
    resp = await companion.get(
        "/api/v1/settings", headers={"Authorization": f"Bearer {token}", "Origin": other}
    )
    assert resp.status == 403
    preflight = await companion.options(
        "/api/v1/settings", headers={"Origin": EXT, "Access-Control-Request-Method": "PUT"}
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == EXT
    # a service worker's GET carries no Origin: the token alone authenticates it
    assert (
        await companion.get("/api/v1/status", headers={"Authorization": f"Bearer {token}"})
    ).status == 200


async def test_codes_are_single_use(companion) -> None:
    code = await create_code(companion.app[DB])
    assert (await companion.post("/api/v1/pair", json={"code": code})).status == 200
    assert (await companion.post("/api/v1/pair", json={"code": code})).status == 403


async def test_five_wrong_codes_lock_pairing(companion) -> None:
    good = await create_code(companion.app[DB])
    wrong = "0" * 8 if good != "0" * 8 else "1" * 8
    for _ in range(MAX_FAILURES - 1):
        resp = await companion.post("/api/v1/pair", json={"code": wrong})
        assert resp.status == 403
    resp = await companion.post("/api/v1/pair", json={"code": wrong})
    assert resp.status == 403  # the fifth failure sets the lock
    locked = await companion.post("/api/v1/pair", json={"code": good})
    assert locked.status == 429
    assert (await locked.json())["error"]["code"] == "PAIRING_LOCKED"
    assert int(locked.headers["Retry-After"]) > 0
    # lift the rest as time would, and the good code still works
    for guesses in companion.app[PAIRING]._guesses.values():
        guesses.resting_until = 0.0
    assert (await companion.post("/api/v1/pair", json={"code": good})).status == 200


@pytest.mark.parametrize("body", [b"not json", b'{"code": "abc"}', b"[1,2]", b'{"code": null}'])
async def test_bad_pair_bodies_get_400(companion, body: bytes) -> None:
    resp = await companion.post(
        "/api/v1/pair", data=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400


async def test_expired_code_is_refused(companion) -> None:
    from sqlalchemy import update

    from companion.db.models import PairingCode, utcnow

    code = await create_code(companion.app[DB])
    async with companion.app[DB].session() as s, s.begin():
        await s.execute(update(PairingCode).values(expires_at=utcnow()))
    assert (await companion.post("/api/v1/pair", json={"code": code})).status == 403


async def test_token_is_stored_hashed(companion, data_dir) -> None:
    token = await pair_client(companion)
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


async def test_concurrent_guesses_cannot_outrun_the_lock(companion) -> None:
    import asyncio

    good = await create_code(companion.app[DB])
    wrong = "0" * 8 if good != "0" * 8 else "1" * 8
    answers = await asyncio.gather(
        *(companion.post("/api/v1/pair", json={"code": wrong}) for _ in range(40))
    )
    statuses = [r.status for r in answers]
    assert statuses.count(403) == MAX_FAILURES  # only five guesses were ever checked
    assert statuses.count(429) == 40 - MAX_FAILURES


async def test_errors_reach_the_paired_extension_with_cors(companion) -> None:
    token = await pair_client(companion, origin=EXT)
    resp = await companion.get(
        "/api/v1/nowhere", headers={"Authorization": f"Bearer {token}", "Origin": EXT}
    )
    assert resp.status == 404
    assert resp.headers["Access-Control-Allow-Origin"] == EXT
    assert (await resp.json())["error"]["code"]
