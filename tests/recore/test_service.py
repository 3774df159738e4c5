"""The ReCORE service inside a real companion app: settings → client → loops, restart safety."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from companion.app import create_app
from companion.config import Config
from companion.keys import GATEWAY, OUTBOX, RECORE, SETTINGS
from companion.recore import service
from companion.recore.service import RECORE_OPTIONS, ServiceOptions
from companion.status import build_status
from tests.recore.conftest import FAST, Sandbox, valid_item

Factory = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def start_companion(database: str, aiohttp_client: Any, data_dir: Path) -> Factory:
    async def factory(*, workers: bool = True) -> TestClient:
        config = Config(data_dir=data_dir, workers=workers, database_url=database)
        app = create_app(config, features=[service.setup])
        app[RECORE_OPTIONS] = ServiceOptions(poll_interval=0.2, policy=FAST, rate=100.0)
        return await aiohttp_client(app)

    return factory


async def _connect(companion: TestClient, sandbox: Sandbox, **extra: Any) -> None:
    await companion.app[SETTINGS].update(
        {
            "recore_api_url": sandbox.url,
            "recore_api_key": sandbox.creds["api_key"],
            "ec_account_id": sandbox.creds["ec_account_id"],
            **extra,
        }
    )
    await companion.app[RECORE].settled()


async def _until(check: Callable[[], Awaitable[bool]], what: str, limit: float = 30.0) -> None:
    """Wait for the background loops (a deadline against hangs, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for: {what}")
        await asyncio.sleep(0.05)


async def recore_status(app: Any) -> dict[str, Any]:
    """ReCORE's part of `GET /status`, with the outbox figures beside it."""
    status = await build_status(app)
    return {**status["recore"], "outbox": status["outbox"]}


async def test_incomplete_settings_are_named_and_nothing_runs(start_companion: Factory) -> None:
    companion = await start_companion()
    status = await recore_status(companion.app)
    assert status["configured"] is False and status["workers"] is False
    assert status["missing"] == ["ReCORE APIキー", "ECアカウントID"]
    assert companion.app[GATEWAY].client is None and companion.app[OUTBOX].client is None


async def test_settings_bring_the_loops_up_and_results_flow(
    start_companion: Factory, sandbox: Sandbox
) -> None:
    companion = await start_companion()
    created = await sandbox.create_listings(valid_item("S-1"), valid_item("S-2", quantity="x"))
    await _connect(companion, sandbox)

    async def reported() -> bool:
        return any(t["outcome"] for t in (await sandbox.state())["tasks"])

    await _until(reported, "the malformed listing reported failed")
    state = await sandbox.state()
    outcomes = {t["data"]["ec_inventory_id"]: t["outcome"] for t in state["tasks"]}
    assert outcomes == {created[0]["id"]: None, created[1]["id"]: "failed"}
    status = await recore_status(companion.app)
    assert status["configured"] and status["workers"] and status["missing"] == []
    assert status["open_tasks"] == 1 and status["poll"]["last_error"] is None

    # a wrong key (changed in settings) is rebuilt into the client and reported to staff
    await companion.app[SETTINGS].update({"recore_api_key": "wrong-key"})

    async def says_key() -> bool:
        err = (await recore_status(companion.app))["poll"]["last_error"]
        return bool(err and "APIキー" in err["message"])

    await _until(says_key, "the poll error about the API key")


async def test_restart_with_a_full_outbox_delivers_everything_once(
    start_companion: Factory, sandbox: Sandbox
) -> None:
    items = [valid_item(f"R-{n}", start_price="abc") for n in range(4)]
    await sandbox.create_listings(*items)
    first = await start_companion(workers=False)  # intake by hand, loops off
    await _connect(first, sandbox)
    gateway = first.app[GATEWAY]
    assert (await gateway.poll_once()).failed == 4
    await sandbox.faults(down_seconds=60)
    await first.app[OUTBOX].deliver_now()  # fails: ReCORE is down
    assert (await recore_status(first.app))["outbox"]["pending"] == 4
    await first.close()

    await sandbox.faults(reset=True)
    second = await start_companion()  # same data dir, loops on

    async def all_reported() -> bool:
        return all(t["outcome"] == "failed" for t in (await sandbox.state())["tasks"])

    await _until(all_reported, "every report after the restart")
    await _until(lambda: _outbox_empty(second), "the outbox marks them delivered")
    state = await sandbox.state()
    assert [t["report_count"] for t in state["tasks"]] == [1, 1, 1, 1]


async def _outbox_empty(companion: TestClient) -> bool:
    return (await recore_status(companion.app))["outbox"]["pending"] == 0
