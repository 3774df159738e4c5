"""生成済みリスト re-download after an upload: the store is read first, nothing is offered twice."""

from __future__ import annotations

from typing import Any

import pytest

from companion.db.models import ListingRecord
from companion.keys import DB, GATEWAY
from sandbox.yahoo.app import demo_account
from tests.conftest import pair_client
from tests.staff import upload_zip

pytestmark = pytest.mark.browser


async def _upload_as_staff(hub: Any, zip_path: Any, profile: Any) -> None:
    account = demo_account(hub.yahoo.app)
    result = await upload_zip(hub.yurl("").rstrip("/"), account, zip_path, profile)
    assert result.accepted, result.message


async def test_redownload_after_an_upload_reads_the_store_first(
    make_hub: Any, tmp_path: Any
) -> None:
    hub = await make_hub(all_features=True)
    client = hub.client
    auth = {"Authorization": f"Bearer {await pair_client(client)}"}
    await hub.app[GATEWAY].poll_once()
    pending = (await (await client.get("/api/v1/pending", headers=auth)).json())["items"]
    ids = [pending[0]["id"], pending[1]["id"]]
    batch = await (
        await client.post(
            "/api/v1/batches", json={"source": "pending", "listing_ids": ids}, headers=auth
        )
    ).json()
    assert batch["item_count"] == 2
    zip_path = tmp_path / f"{batch['name']}.zip"
    first = await client.get(f"/api/v1/batches/{batch['id']}/zip", headers=auth)
    assert first.status == 200
    zip_path.write_bytes(await first.read())

    await _upload_as_staff(hub, zip_path, tmp_path / "staff-profile")

    # staff press 出品ファイルをダウンロード on the same list again (say after a 通信エラー)
    again = await client.get(f"/api/v1/batches/{batch['id']}/zip", headers=auth)
    assert again.status == 409, "the items are on the store: nothing may be offered twice"
    assert (await again.json())["error"]["code"] == "NOTHING_OPEN"
    async with hub.app[DB].session() as s:
        for listing_id in ids:
            record = await s.get(ListingRecord, listing_id)
            assert record.state == "listed" and record.auction_id


async def test_redownload_is_refused_when_the_store_cannot_be_read(make_hub: Any) -> None:
    hub = await make_hub(all_features=True)
    client = hub.client
    auth = {"Authorization": f"Bearer {await pair_client(client)}"}
    await hub.app[GATEWAY].poll_once()
    pending = (await (await client.get("/api/v1/pending", headers=auth)).json())["items"]
    batch = await (
        await client.post(
            "/api/v1/batches",
            json={"source": "pending", "listing_ids": [pending[0]["id"]]},
            headers=auth,
        )
    ).json()
    assert (await client.get(f"/api/v1/batches/{batch['id']}/zip", headers=auth)).status == 200
    await hub.yahoo_post("/_sandbox/faults", {"error_5xx": 1000})
    refused = await client.get(f"/api/v1/batches/{batch['id']}/zip", headers=auth)
    assert refused.status == 409
    error = (await refused.json())["error"]
    assert error["code"] == "STORE_NOT_CHECKED" and "同期開始" in error["message"]
