"""`/health` names the companion and its API version; a call from an extension of another API
version hears which side to update (426), never an odd error further on."""

from __future__ import annotations

from companion.api_version import API_HEADER, API_VERSION, APP_NAME, MIN_EXTENSION_API
from tests.conftest import pair_client

EXT = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"


async def test_health_names_the_application_and_its_api(companion) -> None:
    resp = await companion.get("/api/v1/health", headers={API_HEADER: "999"})
    assert resp.status == 200  # health answers every version: it is how versions are told
    body = await resp.json()
    assert body["app"] == APP_NAME == "recore-connector"
    assert body["api_version"] == API_VERSION
    assert body["min_extension_api"] == MIN_EXTENSION_API


async def test_an_older_extension_is_told_to_update_itself(companion) -> None:
    token = await pair_client(companion, origin=EXT)
    auth = {"Authorization": f"Bearer {token}", "Origin": EXT}
    for sent in (str(MIN_EXTENSION_API - 1), "abc", "1" * 20, ""):
        resp = await companion.get("/api/v1/status", headers={**auth, API_HEADER: sent})
        assert resp.status == 426, sent
        error = (await resp.json())["error"]
        assert error["code"] == "EXTENSION_OUTDATED"
        assert "拡張機能を更新してください" in error["message"]
        # the extension can read the refusal (CORS), so staff see the sentence
        assert resp.headers["Access-Control-Allow-Origin"] == EXT
    ok = await companion.get("/api/v1/status", headers={**auth, API_HEADER: str(API_VERSION)})
    assert ok.status == 200


async def test_a_newer_extension_is_told_to_update_the_companion(companion) -> None:
    token = await pair_client(companion, origin=EXT)
    headers = {"Authorization": f"Bearer {token}", "Origin": EXT, API_HEADER: "2"}
    resp = await companion.get("/api/v1/settings", headers=headers)
    assert resp.status == 426
    error = (await resp.json())["error"]
    assert error["code"] == "COMPANION_OUTDATED"
    assert "コンパニオンを更新してください" in error["message"]
    # even before pairing or a proof: the version is said first
    resp = await companion.post(
        "/api/v1/prove", json={"key_id": "x", "challenge": "a" * 22}, headers=headers
    )
    assert (await resp.json())["error"]["code"] == "COMPANION_OUTDATED"


async def test_a_call_without_a_version_is_api_1(companion) -> None:
    """The CLI, scripts, and an extension from before versioned calls."""
    token = await pair_client(companion, origin=EXT)
    resp = await companion.get(
        "/api/v1/status", headers={"Authorization": f"Bearer {token}", "Origin": EXT}
    )
    assert resp.status == 200


async def test_the_version_header_may_cross_to_the_extension(companion) -> None:
    token = await pair_client(companion, origin=EXT)
    resp = await companion.options(
        "/api/v1/status",
        headers={"Origin": EXT, "Access-Control-Request-Headers": API_HEADER},
    )
    assert API_HEADER in resp.headers["Access-Control-Allow-Headers"]
    assert token
