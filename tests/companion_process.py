"""`recore-connector serve` as a real subprocess that tests kill (SIGKILL), restart, or run with
another clock; and a helper to poll another process's state."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


async def until(check: Any, limit: float, every: float = 0.1) -> Any:
    """Poll `check()` (async) until it returns something truthy."""
    async with asyncio.timeout(limit):
        while not (value := await check()):  # noqa: ASYNC110 - polling another process
            await asyncio.sleep(every)
        return value


class CompanionProcess:
    """`recore-connector serve` in a subprocess; killed with SIGKILL, started again.

    `env` adds to the environment; `prelude` is Python run first in the process (before the
    companion is imported), e.g. to keep LD_PRELOAD from reaching Chromium."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        log: Path,
        yahoo_url: str | None = None,
        *,
        env: dict[str, str] | None = None,
        prelude: str = "",
    ) -> None:
        self.data_dir = data_dir
        self.yahoo_url = yahoo_url  # where the store is: configuration, never PUT /settings
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{port}"
        self.prelude = prelude
        self.env = {
            **os.environ,
            "RECORE_CONNECTOR_NO_KEYRING": "1",
            "RECORE_CONNECTOR_DIRECT_PACING_SECONDS": "0",
            "RECORE_CONNECTOR_DIRECT_RETRY_SECONDS": "0.05",
            "RECORE_CONNECTOR_SUBMIT_GRACE_SECONDS": "2",
            "RECORE_CONNECTOR_CONFIRM_FIRST_WRITES": "off",  # writes flow (確認モード off)
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        }

    def command(self, *args: str) -> list[str]:
        if not self.prelude:
            return [sys.executable, "-m", "companion.cli", *args]
        code = f"{self.prelude}\nimport sys\nfrom companion.cli import main\nsys.exit(main())"
        return [sys.executable, "-c", code, *args]

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - a quick fork, not a wait
                self.command(
                    "serve",
                    "--data-dir",
                    str(self.data_dir),
                    "--port",
                    str(self.port),
                    *(["--yahoo-base-url", self.yahoo_url] if self.yahoo_url else []),
                ),  # fmt: skip
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    async def ready(self, http: aiohttp.ClientSession, status: int = 200) -> None:
        """Until `/health` answers with `status` (503: a companion that cannot start)."""
        async with asyncio.timeout(60):
            while True:
                assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
                try:
                    async with http.get(f"{self.base}/api/v1/health") as resp:
                        if resp.status == status:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Another `recore-connector` command on the same data dir (same environment)."""
        return subprocess.run(
            self.command(*args, "--data-dir", str(self.data_dir)),
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )

    def pairing_code(self) -> str:
        out = self.cli("pair")
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().splitlines()[-1]

    async def configure(
        self, http: aiohttp.ClientSession, auth: dict[str, str], settings: dict[str, Any]
    ) -> None:
        """What staff enter on the options page: `settings`, then the demo's listing templates
        and tables (ReCORE's spec form sends no Yahoo fields: the tables fill them)."""
        from companion.demo import demo_tables

        async with http.put(f"{self.base}/api/v1/settings", json=settings, headers=auth) as resp:
            assert resp.status == 200, await resp.text()
        for name, table in demo_tables().items():
            url = f"{self.base}/api/v1/tables/{name}"
            async with http.put(url, json=table, headers=auth) as resp:
                assert resp.status == 200, await resp.text()

    async def pair(self, http: aiohttp.ClientSession) -> dict[str, str]:
        code = await asyncio.to_thread(self.pairing_code)
        async with http.post(f"{self.base}/api/v1/pair", json={"code": code}) as resp:
            assert resp.status == 200, await resp.text()
            return {"Authorization": f"Bearer {(await resp.json())['token']}"}
