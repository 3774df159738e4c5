"""The whole 出品ファイルをダウンロード path: batch → zip → the store's 一括アップロード page, driven by
real Chromium as staff would, → exactly the valid items are on the (sandbox) store: listed at once
(world classic) or registered in their folder, not yet started (world next)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from sandbox.yahoo.app import create_app as create_yahoo_sandbox
from sandbox.yahoo.app import demo_account
from scrapers.parse import parse_upload_result
from tests.conftest import both_worlds
from tests.staff import upload_zip

pytestmark = pytest.mark.browser


@pytest.fixture
async def yahoo_sandbox(store_world: str):
    server = TestServer(create_yahoo_sandbox(seed=True, world=store_world), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@both_worlds
async def test_store_upload_page_takes_exactly_the_valid_items(
    wired, yahoo_sandbox, tmp_path
) -> None:
    client, auth = wired["client"], wired["auth"]
    batch = await (
        await client.post("/api/v1/batches", json={"source": "pending"}, headers=auth)
    ).json()
    zip_path = tmp_path / f"{batch['name']}.zip"
    zip_path.write_bytes(
        await (await client.get(f"/api/v1/batches/{batch['id']}/zip", headers=auth)).read()
    )

    account = demo_account(yahoo_sandbox.app)
    base = str(yahoo_sandbox.make_url("")).rstrip("/")
    result = await upload_zip(base, account, zip_path, tmp_path / "profile")

    assert result.accepted, result.message
    assert result.errors == []
    valid = {i["management_number"] for i in batch["items"]}
    assert set(result.listed) | set(result.registered) == valid
    async with client.session.get(f"{base}/_sandbox/state") as resp:
        state = await resp.json()
    on_store = {x["management_number"]: x for x in state["listings"]}
    for number in valid:  # what the answer said is what the store holds
        assert on_store[number]["registered"] is (number in result.registered)
        assert on_store[number]["auction_id"] == result.listed.get(number)
    counts = state["listing_counts"]
    assert all(counts.get(number) == 1 for number in valid)
    rejected = {e["management_number"] for e in batch["errors"] if e["management_number"]}
    assert not rejected & set(counts)


def test_upload_answer_parsing_on_a_saved_comm_error_page() -> None:
    html = (
        '<div id="uploadResult"><p class="error" role="alert">'
        "通信エラーが発生しました。時間をおいて再度お試しください。</p></div>"
    )
    result = parse_upload_result(html)
    assert not result.accepted and result.maybe_listed and result.listed == {}
    with pytest.raises(LookupError):
        parse_upload_result("<html><body>ログイン</body></html>")
