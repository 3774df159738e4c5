"""`recore-connector login`: staff log in once; the unattended runs re-use that session."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.direct.conftest import WiredFactory

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def _login(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECORE_CONNECTOR_NO_KEYRING": "1", "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    return subprocess.run(
        [sys.executable, "-m", "companion.cli", "login", "--headless", "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_login_command_then_runs_reuse_the_session(
    make_wired: WiredFactory, data_dir: Path
) -> None:
    wired = await make_wired(listings=2)
    await wired.sb.yahoo_faults(sms_wall=True)
    out = await asyncio.to_thread(_login, data_dir)
    assert out.returncode == 1, out
    assert "SMS認証" in out.stdout and "利用しない" in out.stdout

    await wired.sb.yahoo_faults(sms_wall=False)
    out = await asyncio.to_thread(_login, data_dir)
    assert out.returncode == 0, out
    assert "ログインしました" in out.stdout
    assert "demo-pass-1234" not in out.stdout + out.stderr

    # the session saved in the profile is used: the run logs in zero times
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "succeeded", job
    assert wired.services["direct_listing"]._session.logins == 0
