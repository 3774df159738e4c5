"""Pairing's ends and proofs: revocation, one live token per extension, wrong guesses held per
code, and the companion's answer to the extension's challenge."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from companion.keys import DB
from companion.pairing import MAX_FAILURES, PROOF_CONTEXT, create_code

EXT = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
OTHER_EXT = "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba"


async def _pair(client: Any, origin: str | None = None) -> dict[str, str]:
    code = await create_code(client.app[DB])
    headers = {"Origin": origin} if origin else {}
    resp = await client.post("/api/v1/pair", json={"code": code}, headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


def _auth(paired: dict[str, str], origin: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {paired['token']}"}
    return {**headers, "Origin": origin} if origin else headers


async def _works(client: Any, paired: dict[str, str], origin: str | None = None) -> bool:
    resp = await client.get("/api/v1/status", headers=_auth(paired, origin))
    assert resp.status in (200, 401)
    return resp.status == 200


async def test_a_fresh_code_is_not_held_back_by_a_strangers_guesses(companion) -> None:
    old = await create_code(companion.app[DB])
    wrong = "0" * 8 if old != "0" * 8 else "1" * 8
    for _ in range(MAX_FAILURES):
        assert (await companion.post("/api/v1/pair", json={"code": wrong})).status == 403
    # the code that existed while the stranger guessed rests for a minute …
    assert (await companion.post("/api/v1/pair", json={"code": old})).status == 429
    # … but staff print a new one and it works at once
    fresh = await create_code(companion.app[DB])
    resp = await companion.post("/api/v1/pair", json={"code": fresh})
    assert resp.status == 200, await resp.text()


async def test_each_code_still_takes_only_five_guesses_a_minute(companion) -> None:
    await create_code(companion.app[DB])
    wrong = [f"{n:08d}" for n in range(12)]
    statuses = [
        (await companion.post("/api/v1/pair", json={"code": guess})).status for guess in wrong
    ]
    assert statuses == [403] * MAX_FAILURES + [429] * (len(wrong) - MAX_FAILURES)


async def test_unpair_revokes_the_token_on_the_companion(companion) -> None:
    paired = await _pair(companion, EXT)
    assert await _works(companion, paired, EXT)
    resp = await companion.delete("/api/v1/pairings/current", headers=_auth(paired, EXT))
    assert resp.status == 200
    assert not await _works(companion, paired)
    # and its proof key answers no more
    resp = await companion.post(
        "/api/v1/prove", json={"key_id": paired["key_id"], "challenge": "A" * 43}
    )
    assert resp.status == 403


async def test_re_pairing_leaves_one_live_token_per_extension(companion) -> None:
    script = await _pair(companion)  # paired without an Origin (a script, an older extension)
    first = await _pair(companion, EXT)
    assert not await _works(companion, script)  # an extension's pairing ends origin-less tokens
    second = await _pair(companion, EXT)
    assert not await _works(companion, first, EXT)  # re-pairing ends the old token
    assert await _works(companion, second, EXT)
    other = await _pair(companion, OTHER_EXT)
    assert not await _works(companion, second)  # one extension at a time
    assert await _works(companion, other, OTHER_EXT)


async def test_pairings_are_listed_and_any_one_can_be_revoked(companion) -> None:
    ext = await _pair(companion, EXT)
    script = await _pair(companion)  # an origin-less pairing does not end the extension's
    resp = await companion.get("/api/v1/pairings", headers=_auth(ext, EXT))
    assert resp.status == 200
    listed = (await resp.json())["pairings"]
    assert [(p["origin"], p["current"]) for p in listed] == [(EXT, True), (None, False)]
    assert all(p["created_at"].endswith("Z") for p in listed)
    assert "token" not in str(listed) and ext["token"] not in str(listed)

    script_id = listed[1]["id"]
    resp = await companion.delete(f"/api/v1/pairings/{script_id}", headers=_auth(ext, EXT))
    assert resp.status == 200
    assert not await _works(companion, script)
    assert await _works(companion, ext, EXT)
    resp = await companion.delete(f"/api/v1/pairings/{script_id}", headers=_auth(ext, EXT))
    assert resp.status == 404
    # a web page cannot do it (CORS preflight answers only the paired extension)
    resp = await companion.options(
        "/api/v1/pairings/current",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "DELETE"},
    )
    assert resp.status == 403
    resp = await companion.options(
        "/api/v1/pairings/current",
        headers={"Origin": EXT, "Access-Control-Request-Method": "DELETE"},
    )
    assert "DELETE" in resp.headers["Access-Control-Allow-Methods"]


def _expected(paired: dict[str, str], challenge: str, address: str) -> str:
    key = base64.urlsafe_b64decode(paired["proof_key"] + "=" * (-len(paired["proof_key"]) % 4))
    message = f"{PROOF_CONTEXT}\n{challenge}\n{address}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def test_the_companion_proves_itself_for_the_address_it_was_reached_at(companion) -> None:
    paired = await _pair(companion, EXT)
    assert set(paired) == {"token", "key_id", "proof_key"}
    challenge = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    resp = await companion.post(
        "/api/v1/prove",
        json={"key_id": paired["key_id"], "challenge": challenge},
        headers={"Origin": EXT},  # no token: the proof comes before it
    )
    assert resp.status == 200
    answer = (await resp.json())["proof"]
    port = companion.server.port
    assert answer == _expected(paired, challenge, f"127.0.0.1:{port}")
    # a relay that passes the challenge on gets an answer for *this* address, not its own
    assert answer != _expected(paired, challenge, f"127.0.0.1:{port + 1}")
    for bad in ({"key_id": paired["key_id"], "challenge": "short"}, {"challenge": challenge}, []):
        assert (await companion.post("/api/v1/prove", json=bad)).status == 400
    unknown = {"key_id": "x" * 16, "challenge": challenge}
    assert (await companion.post("/api/v1/prove", json=unknown)).status == 403


async def test_the_proof_key_is_stored_encrypted(companion, data_dir) -> None:
    paired = await _pair(companion, EXT)
    for path in data_dir.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert paired["proof_key"].encode() not in raw, path
            assert paired["token"].encode() not in raw, path
