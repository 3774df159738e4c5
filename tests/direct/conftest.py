"""Direct listing against both sandboxes on real 127.0.0.1 ports, with real Chromium and SQLite.

`wired` is a companion (all of its features, background workers on) pointed at a fresh ReCORE
sandbox with `n` valid listings waiting and at the seeded Yahoo sandbox, its Yahoo login stored,
and the demo's templates and tables saved (ReCORE answers in its spec's form).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from companion.app import create_app
from companion.config import Config
from companion.demo import demo_tables, sandbox_settings
from companion.keys import GATEWAY, JOBS, OUTBOX, RECORE
from companion.recore.outbox import RetryPolicy
from companion.recore.service import RECORE_OPTIONS, ServiceOptions
from sandbox.recore.app import create_app as create_recore
from sandbox.yahoo.app import create_app as create_yahoo
from tests.conftest import pair_client


@pytest.fixture(autouse=True)
def _fast_direct_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    # no pacing, short retry backoff, Chromium closed soon after a job
    monkeypatch.setenv("RECORE_CONNECTOR_DIRECT_PACING_SECONDS", "0")
    monkeypatch.setenv("RECORE_CONNECTOR_DIRECT_RETRY_SECONDS", "0.05")
    monkeypatch.setenv("RECORE_CONNECTOR_BROWSER_IDLE_SECONDS", "0.5")
    # the sandbox finishes a 出品する within the request: a short grace for doubtful presses
    monkeypatch.setenv("RECORE_CONNECTOR_SUBMIT_GRACE_SECONDS", "0.5")


@dataclass
class Sandboxes:
    yahoo: TestServer
    recore: TestServer
    http: aiohttp.ClientSession

    @property
    def yahoo_url(self) -> str:
        return str(self.yahoo.make_url("")).rstrip("/")

    @property
    def recore_url(self) -> str:
        return str(self.recore.make_url("")).rstrip("/")

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(url, json=body) as resp:
            data = await resp.json()
            assert resp.status < 300, data
            return data

    async def yahoo_faults(self, **switches: Any) -> dict[str, Any]:
        return await self._post(f"{self.yahoo_url}/_sandbox/faults", switches)

    async def yahoo_state(self) -> dict[str, Any]:
        async with self.http.get(f"{self.yahoo_url}/_sandbox/state") as resp:
            return await resp.json()

    async def recore_state(self) -> dict[str, Any]:
        async with self.http.get(f"{self.recore_url}/_sandbox/state") as resp:
            return await resp.json()

    async def add_listings(self, count: int) -> list[int]:
        data = await self._post(
            f"{self.recore_url}/_sandbox/listings",
            {"count": count, "images_per_item": 1, "image_kb": 8},
        )
        return data["listing_ids"]


@pytest.fixture
async def sandboxes(store_world: str) -> AsyncIterator[Sandboxes]:
    yahoo = TestServer(create_yahoo(seed=True, world=store_world), host="127.0.0.1")
    recore = TestServer(create_recore(seed=False, rate_limit=1000), host="127.0.0.1")
    await yahoo.start_server()
    await recore.start_server()
    async with aiohttp.ClientSession() as http:
        yield Sandboxes(yahoo, recore, http)
    await recore.close()
    await yahoo.close()


@dataclass
class Wired:
    client: TestClient
    auth: dict[str, str]
    sb: Sandboxes

    async def poll(self) -> None:
        await self.client.app[GATEWAY].poll_once()

    async def post(self, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        resp = await self.client.post(path, json=body, headers=self.auth)
        return resp.status, await resp.json()

    async def get(self, path: str) -> dict[str, Any]:
        resp = await self.client.get(path, headers=self.auth)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def wait_job(self, job_id: str, limit: float = 60.0) -> dict[str, Any]:
        """Until the job's current run ends (succeeded, partial, failed or paused)."""
        async with asyncio.timeout(limit):
            await self.client.app[JOBS].wait(job_id)
            while True:
                job = await self.get(f"/api/v1/jobs/{job_id}")
                if job["state"] not in ("queued", "running"):
                    return job
                await asyncio.sleep(0.05)

    async def drain_outbox(self) -> None:
        await self.client.app[OUTBOX].drain(timeout=20)


WiredFactory = Callable[..., Awaitable[Wired]]


@pytest.fixture
async def make_wired(aiohttp_client: Any, data_dir: Path, sandboxes: Sandboxes) -> WiredFactory:
    async def factory(
        listings: int = 3,
        config: dict[str, Any] | None = None,
        yahoo_base_url: str | None = None,
        **settings: Any,
    ) -> Wired:
        # where the store is comes with the configuration (never through PUT /settings)
        store = yahoo_base_url or sandboxes.yahoo_url
        app = create_app(
            Config(data_dir=data_dir, workers=True, yahoo_base_url=store, **(config or {}))
        )
        fast = RetryPolicy(
            base=0.05, factor=2.0, max_delay=0.4, jitter=0.25, unauthorized_delay=0.5
        )
        app[RECORE_OPTIONS] = ServiceOptions(poll_interval=3600, policy=fast)
        client = await aiohttp_client(app)
        token = await pair_client(client)
        auth = {"Authorization": f"Bearer {token}"}
        values = (
            sandbox_settings(sandboxes.recore.app, sandboxes.yahoo.app, sandboxes.recore_url)
            | settings
        )
        resp = await client.put("/api/v1/settings", json=values, headers=auth)
        assert resp.status == 200, await resp.text()
        # ReCORE answers in its spec's form: the templates and tables fill in the rest
        for name, table in demo_tables().items():
            resp = await client.put(f"/api/v1/tables/{name}", json=table, headers=auth)
            assert resp.status == 200, await resp.text()
        wired = Wired(client, auth, sandboxes)
        await wired.client.app[RECORE].settled()
        if listings:
            await sandboxes.add_listings(listings)
            await wired.poll()
        return wired

    return factory


@pytest.fixture
async def wired(make_wired: WiredFactory) -> Wired:
    return await make_wired()


def tasks_by_inventory(recore_state: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {
        t["data"]["ec_inventory_id"]: t
        for t in recore_state["tasks"]
        if t["type"] == "CREATE_INVENTORY"
    }
