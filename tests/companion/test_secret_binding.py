"""Secrets are bound to the host they were entered for: a token holder cannot send them elsewhere.

The recorder is a real HTTP server on 127.0.0.1 that writes down every request it gets; the
tests assert that no secret ever reaches it.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from companion.keys import RECORE, SETTINGS
from companion.settings import SettingsStore
from tests.conftest import pair_client

API_KEY = "eyJhbGciOiJIUzI1NiJ9.bound-recore-key.sig"
PASSWORD = "Yahoo-P@ss-bound-1234"
# stands in for the real co-api (https, another host than the recorder; refuses connections)
REAL_URL = "https://127.0.0.1:9"


class Recorder:
    """Every request as (method, path, headers, body); answers like an empty ReCORE."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.record)

    async def record(self, request: web.Request) -> web.Response:
        self.requests.append(
            (request.method, request.path, dict(request.headers), await request.read())
        )
        return web.json_response([])

    def saw(self, secret: str) -> bool:
        return any(
            secret in str(headers) or secret.encode() in body
            for _m, _p, headers, body in self.requests
        )


@pytest.fixture
async def recorder(aiohttp_server: Any) -> tuple[Recorder, TestServer]:
    rec = Recorder()
    server = await aiohttp_server(rec.app)
    return rec, server


async def _settings(companion: Any, auth: dict[str, str], patch: dict[str, Any]) -> Any:
    resp = await companion.put("/api/v1/settings", json=patch, headers=auth)
    return resp.status, await resp.json()


async def test_moving_the_recore_url_clears_the_key_and_sends_it_nowhere(
    companion, auth, recorder
) -> None:
    rec, server = recorder
    service = companion.app[RECORE]
    status, body = await _settings(
        companion,
        auth,
        {"recore_api_url": REAL_URL, "recore_api_key": API_KEY, "ec_account_id": 7},
    )
    assert status == 200 and body["recore_api_key"] == {"set": True}

    # a token holder points the URL at its own server
    elsewhere = str(server.make_url("")).rstrip("/")
    status, body = await _settings(companion, auth, {"recore_api_url": elsewhere})
    assert status == 200
    assert body["recore_api_key"] == {"set": False}  # staff see it must be entered again
    await service.settled()
    await service.gateway.poll_once()
    assert not rec.saw(API_KEY)
    assert await companion.app[SETTINGS].secret("recore_api_key") is None

    # pointing it back does not bring the key back either: it was cleared, not hidden
    await _settings(companion, auth, {"recore_api_url": REAL_URL})
    assert await companion.app[SETTINGS].secret("recore_api_key") is None

    # the recorder is reachable: a key entered *for* it does arrive (the test can fail)
    await _settings(companion, auth, {"recore_api_url": elsewhere, "recore_api_key": "for-it-1"})
    await service.settled()
    await service.gateway.poll_once()
    assert rec.saw("for-it-1")


async def test_same_url_spelled_differently_keeps_the_key(companion, auth) -> None:
    await _settings(
        companion,
        auth,
        {"recore_api_url": REAL_URL, "recore_api_key": API_KEY},
    )
    _, body = await _settings(companion, auth, {"recore_api_url": "HTTPS://127.0.0.1:9/"})
    assert body["recore_api_key"] == {"set": True}
    await companion.app[RECORE].settled()


async def test_yahoo_base_url_is_not_settable_through_the_api(make_companion) -> None:
    companion = await make_companion(yahoo_base_url="http://127.0.0.1:9")
    auth = {"Authorization": f"Bearer {await pair_client(companion)}"}
    status, body = await _settings(
        companion, auth, {"yahoo_base_url": "https://recorder.example", "yahoo_id": "shop"}
    )
    assert status == 400
    assert "起動時" in body["error"]["fields"]["yahoo_base_url"]
    settings = await (await companion.get("/api/v1/settings", headers=auth)).json()
    assert settings["yahoo_base_url"] == "http://127.0.0.1:9"  # shown, unchanged
    assert settings["yahoo_id"] is None  # nothing of the refused patch was stored


async def test_yahoo_passwords_follow_only_the_store_they_were_entered_for(
    make_companion, data_dir
) -> None:
    first = await make_companion(yahoo_base_url="http://127.0.0.1:9")
    auth = {"Authorization": f"Bearer {await pair_client(first)}"}
    await _settings(first, auth, {"yahoo_password": PASSWORD, "business_password": PASSWORD})
    assert await first.app[SETTINGS].secret("yahoo_password") == PASSWORD
    await first.close()

    # started again with the store elsewhere (or the real Yahoo): the passwords are not handed out
    for elsewhere in ("http://127.0.0.1:10", None):
        again = await make_companion(yahoo_base_url=elsewhere)
        store: SettingsStore = again.app[SETTINGS]
        assert await store.secret("yahoo_password") is None
        assert await store.secret("business_password") is None
        assert (await store.public())["yahoo_password"] == {"set": False}
        await again.close()

    back = await make_companion(yahoo_base_url="http://127.0.0.1:9")
    assert await back.app[SETTINGS].secret("yahoo_password") == PASSWORD
