"""What stops a run: a changed page (fail, list nothing), SMS認証 and an expired session (pause,
then resume from where it stopped when staff press 直接出品を実行 again)."""

from __future__ import annotations

import asyncio

import pytest

from companion.keys import STORE
from tests.conftest import both_worlds
from tests.direct.conftest import WiredFactory

pytestmark = pytest.mark.browser


@both_worlds
async def test_layout_change_stops_before_any_listing(
    make_wired: WiredFactory, store_world: str
) -> None:
    wired = await make_wired(listings=3)
    before = (await wired.sb.yahoo_state())["counts"]["items"]
    await wired.sb.yahoo_faults(layout_changed=True)
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    assert status == 202
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "failed", job
    assert job["error"]["code"] == "LAYOUT_CHANGED"
    message = job["error"]["message"]
    assert "画面が変わった" in message and "タイトル" in message
    if store_world == "classic":  # its button was renamed too (world next keeps its one button)
        assert "確認する" in message
    assert "何も出品していません" in message
    assert job["items"] == []
    assert (await wired.sb.yahoo_state())["counts"]["items"] == before
    batch = await wired.get(f"/api/v1/batches/{body['batch_id']}")
    assert batch["open_count"] == 3
    # still there under 生成済みリスト, as a zip too
    resp = await wired.client.get(f"/api/v1/batches/{body['batch_id']}/zip", headers=wired.auth)
    assert resp.status == 200
    status = await wired.get("/api/v1/status")
    assert any("画面が変わった" in e["message"] for e in status["last_errors"])


@both_worlds
async def test_sms_wall_pauses_then_resumes(make_wired: WiredFactory) -> None:
    wired = await make_wired(listings=3)
    await wired.sb.yahoo_faults(sms_wall=True)
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "paused", job
    assert job["error"]["code"] == "SMS_AUTH"
    assert "SMS認証" in job["error"]["message"] and "利用しない" in job["error"]["message"]
    assert "recore-connector login" in job["error"]["message"]
    assert job["items"] == []

    # staff switch SMS認証 off and press the button again, from the popup's default source
    # (新規の出品待ち, where nothing new waits): the same job goes on
    await wired.sb.yahoo_faults(sms_wall=False)
    status, again = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    assert status == 202 and again["job_id"] == body["job_id"]
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "succeeded", job
    assert len(job["items"]) == 3
    assert (await wired.sb.yahoo_state())["duplicates"] == {}


@both_worlds
async def test_expired_session_renews_or_pauses_then_resumes(make_wired: WiredFactory) -> None:
    """An expired session with the login stored is renewed by itself; when the new login meets
    SMS認証 the job pauses, and after staff fix it the rest is listed. Nothing lost or doubled.
    Two pages: both meet the login page, one logs in, the other uses that session."""
    wired = await make_wired(listings=2, direct_listing_concurrency=2)
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "succeeded"
    session = await wired.client.app[STORE].browser()
    assert session.logins == 1

    await wired.sb.add_listings(4)
    await wired.poll()
    await wired.sb.yahoo_faults(latency_ms=30)
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    async with asyncio.timeout(60):
        while (await wired.get(f"/api/v1/jobs/{body['job_id']}"))["progress"]["done"] < 1:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await wired.sb.yahoo_faults(expire_sessions=True)
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "succeeded", job
    assert session.logins == 2
    assert (await wired.sb.yahoo_state())["duplicates"] == {}

    # mid-run: the session ends and SMS認証 is switched on after the first item of four
    await wired.sb.add_listings(4)
    await wired.poll()
    await wired.sb.yahoo_faults(latency_ms=30)
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    async with asyncio.timeout(60):
        while (await wired.get(f"/api/v1/jobs/{body['job_id']}"))["progress"]["done"] < 1:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await wired.sb.yahoo_faults(expire_sessions=True, sms_wall=True)
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "paused" and job["error"]["code"] == "SMS_AUTH", job
    assert 1 <= job["progress"]["done"] < 4
    done_before = {i["key"] for i in job["items"]}
    await wired.sb.yahoo_faults(sms_wall=False)
    status, again = await wired.post(f"/api/v1/batches/{body['batch_id']}/direct-listing")
    assert again["job_id"] == body["job_id"]
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "succeeded", job
    assert job["progress"] == {"done": 4, "total": 4}
    assert all(not i["data"].get("already") for i in job["items"] if i["key"] in done_before)
    assert (await wired.sb.yahoo_state())["duplicates"] == {}


@both_worlds
async def test_wrong_password_pauses_with_what_to_fix(make_wired: WiredFactory) -> None:
    wired = await make_wired(listings=1, yahoo_password="wrong-password")
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "paused", job
    assert job["error"]["code"] == "BAD_CREDENTIALS"
    assert "パスワードが間違っています" in job["error"]["message"]
    assert "wrong-password" not in str(job)


async def test_unreachable_then_busy_store_pauses_until_it_answers(
    make_wired: WiredFactory,
) -> None:
    from aiohttp.test_utils import TestServer

    from sandbox.yahoo.app import create_app as create_yahoo
    from tests.conftest import free_port

    # the companion is started for a store that is not there yet (where the store is comes
    # with the companion's configuration, never through PUT /settings)
    port = free_port()
    wired = await make_wired(listings=2, yahoo_base_url=f"http://127.0.0.1:{port}")
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "paused" and job["error"]["code"] == "BROWSER", job
    assert "開けなかった" in job["error"]["message"]

    store = TestServer(create_yahoo(seed=True), host="127.0.0.1", port=port)
    await store.start_server()
    try:
        store_url = f"http://127.0.0.1:{port}"

        async def store_faults(**switches: bool) -> None:
            async with wired.sb.http.post(f"{store_url}/_sandbox/faults", json=switches) as r:
                assert r.status == 200

        await store_faults(error_5xx=True)
        status, again = await wired.post(f"/api/v1/batches/{body['batch_id']}/direct-listing")
        assert again["job_id"] == body["job_id"]
        job = await wired.wait_job(body["job_id"])
        assert job["state"] == "paused" and job["error"]["code"] == "YAHOO_BUSY", job
        assert "混雑" in job["error"]["message"]

        await store_faults(error_5xx=False)
        status, again = await wired.post(f"/api/v1/batches/{body['batch_id']}/direct-listing")
        job = await wired.wait_job(body["job_id"])
        assert job["state"] == "succeeded", job
        async with wired.sb.http.get(f"{store_url}/_sandbox/state") as resp:
            assert (await resp.json())["duplicates"] == {}
    finally:
        await store.close()
