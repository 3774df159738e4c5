"""Fixtures of the batch tests: the seeded ReCORE sandbox and a companion wired to it."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from companion.keys import GATEWAY, RECORE
from companion.recore.service import RECORE_OPTIONS, ServiceOptions
from sandbox.recore.app import create_app as create_recore_sandbox
from sandbox.recore.app import demo_credentials
from tests.conftest import pair_client


@pytest.fixture
async def recore_sandbox():
    # the rich form: these tests check the Yahoo fields staff fill in ReCORE (buyout, 販路 …);
    # tests/batches/test_spec_inventories.py lists the same stock from the spec form
    server = TestServer(
        create_recore_sandbox(seed=True, rate_limit=1000, inventories="rich"), host="127.0.0.1"
    )
    await server.start_server()
    yield server
    await server.close()


def fast_recore(app) -> None:
    # the sandbox here allows 1000 requests/s; the real 5/s pacing is tested in tests/recore
    app[RECORE_OPTIONS] = ServiceOptions(rate=500.0)


@pytest.fixture
async def wired(make_companion, recore_sandbox) -> dict[str, Any]:
    """The companion pointed at the sandbox, with ReCORE's tasks polled once."""
    return await wire(make_companion, recore_sandbox)


async def wire(make_companion, recore_sandbox, **config: Any) -> dict[str, Any]:
    companion = await make_companion(prepare=fast_recore, **config)
    auth = {"Authorization": f"Bearer {await pair_client(companion)}"}
    creds = demo_credentials(recore_sandbox.app)
    resp = await companion.put(
        "/api/v1/settings",
        json={
            "recore_api_url": str(recore_sandbox.make_url("")),
            "recore_api_key": creds["api_key"],
            "ec_account_id": creds["ec_account_id"],
        },
        headers=auth,
    )
    assert resp.status == 200, await resp.text()
    await companion.app[RECORE].settled()
    await companion.app[GATEWAY].poll_once()
    return {"client": companion, "auth": auth, "sandbox": recore_sandbox}
