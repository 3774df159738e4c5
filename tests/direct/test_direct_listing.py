"""直接出品を実行, end to end: companion → real Chromium → Yahoo sandbox pages; results → ReCORE sandbox."""

from __future__ import annotations

from collections import Counter

import aiohttp
import pytest
from sqlalchemy import select

from companion.db.models import ListingRecord
from companion.keys import DB
from tests.conftest import both_worlds
from tests.direct.conftest import Wired, WiredFactory, tasks_by_inventory

pytestmark = pytest.mark.browser


async def _records(wired: Wired) -> list[ListingRecord]:
    async with wired.client.app[DB].session() as s:
        return list((await s.scalars(select(ListingRecord).order_by(ListingRecord.id))).all())


@both_worlds
async def test_pending_listed_end_to_end_and_reported(make_wired: WiredFactory) -> None:
    wired = await make_wired(listings=4, direct_listing_concurrency=2)
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    assert status == 202, body
    job = await wired.wait_job(body["job_id"])
    assert job["kind"] == "direct_listing"
    assert job["state"] == "succeeded", job
    assert job["progress"] == {"done": 4, "total": 4}
    items = {i["key"]: i for i in job["items"]}
    assert all(i["state"] == "succeeded" and "出品しました" in i["message"] for i in items.values())

    yahoo = await wired.sb.yahoo_state()
    on_store = {x["management_number"]: x for x in yahoo["listings"]}
    for key, item in items.items():
        assert on_store[key]["auction_id"] == item["data"]["auction_id"]
        assert on_store[key]["source"] == "form" and on_store[key]["image_count"] == 1
    assert yahoo["duplicates"] == {}

    records = await _records(wired)
    assert all(r.state == "listed" and r.auction_id and r.listed_at for r in records)
    assert all(
        r.auction_url and r.auction_url.endswith(f"/jp/auction/{r.auction_id}") for r in records
    )

    await wired.drain_outbox()
    tasks = tasks_by_inventory(await wired.sb.recore_state())
    for r in records:
        task = tasks[r.id]
        assert task["outcome"] == "succeeded" and task["report_count"] == 1, task
        assert r.auction_id in str(task["reports"][0])

    batch = await wired.get(f"/api/v1/batches/{body['batch_id']}")
    assert batch["listed_count"] == 4 and batch["open_count"] == 0

    # pressing again: nothing is listed twice, every item is recorded as already listed
    status, again = await wired.post(f"/api/v1/batches/{body['batch_id']}/direct-listing")
    assert status == 202
    job2 = await wired.wait_job(again["job_id"])
    assert job2["state"] == "succeeded"
    assert all(i["data"].get("already") for i in job2["items"])
    assert (await wired.sb.yahoo_state())["duplicates"] == {}


@both_worlds
async def test_item_list_reads_take_the_session_of_the_form_the_pre_flight_opened(
    make_wired: WiredFactory,
) -> None:
    """The pre-flight's form page proved the session (logging in on the way) and shows the
    links to the lists and the store id: the item list's plain-HTTP reads take the browser's
    cookies and those links, instead of opening 競りナビ's top page in the browser and reading
    it again over HTTP."""
    wired = await make_wired()
    before = Counter((await wired.sb.yahoo_state())["reads"]["by_path"])
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    assert status == 202, body
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "succeeded", job
    reads = Counter((await wired.sb.yahoo_state())["reads"]["by_path"]) - before
    assert reads["/serinavi"] == 0, reads


async def test_item_already_on_the_store_is_recorded_not_listed_again(wired: Wired) -> None:
    """A 管理番号 found in the item list (e.g. uploaded by zip earlier) counts as listed."""
    status, batch = await wired.post("/api/v1/batches", {"source": "pending"})
    assert status == 201, batch
    first = batch["items"][0]
    # put the first item on the store by the bulk upload, as staff would with the zip
    await _upload_rows(wired, batch["id"], {first["management_number"]})
    before = {x["management_number"]: x for x in (await wired.sb.yahoo_state())["listings"]}
    uploaded_id = before[first["management_number"]]["auction_id"]

    status, body = await wired.post(f"/api/v1/batches/{batch['id']}/direct-listing")
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "succeeded", job
    item = next(i for i in job["items"] if i["key"] == first["management_number"])
    assert item["data"]["already"] is True and item["data"]["auction_id"] == uploaded_id
    assert "既にヤフオクに出品" in item["message"]
    counts = Counter(x["management_number"] for x in (await wired.sb.yahoo_state())["listings"])
    assert all(counts[i["management_number"]] == 1 for i in batch["items"])


async def test_page_error_keeps_item_open_with_the_pages_words(make_wired: WiredFactory) -> None:
    """Yahoo refuses one item (a category the form rejects): it stays 出品処理中, the rest go on."""
    wired = await make_wired(listings=3)
    status, batch = await wired.post("/api/v1/batches", {"source": "pending"})
    bad = batch["items"][1]
    # the connector's own checks let it through; the store's form does not (not digits)
    async with wired.client.app[DB].session() as s, s.begin():
        row = await s.get(ListingRecord, bad["id"])
        assert row is not None
        row.inventory = {
            **row.inventory,
            "mall_attributes": {**row.inventory.get("mall_attributes", {}), "category_id": "12a"},
        }
    status, body = await wired.post(f"/api/v1/batches/{batch['id']}/direct-listing")
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "partial", job
    failed = next(i for i in job["items"] if i["key"] == bad["management_number"])
    assert failed["state"] == "failed"
    assert "カテゴリは半角数字のカテゴリIDで入力してください" in failed["message"]
    again = await wired.get(f"/api/v1/batches/{batch['id']}")
    open_items = [i for i in again["items"] if i["state"] == "processing"]
    assert [i["id"] for i in open_items] == [bad["id"]]
    assert open_items[0]["state_label"] == "出品処理中"
    assert "カテゴリ" in open_items[0]["last_error"]
    assert again["listed_count"] == 2
    assert (await wired.sb.yahoo_state())["listing_counts"].get(bad["management_number"]) is None


