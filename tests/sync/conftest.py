"""Sync fixtures: both sandboxes as real servers on 127.0.0.1, and a companion wired to them
(ReCORE client, outbox, gateway, sync) with real SQLite and, for the login, real Chromium."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from companion.app import create_app
from companion.config import Config
from companion.demo import apply_demo_tables, sandbox_settings
from companion.keys import DB, JOBS, RECORE, SETTINGS, SYNC
from companion.listing import batches
from companion.recore import service as recore_service
from companion.recore.outbox import RetryPolicy
from companion.store_session import STORE_OPTIONS, StoreOptions
from companion.sync.service import SYNC_OPTIONS, SyncOptions, SyncService
from sandbox.recore.app import create_app as create_recore
from sandbox.yahoo.app import WORLD
from sandbox.yahoo.app import create_app as create_yahoo

PAGES = Path(__file__).parent / "pages"


@dataclass
class Hub:
    """The companion and the two sandboxes of one test."""

    client: TestClient
    yahoo: TestServer
    recore: TestServer

    @property
    def app(self) -> web.Application:
        return self.client.app

    @property
    def sync(self) -> SyncService:
        return self.app[SYNC]

    @property
    def world(self) -> Any:
        return self.yahoo.app[WORLD]

    def yurl(self, path: str) -> str:
        return str(self.yahoo.make_url(path))

    def rurl(self, path: str) -> str:
        return str(self.recore.make_url(path))

    async def yahoo_post(self, path: str, body: dict[str, Any]) -> Any:
        async with aiohttp.ClientSession() as s, s.post(self.yurl(path), json=body) as r:
            assert r.status < 300, await r.text()
            return await r.json()

    async def recore_post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with aiohttp.ClientSession() as s, s.post(self.rurl(path), json=body or {}) as r:
            assert r.status < 300, await r.text()
            return await r.json()

    async def recore_state(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as s, s.get(self.rurl("/_sandbox/state")) as r:
            return await r.json()

    async def post_count(self) -> int:
        """Write requests (upserts and task reports) ReCORE has received so far."""
        state = await self.recore_state()
        by_endpoint = state["requests"]["by_endpoint"]
        return sum(n for name, n in by_endpoint.items() if name.startswith("POST "))

    async def start_sync(self) -> str:
        """同期開始 through the API; returns the job id at once."""
        from tests.conftest import pair_client

        if not hasattr(self, "_auth"):
            self._auth = {"Authorization": f"Bearer {await pair_client(self.client)}"}
        resp = await self.client.post("/api/v1/sync", headers=self._auth)
        assert resp.status == 202, await resp.text()
        return str((await resp.json())["job_id"])

    async def run_sync(self) -> dict[str, Any]:
        """同期開始 through the API, waiting for the job; returns the job."""
        job_id = await self.start_sync()
        await self.app[JOBS].wait(job_id)
        job = await self.app[JOBS].get(job_id)
        assert job is not None
        return job

    async def status(self) -> dict[str, Any]:
        from tests.conftest import pair_client

        if not hasattr(self, "_auth"):
            self._auth = {"Authorization": f"Bearer {await pair_client(self.client)}"}
        resp = await self.client.get("/api/v1/status", headers=self._auth)
        return await resp.json()

    @property
    def db(self) -> Any:
        return self.app[DB]


@pytest.fixture
async def yahoo_server(aiohttp_server: Any, store_world: str) -> TestServer:
    return await aiohttp_server(create_yahoo(seed=True, world=store_world))


@pytest.fixture
async def recore_server(aiohttp_server: Any) -> TestServer:
    return await aiohttp_server(create_recore(rate_limit=10_000))


@pytest.fixture
def make_hub(
    database: str,
    aiohttp_client: Any,
    data_dir: Path,
    yahoo_server: TestServer,
    recore_server: TestServer,
) -> Any:
    async def factory(
        *,
        workers: bool = False,
        all_features: bool = False,
        store: StoreOptions | None = None,
        **config: Any,
    ) -> Hub:
        from companion.sync import service as sync

        app = create_app(
            Config(
                data_dir=data_dir,
                workers=workers,
                yahoo_base_url=str(yahoo_server.make_url("")).rstrip("/"),
                **{"database_url": database, **config},
            ),
            # all_features: the app exactly as `serve` builds it (FEATURES)
            features=None if all_features else [recore_service.setup, batches.setup, sync.setup],
        )
        app[recore_service.RECORE_OPTIONS] = recore_service.ServiceOptions(
            poll_interval=0.2,
            policy=RetryPolicy(base=0.05, max_delay=0.5, unauthorized_delay=0.5, idle=0.5),
            rate=100.0,
        )
        app[SYNC_OPTIONS] = SyncOptions(deliver_wait=5.0)
        app[STORE_OPTIONS] = store or StoreOptions(retry_delay=0.01)
        client = await aiohttp_client(app)
        await configure(app, yahoo_server, recore_server)
        await app[RECORE].rebuild()
        return Hub(client, yahoo_server, recore_server)

    return factory


async def configure(
    app: web.Application, yahoo_server: TestServer, recore_server: TestServer
) -> None:
    """The settings and tables staff would enter on the options page, pointing at the two
    sandboxes (ReCORE answering in its spec's form: the templates and tables fill the rest). The
    Yahoo sandbox's address is the app's configuration, see make_hub."""
    await apply_demo_tables(app)
    await app[SETTINGS].update(
        sandbox_settings(recore_server.app, yahoo_server.app, str(recore_server.make_url("")))
    )


@pytest.fixture
async def hub(make_hub: Any) -> Hub:
    return await make_hub()
