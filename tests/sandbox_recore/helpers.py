"""Small helpers shared by the sandbox tests."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient


async def poll(client: TestClient, auth: dict[str, str], account: int, **params: Any) -> list[dict]:
    resp = await client.get(
        "/ec/gateway/tasks", params={"ec_account_id": account, **params}, headers=auth
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def state(client: TestClient) -> dict[str, Any]:
    resp = await client.get("/_sandbox/state")
    assert resp.status == 200
    return await resp.json()