def _zip_with_rows(archive: bytes, numbers: set[str]) -> bytes:
    """The batch zip cut down to the rows (and images) of `numbers`."""
    import csv
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(archive))
    csv_name = next(n for n in src.namelist() if n.endswith(".csv"))
    rows = list(csv.reader(io.StringIO(src.read(csv_name).decode("cp932"), newline="")))
    keep = [rows[0]] + [r for r in rows[1:] if r[0] in numbers]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerows(keep)
        dst.writestr(csv_name, text.getvalue().encode("cp932"))
        for name in src.namelist():
            if name != csv_name and name.split("_")[0] in {n.split("_")[0] for n in numbers}:
                if any(name.startswith(n + "_") for n in numbers):
                    dst.writestr(name, src.read(name))
    return out.getvalue()


async def _upload_rows(wired: Wired, batch_id: int, numbers: set[str]) -> None:
    """Put these rows of the batch's zip on the store by the bulk upload, as staff would."""
    resp = await wired.client.get(f"/api/v1/batches/{batch_id}/zip", headers=wired.auth)
    form = aiohttp.FormData()
    form.add_field(
        "uploadFile",
        _zip_with_rows(await resp.read(), numbers),
        filename="rows.zip",
        content_type="application/zip",
    )
    cookie = await _yahoo_login_cookie(wired)
    async with wired.sb.http.post(
        f"{wired.sb.yahoo_url}/serinavi/upload", data=form, cookies={"T": cookie}
    ) as r:
        assert "受け付け" in await r.text()


async def _yahoo_login_cookie(wired: Wired) -> str:
    """A logged-in Yahoo sandbox session, straight from its world (the test plays staff)."""
    from sandbox.yahoo.app import WORLD

    world = wired.sb.yahoo.app[WORLD]
    return world.new_session("full").sid


async def test_routes_refuse_clearly(make_wired: WiredFactory) -> None:
    wired = await make_wired(listings=0)
    status, body = await wired.post("/api/v1/batches/999/direct-listing")
    assert status == 404 and body["error"]["code"] == "NOT_FOUND"
    status, body = await wired.post("/api/v1/direct-listing", {"source": "zip"})
    assert status == 400 and "pending" in body["error"]["message"]
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    assert status == 409 and "出品待ち" in body["error"]["message"]
    resp = await wired.client.post("/api/v1/direct-listing", json={"source": "pending"})
    assert resp.status == 401  # no token, no listing


async def test_an_ended_auction_of_the_same_number_does_not_block_listing_it_again(
    wired: Wired,
) -> None:
    """A relisted item: its old, ended auction on the store is not a reason to skip it."""
    status, batch = await wired.post("/api/v1/batches", {"source": "pending"})
    assert status == 201, batch
    first = batch["items"][0]
    # no 自動再出品: when its auction ends, it is really off the store
    async with wired.client.app[DB].session() as s, s.begin():
        row = await s.get(ListingRecord, first["id"])
        attrs = {**row.inventory.get("mall_attributes", {}), "resubmit_count": 0}
        row.inventory = {**row.inventory, "mall_attributes": attrs}
    await _upload_rows(wired, batch["id"], {first["management_number"]})
    listings = (await wired.sb.yahoo_state())["listings"]
    old_id = next(x for x in listings if x["management_number"] == first["management_number"])[
        "auction_id"
    ]
    # that earlier auction ends without a winner before the direct listing runs
    async with wired.sb.http.post(
        f"{wired.sb.yahoo_url}/_sandbox/end", json={"auction_id": old_id}
    ) as r:
        assert r.status == 200

    status, body = await wired.post(f"/api/v1/batches/{batch['id']}/direct-listing")
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "succeeded", job
    item = next(i for i in job["items"] if i["key"] == first["management_number"])
    assert item["data"]["already"] is False
    assert item["data"]["auction_id"] != old_id
    live = [
        x
        for x in (await wired.sb.yahoo_state())["listings"]
        if x["management_number"] == first["management_number"] and x["status"] == "selling"
    ]
    assert [x["auction_id"] for x in live] == [item["data"]["auction_id"]]


async def test_two_batches_started_together_take_turns_on_the_store(
    make_wired: WiredFactory,
) -> None:
    """The configured number of pages is for the companion as a whole: a batch started while
    another is being listed waits its turn, so the store never sees more pages than configured."""
    wired = await make_wired(listings=4)
    ids = [i["id"] for i in (await wired.get("/api/v1/pending"))["items"]]
    numbers: dict[str, set[str]] = {}
    jobs = []
    for name, part in (("a", ids[:2]), ("b", ids[2:])):
        status, batch = await wired.post(
            "/api/v1/batches", {"source": "pending", "listing_ids": part}
        )
        assert status == 201, batch
        numbers[name] = {i["management_number"] for i in batch["items"]}
    for batch_id in sorted({b["id"] for b in (await wired.get("/api/v1/batches"))["batches"]}):
        status, started = await wired.post(f"/api/v1/batches/{batch_id}/direct-listing")
        assert status == 202, started
        jobs.append(started["job_id"])
    for job_id in jobs:
        assert (await wired.wait_job(job_id))["state"] == "succeeded"

    listed = sorted(
        (x for x in (await wired.sb.yahoo_state())["listings"] if x["source"] == "form"),
        key=lambda x: int(x["item_id"]),
    )
    order = ["a" if x["management_number"] in numbers["a"] else "b" for x in listed]
    assert order == ["a", "a", "b", "b"], order
