"""`recore-connector login`: staff log in once; the unattended runs re-use that session."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from companion.keys import STORE
from tests.conftest import both_worlds
from tests.direct.conftest import WiredFactory

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def _login(data_dir: Path, store: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECORE_CONNECTOR_NO_KEYRING": "1", "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "companion.cli",
            "login",
            "--headless",
            "--data-dir",
            str(data_dir),
            "--yahoo-base-url",
            store,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@both_worlds
async def test_login_command_then_runs_reuse_the_session(
    make_wired: WiredFactory, data_dir: Path
) -> None:
    wired = await make_wired(listings=2)
    await wired.sb.yahoo_faults(sms_wall=True)
    out = await asyncio.to_thread(_login, data_dir, wired.sb.yahoo_url)
    assert out.returncode == 1, out
    assert "SMS認証" in out.stdout and "利用しない" in out.stdout

    await wired.sb.yahoo_faults(sms_wall=False)
    out = await asyncio.to_thread(_login, data_dir, wired.sb.yahoo_url)
    assert out.returncode == 0, out
    assert "ログインしました" in out.stdout
    assert "demo-pass-1234" not in out.stdout + out.stderr

    # the session saved in the profile is used: the run logs in zero times
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "succeeded", job
    assert (await wired.client.app[STORE].browser()).logins == 0


@both_worlds
async def test_staff_finish_the_sms_step_in_the_window(
    make_wired: WiredFactory, tmp_path: Path
) -> None:
    """The window of `recore-connector login` (headless here): the stored ID and passwords are
    filled in, a person types the SMS code, and the session is then kept in the profile."""
    from sandbox.yahoo.app import WORLD
    from scrapers.facts import FACTS, StoreUrls
    from scrapers.session import BrowserSession

    wired = await make_wired(listings=0)
    await wired.sb.yahoo_faults(sms_wall=True)
    store = wired.client.app[STORE]
    session = BrowserSession(
        tmp_path / "profile",
        StoreUrls(FACTS, wired.sb.yahoo_url),
        store.credentials,
        headless=True,
        idle_timeout=0,
    )
    said: list[str] = []
    window = asyncio.create_task(session.interactive_login(wait_seconds=60, on_status=said.append))
    world = wired.sb.yahoo.app[WORLD]
    async with asyncio.timeout(60):  # the person reads the code on the phone …
        while not (codes := [s.sms_code for s in world.sessions.values() if s.sms_code]):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        while not any("確認コード" in s for s in said):  # noqa: ASYNC110 - the window's hint
            await asyncio.sleep(0.1)
    assert session._context is not None
    page = session._context.pages[-1]  # the window interactive_login opened
    await page.locator(", ".join(FACTS.login.one_time_code)).fill(codes[0])  # … and types it
    await page.get_by_role("button", name="認証する").click()
    assert await window is True
    assert any("ログインしました" in s for s in said)
    await session.close()

    # a later unattended start finds the session in the profile: no login, no wall
    again = BrowserSession(
        tmp_path / "profile", StoreUrls(FACTS, wired.sb.yahoo_url), store.credentials
    )
    async with again.use():
        page = await again.new_page()
        await again.open(page, again.urls.item_create())
    assert again.logins == 0
    await again.close()


async def test_another_account_in_the_settings_clears_the_old_login(
    make_wired: WiredFactory,
) -> None:
    """The profile's cookies belong to the account that logged in: naming another Yahoo ID in
    the options clears them before the browser is used again, running or restarted."""
    wired = await make_wired(listings=0)
    store = wired.client.app[STORE]
    session = await store.browser()
    async with session.use() as context:
        page = await context.new_page()
        await session.open(page, session.urls.serinavi_top())
        await page.close()
        assert await context.cookies(), "logged in: the store's cookies are in the profile"
        # the same account again (a re-saved options page, a new password): the login stays
        resp = await wired.client.put(
            "/api/v1/settings", json={"yahoo_password": "changed-pass"}, headers=wired.auth
        )
        assert resp.status == 200
        assert await session.cookies()

        resp = await wired.client.put(
            "/api/v1/settings", json={"yahoo_id": "another_shop"}, headers=wired.auth
        )
        assert resp.status == 200
        assert await session.cookies() == []  # Chromium still running: cleared on next use

    # after a restart of Chromium too: the profile remembers whose login it holds
    await session.close()
    async with session.use() as context:
        await context.add_cookies(
            [{"name": "leftover", "value": "1", "url": session.urls.serinavi_top()}]
        )
    await session.close()
    resp = await wired.client.put(
        "/api/v1/settings", json={"business_id": "another_business"}, headers=wired.auth
    )
    assert resp.status == 200
    fresh = await store.browser()
    assert [c["name"] for c in await fresh.cookies()] == []
    await fresh.close()
