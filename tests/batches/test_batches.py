"""新規の出品待ち → 生成済みリスト: batches and zips, against the seeded ReCORE sandbox over HTTP."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import pytest
from sqlalchemy import update

from companion.db.models import ListingRecord
from companion.keys import DB, OUTBOX


async def _sandbox_state(companion, sandbox) -> dict[str, Any]:
    async with companion.session.get(str(sandbox.make_url("/_sandbox/state"))) as resp:
        return await resp.json()


async def test_pending_lists_what_recore_asked_for(wired) -> None:
    client, auth = wired["client"], wired["auth"]
    items = (await (await client.get("/api/v1/pending", headers=auth)).json())["items"]
    assert len(items) >= 18
    assert all(i["state"] == "waiting" and i["state_label"] == "待機中" for i in items)
    assert all(i["batch_id"] is None for i in items)
    assert {"management_number", "title", "start_price", "image_count"} <= set(items[0])


async def test_batch_takes_the_valid_items_and_names_every_rejected_one(wired) -> None:
    client, auth, sandbox = wired["client"], wired["auth"], wired["sandbox"]
    pending = (await (await client.get("/api/v1/pending", headers=auth)).json())["items"]
    resp = await client.post("/api/v1/batches", json={"source": "pending"}, headers=auth)
    assert resp.status == 201, await resp.text()
    batch = await resp.json()
    assert batch["name"].startswith("yahoo_upload_") and batch["name"].isascii()
    rules = {e["rule"] for e in batch["errors"]}
    # the seeded rule-breakers, one rule each
    assert {
        "title_too_long",
        "text_not_cp932",
        "description_newline",
        "buyout_below_start",
    } <= rules
    assert {"too_many_images", "store_only"} <= rules
    assert rules & {"image_broken", "image_unreadable"}
    assert "duplicate_management_number" in rules
    for error in batch["errors"]:
        # Japanese for staff naming the item; English for the log
        assert (
            error["management_number"] is None
            or error["management_number"] in error["message"]
            or str(error["ec_inventory_id"]) in error["message"]
        )
        assert error["message_en"] and error["field"]
    rejected = {e["ec_inventory_id"] for e in batch["errors"]}
    assert batch["item_count"] == len(pending) - len(rejected)
    assert all(i["state_label"] == "出品処理中" for i in batch["items"])

    # the zip: one CSV row per valid item, images flat beside it, named from the 管理番号
    resp = await client.get(f"/api/v1/batches/{batch['id']}/zip", headers=auth)
    assert resp.status == 200
    assert f'filename="{batch["name"]}.zip"' in resp.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    names = archive.namelist()
    csv_name = next(n for n in names if n.endswith(".csv"))
    raw = archive.read(csv_name)
    assert b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.decode("cp932"), newline="")))
    assert len(rows[0]) == 53 and rows[0][0] == "管理番号"
    numbers = {r[0] for r in rows[1:]}
    assert numbers == {i["management_number"] for i in batch["items"]}
    images = [n for n in names if n != csv_name]
    assert images and all("/" not in n for n in images)
    for row in rows[1:]:
        for ref in row[15:35:2]:
            assert not ref or ref in names

    # each rejected one is reported failed to ReCORE once, with the staff message
    await wired["client"].app[OUTBOX].drain(timeout=20)
    state = await _sandbox_state(client, sandbox)
    tasks = {
        t["data"]["ec_inventory_id"]: t for t in state["tasks"] if t["type"] == "CREATE_INVENTORY"
    }
    for error in batch["errors"]:
        task = tasks[error["ec_inventory_id"]]
        assert task["outcome"] == "failed", task
        assert task["report_count"] == 1
        assert error["message"] in str(task["reports"][0])
    for item in batch["items"]:
        assert tasks[item["id"]]["outcome"] is None  # still open until it is on Yahoo
    # a second press finds nothing new to batch
    again = await client.post("/api/v1/batches", json={"source": "pending"}, headers=auth)
    assert again.status == 409
    assert "出品待ち" in (await again.json())["error"]["message"]


async def test_generated_list_redownload_has_only_unlisted_items(wired) -> None:
    client, auth = wired["client"], wired["auth"]
    pending = (await (await client.get("/api/v1/pending", headers=auth)).json())["items"]
    ids = [i["id"] for i in pending[:3]]
    batch = await (
        await client.post(
            "/api/v1/batches", json={"source": "pending", "listing_ids": ids}, headers=auth
        )
    ).json()
    assert sorted(i["id"] for i in batch["items"]) == sorted(ids)
    listed = batch["items"][0]
    async with client.app[DB].session() as s, s.begin():
        await s.execute(
            update(ListingRecord)
            .where(ListingRecord.id == listed["id"])
            .values(state="listed", auction_id="x1234567890")
        )
    batches = (await (await client.get("/api/v1/batches", headers=auth)).json())["batches"]
    assert batches[0]["id"] == batch["id"]
    assert batches[0]["listed_count"] == 1 and batches[0]["open_count"] == 2
    archive = zipfile.ZipFile(
        io.BytesIO(
            await (await client.get(f"/api/v1/batches/{batch['id']}/zip", headers=auth)).read()
        )
    )
    csv_name = next(n for n in archive.namelist() if n.endswith(".csv"))
    rows = list(csv.reader(io.StringIO(archive.read(csv_name).decode("cp932"), newline="")))
    assert {r[0] for r in rows[1:]} == {i["management_number"] for i in batch["items"][1:]}


@pytest.mark.parametrize(
    "body", [{"source": "elsewhere"}, {"source": "pending", "listing_ids": ["a"]}, [1]]
)
async def test_bad_batch_requests_are_400(companion, auth, body) -> None:
    resp = await companion.post("/api/v1/batches", json=body, headers=auth)
    assert resp.status == 400


async def test_unknown_batch_is_404(companion, auth) -> None:
    assert (await companion.get("/api/v1/batches/999", headers=auth)).status == 404
    assert (await companion.get("/api/v1/batches/999/zip", headers=auth)).status == 404
    assert (await companion.get("/api/v1/batches/abc/zip", headers=auth)).status == 404


async def test_export_cli_writes_the_same_zip(wired, data_dir, database, tmp_path) -> None:
    import asyncio
    import sys

    from tests.conftest import cli_env

    client, auth = wired["client"], wired["auth"]
    batch = await (
        await client.post("/api/v1/batches", json={"source": "pending"}, headers=auth)
    ).json()
    out = tmp_path / "export.zip"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "companion.cli",
        "export",
        "--batch",
        str(batch["id"]),
        "-o",
        str(out),
        "--data-dir",
        str(data_dir),
        env=cli_env(database),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await proc.communicate()
    assert proc.returncode == 0, stderr.decode()
    archive = zipfile.ZipFile(out)
    csv_name = next(n for n in archive.namelist() if n.endswith(".csv"))
    rows = list(csv.reader(io.StringIO(archive.read(csv_name).decode("cp932"), newline="")))
    assert {r[0] for r in rows[1:]} == {i["management_number"] for i in batch["items"]}
    # an unknown batch says so and fails
    bad = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "companion.cli",
        "export",
        "--batch",
        "999",
        "-o",
        str(out),
        "--data-dir",
        str(data_dir),
        env=cli_env(database),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await bad.communicate()
    assert bad.returncode == 1 and "no such batch" in err.decode()


async def test_a_listing_ended_while_its_batch_is_built_stays_ended(wired, aiohttp_server) -> None:
    """An item sold in the shop during the (slow) zip build must not come back as 出品処理中."""
    import asyncio

    from aiohttp import web
    from PIL import Image

    client, auth = wired["client"], wired["auth"]
    requested, gate = asyncio.Event(), asyncio.Event()
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, "JPEG")

    async def slow_image(request: web.Request) -> web.Response:
        requested.set()
        await gate.wait()
        return web.Response(body=buffer.getvalue(), content_type="image/jpeg")

    images = web.Application()
    images.router.add_get("/slow.jpg", slow_image)
    image_server = await aiohttp_server(images)
    pending = (await (await client.get("/api/v1/pending", headers=auth)).json())["items"]
    sold_id, other_id = pending[0]["id"], pending[1]["id"]
    async with client.app[DB].session() as s, s.begin():
        row = await s.get(ListingRecord, sold_id)
        row.inventory = {**row.inventory, "image_urls": [str(image_server.make_url("/slow.jpg"))]}

    making = asyncio.create_task(
        client.post(
            "/api/v1/batches",
            json={"source": "pending", "listing_ids": [sold_id, other_id]},
            headers=auth,
        )
    )
    await asyncio.wait_for(requested.wait(), 30)
    # meanwhile ReCORE's DELETE_INVENTORY is handled: the listing ends
    async with client.app[DB].session() as s, s.begin():
        await s.execute(
            update(ListingRecord).where(ListingRecord.id == sold_id).values(state="ended")
        )
    gate.set()
    resp = await making
    assert resp.status == 201
    batch = await resp.json()
    async with client.app[DB].session() as s:
        assert (await s.get(ListingRecord, sold_id)).state == "ended"
    archive = zipfile.ZipFile(
        io.BytesIO(
            await (await client.get(f"/api/v1/batches/{batch['id']}/zip", headers=auth)).read()
        )
    )
    csv_name = next(n for n in archive.namelist() if n.endswith(".csv"))
    rows = list(csv.reader(io.StringIO(archive.read(csv_name).decode("cp932"), newline="")))
    assert {r[0] for r in rows[1:]} == {pending[1]["management_number"]}


async def test_one_management_number_is_never_open_in_two_batches(wired) -> None:
    client, auth = wired["client"], wired["auth"]
    pending = (await (await client.get("/api/v1/pending", headers=auth)).json())["items"]
    first, second = pending[0], pending[1]
    one = await (
        await client.post(
            "/api/v1/batches",
            json={"source": "pending", "listing_ids": [first["id"]]},
            headers=auth,
        )
    ).json()
    assert one["item_count"] == 1
    # ReCORE sends another listing with the same 管理番号 while the first zip may be uploaded
    async with client.app[DB].session() as s, s.begin():
        row = await s.get(ListingRecord, second["id"])
        row.management_number = first["management_number"]
        row.inventory = {
            **row.inventory,
            "mall_attributes": {
                **row.inventory["mall_attributes"],
                "management_number": first["management_number"],
            },
        }
    two = await (
        await client.post(
            "/api/v1/batches",
            json={"source": "pending", "listing_ids": [second["id"]]},
            headers=auth,
        )
    ).json()
    assert two["item_count"] == 0
    assert [e["rule"] for e in two["errors"]] == ["already_listed"]
