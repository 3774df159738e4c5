"""A disk that fills during a sync: the database's disk is a small real file system (tmpfs) that
fills up just as the store's selling list is answered, so the sync cannot even record that it
failed. 同期開始 must then never join that dead job: it says the disk is full, and once there is
room it closes the dead job with its reason and syncs.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from companion.db import sqlite_url
from companion.keys import JOBS
from sandbox.yahoo.app import create_app as create_yahoo
from tests.conftest import SmallDisk, pair_client
from tests.sync.conftest import Hub

pytestmark = pytest.mark.browser

FILL_AT = "/serinavi/selling"


class Trap:
    """Fills `disk` when the store is about to answer the selling list (once, when armed)."""

    def __init__(self) -> None:
        self.disk: SmallDisk | None = None

    async def on_response(self, request: web.Request, _response: web.StreamResponse) -> None:
        if self.disk is not None and request.path.startswith(FILL_AT):
            self.disk.fill()
            self.disk = None


@pytest.fixture
def trap() -> Trap:
    return Trap()


@pytest.fixture
async def yahoo_server(aiohttp_server: Any, trap: Trap) -> TestServer:
    app = create_yahoo(seed=True)
    app.on_response_prepare.append(trap.on_response)
    return await aiohttp_server(app)


async def test_sync_never_joins_a_job_left_dead_by_a_full_disk(
    make_hub: Any, small_disk: Any, tmp_path: Any, trap: Trap
) -> None:
    disk = small_disk(tmp_path / "database-disk", 16)
    hub: Hub = await make_hub(
        database_url=sqlite_url(disk.path / "companion.sqlite3"),
        disk_reserve_bytes=0,  # no reserve on that disk: even the job's state cannot be written
        min_free_bytes=0,
    )
    auth = {"Authorization": f"Bearer {await pair_client(hub.client)}"}
    assert (await hub.run_sync())["state"] == "succeeded"
    reports_before = await hub.post_count()

    trap.disk = disk
    resp = await hub.client.post("/api/v1/sync", headers=auth)
    assert resp.status == 202
    dead_id = (await resp.json())["job_id"]
    await hub.app[JOBS].wait(dead_id)
    assert trap.disk is None, "the disk was filled during the sync"

    # the disk is still full: 同期開始 says so, in Japanese, instead of joining the dead job
    resp = await hub.client.post("/api/v1/sync", headers=auth)
    body = await resp.json()
    assert resp.status == 507, body
    assert body["error"]["code"] == "DISK_FULL"
    assert "ディスクの空きが不足" in body["error"]["message"]
    assert "もう一度お試しください" in body["error"]["message"]

    disk.make_room()
    resp = await hub.client.post("/api/v1/sync", headers=auth)
    assert resp.status == 202, await resp.text()
    new_id = (await resp.json())["job_id"]
    assert new_id != dead_id
    await hub.app[JOBS].wait(new_id)
    assert (await hub.app[JOBS].get(new_id))["state"] == "succeeded"
    dead = await hub.app[JOBS].get(dead_id)
    assert dead["state"] == "failed", dead
    assert dead["error"]["code"] == "JOB_LOST"
    assert "ディスクの空きが不足" in dead["error"]["message"]
    # nothing about the full disk reached ReCORE as anybody's failure
    state = await hub.recore_state()
    assert not [t for t in state["tasks"] if t.get("outcome") == "failed"]
    assert await hub.post_count() >= reports_before
