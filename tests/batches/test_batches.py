"""新規の出品待ち → 生成済みリスト: batches and zips, against the seeded ReCORE sandbox over HTTP."""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from companion.db.models import ListingRecord
from companion.keys import DB, GATEWAY, OUTBOX


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
    assert {"title_too_long", "text_not_cp932", "buyout_below_start"} <= rules
    # a raw newline in the description is made <br>, not refused
    assert "description_newline" not in rules
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


async def test_every_download_of_a_batch_has_a_name_of_its_own(wired) -> None:
    """A browser saves a second file of the same name as 「… (1).zip」: each download is named
    apart instead (ASCII, no spaces), the first under the batch's own name."""
    client, auth = wired["client"], wired["auth"]
    pending = (await (await client.get("/api/v1/pending", headers=auth)).json())["items"]
    batch = await (
        await client.post(
            "/api/v1/batches",
            json={"source": "pending", "listing_ids": [pending[0]["id"]]},
            headers=auth,
        )
    ).json()
    names = []
    for _ in range(3):
        resp = await client.get(f"/api/v1/batches/{batch['id']}/zip", headers=auth)
        assert resp.status == 200
        names.append(resp.headers["Content-Disposition"].split('filename="')[1].rstrip('"'))
    assert names[0] == f"{batch['name']}.zip"
    assert len(set(names)) == 3, names
    for name in names:
        assert name.isascii() and " " not in name and name.endswith(".zip"), name
        assert name.startswith(batch["name"])


@pytest.mark.parametrize(
    "body", [{"source": "elsewhere"}, {"source": "pending", "listing_ids": ["a"]}, [1]]
)
async def test_bad_batch_requests_are_400(companion, auth, body) -> None:
    resp = await companion.post("/api/v1/batches", json=body, headers=auth)
    assert resp.status == 400


async def test_unknown_batch_is_404(companion, auth) -> None:
    assert (await companion.get("/api/v1/batches/999", headers=auth)).status == 404
    assert (await companion.get("/api/v1/batches/999/zip", headers=auth)).status == 404
    # not an id at all: a bad request, as an id out of range is
    assert (await companion.get("/api/v1/batches/abc/zip", headers=auth)).status == 400


async def _export(database: str, data_dir: Path, batch: str, out: Path) -> tuple[int, str]:
    """`recore-connector export --batch BATCH -o OUT` as staff run it: (exit code, stderr)."""
    import asyncio
    import sys

    from tests.conftest import cli_env

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "companion.cli",
        "export",
        "--batch",
        batch,
        "-o",
        str(out),
        "--data-dir",
        str(data_dir),
        env=cli_env(database),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await proc.communicate()
    return proc.returncode or 0, stderr.decode()


async def _new_batch(wired: dict[str, Any]) -> dict[str, Any]:
    client, auth = wired["client"], wired["auth"]
    resp = await client.post("/api/v1/batches", json={"source": "pending"}, headers=auth)
    return await resp.json()


async def test_export_cli_writes_the_same_zip(wired, data_dir, database, tmp_path) -> None:
    batch = await _new_batch(wired)
    out = tmp_path / "export.zip"
    code, stderr = await _export(database, data_dir, str(batch["id"]), out)
    assert code == 0, stderr
    archive = zipfile.ZipFile(out)
    csv_name = next(n for n in archive.namelist() if n.endswith(".csv"))
    rows = list(csv.reader(io.StringIO(archive.read(csv_name).decode("cp932"), newline="")))
    assert {r[0] for r in rows[1:]} == {i["management_number"] for i in batch["items"]}
    # an unknown batch says so and fails
    code, stderr = await _export(database, data_dir, "999", out)
    assert code == 1 and "no such batch" in stderr


async def test_export_never_writes_through_a_planted_symlink(
    wired, data_dir, database, tmp_path
) -> None:
    batch = await _new_batch(wired)
    victim = tmp_path / "victim.txt"
    victim.write_text("not yours")
    out = tmp_path / "export.zip"
    # the temporary name the export used to write to, planted by someone who can write here
    planted = tmp_path / ".export.zip.part"
    planted.symlink_to(victim)
    code, stderr = await _export(database, data_dir, str(batch["id"]), out)
    assert code == 0, stderr
    assert victim.read_bytes() == b"not yours"
    assert planted.is_symlink() and planted.resolve() == victim  # left alone
    assert not out.is_symlink() and zipfile.is_zipfile(out)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == [planted.name]


async def test_export_of_an_id_out_of_range_is_refused_without_a_traceback(
    wired, data_dir, database, tmp_path
) -> None:
    for batch in ("99999999999999999999", "9" * 5000, "0", "-3", "abc"):
        code, stderr = await _export(database, data_dir, batch, tmp_path / "x.zip")
        assert code == 2, (batch[:30], stderr[-500:])  # argparse: a usage error
        assert "batch id is a whole number from 1 to 2147483647" in stderr
        assert "Traceback" not in stderr
    for name in ("companion.log", "cli.log"):  # export, a one-off command, writes cli.log
        log = data_dir / "logs" / name
        assert "Traceback" not in (log.read_text() if log.exists() else "")


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


async def test_a_formula_like_title_goes_to_yahoo_unchanged_with_a_warning(wired) -> None:
    """Right for Yahoo, so never altered; staff are warned because Excel would run it."""
    client, auth, sandbox = wired["client"], wired["auth"], wired["sandbox"]
    titles = {"F-0001": '=HYPERLINK("http://x.example","ブランドバッグ")', "F-0002": "-50%セール品"}
    async with client.session.post(
        str(sandbox.make_url("/_sandbox/listings")),
        json={
            "items": [
                {"title": t, "management_number": n, "image_count": 1} for n, t in titles.items()
            ]
        },
    ) as resp:
        assert resp.status == 201, await resp.text()
        ids = [item["id"] for item in (await resp.json())["listings"]]
    await client.app[GATEWAY].poll_once()
    resp = await client.post(
        "/api/v1/batches", json={"source": "pending", "listing_ids": ids}, headers=auth
    )
    assert resp.status == 201, await resp.text()
    batch = await resp.json()
    assert batch["errors"] == [] and batch["item_count"] == 2  # listed all the same
    warned = {w["management_number"]: w for w in batch["warnings"]}
    assert set(warned) == set(titles)
    for number, warning in warned.items():
        assert warning["rule"] == "formula_like_title" and warning["field"] == "title"
        assert number in warning["message"] and "Excel" in warning["message"]
    zipped = await client.get(f"/api/v1/batches/{batch['id']}/zip", headers=auth)
    archive = zipfile.ZipFile(io.BytesIO(await zipped.read()))
    csv_name = next(n for n in archive.namelist() if n.endswith(".csv"))
    rows = list(csv.reader(io.StringIO(archive.read(csv_name).decode("cp932"), newline="")))
    title_column = rows[0].index("タイトル")
    assert {r[title_column] for r in rows[1:]} == set(titles.values())


async def test_errors_lists_every_item_in_error_most_recent_first(wired) -> None:
    """The counts line's エラー N opens this list: 管理番号, field, rule, when."""
    client, auth, sandbox = wired["client"], wired["auth"], wired["sandbox"]
    first = await (
        await client.post("/api/v1/batches", json={"source": "pending"}, headers=auth)
    ).json()
    # the batch answers with its refused items grouped for staff, by 管理番号
    labels = [entry["label"] for entry in first["refused"]]
    numbered = [e["management_number"] for e in first["refused"] if e["management_number"]]
    assert numbered == sorted(numbered)
    assert len(labels) == len(set(labels)) == len({e["listing_ids"][0] for e in first["refused"]})
    assert all(entry["problems"] for entry in first["refused"])

    # later, one more item is refused: it comes first
    async with client.session.post(
        str(sandbox.make_url("/_sandbox/listings")),
        json={"items": [{"management_number": "LATE-0001", "title": "長い題名" * 20}]},
    ) as resp:
        assert resp.status == 201
    await client.app[GATEWAY].poll_once()
    second = await (
        await client.post("/api/v1/batches", json={"source": "pending"}, headers=auth)
    ).json()
    assert [e["management_number"] for e in second["refused"]] == ["LATE-0001"]

    resp = await client.get("/api/v1/errors", headers=auth)
    assert resp.status == 200
    body = await resp.json()
    status = await (await client.get("/api/v1/status", headers=auth)).json()
    assert body["total"] == status["counts"]["errors"]
    # one entry per 管理番号: the two listings that share RC-10008 are one item to staff
    numbers = [item["management_number"] for item in body["items"]]
    assert len(numbers) == len(set(numbers)) == body["total"] - 1
    newest = body["items"][0]
    assert newest["management_number"] == "LATE-0001" and newest["at"]
    (problem,) = newest["problems"]
    assert problem["field_label"] == "タイトル" and problem["rule"] == "title_too_long"
    assert "ReCOREでタイトルを短くしてください" in problem["message"]
    times = [item["at"] for item in body["items"]]
    assert times == sorted(times, reverse=True)
    assert {i for item in body["items"] for i in item["listing_ids"]} >= {
        e["ec_inventory_id"] for e in first["errors"]
    }
    for item in body["items"]:
        assert item["problems"] and all(p["message"] for p in item["problems"])


async def test_a_rejected_items_report_leaves_at_once_not_at_the_next_idle_tick(
    make_companion, recore_sandbox
) -> None:
    from companion.keys import GATEWAY, RECORE
    from companion.recore.outbox import RetryPolicy
    from companion.recore.service import RECORE_OPTIONS, ServiceOptions
    from sandbox.recore.app import demo_credentials
    from tests.conftest import pair_client

    def prepare(app) -> None:
        # the delivery loop runs, but its idle timer would not fire within this test
        app[RECORE_OPTIONS] = ServiceOptions(
            rate=500.0, poll_interval=3600, policy=RetryPolicy(idle=3600)
        )

    client = await make_companion(prepare=prepare, workers=True)
    auth = {"Authorization": f"Bearer {await pair_client(client)}"}
    creds = demo_credentials(recore_sandbox.app)
    settings = {
        "recore_api_url": str(recore_sandbox.make_url("")),
        "recore_api_key": creds["api_key"],
        "ec_account_id": creds["ec_account_id"],
    }
    assert (await client.put("/api/v1/settings", json=settings, headers=auth)).status == 200
    await client.app[RECORE].settled()
    await client.app[GATEWAY].poll_once()
    await client.app[OUTBOX].drain(timeout=10)  # what the poll itself sent is out of the way

    resp = await client.post("/api/v1/batches", json={"source": "pending"}, headers=auth)
    assert resp.status == 201, await resp.text()
    rejected = {e["ec_inventory_id"] for e in (await resp.json())["errors"]}
    assert rejected

    async def reported() -> set[int]:
        state = await _sandbox_state(client, recore_sandbox)
        return {
            t["data"]["ec_inventory_id"]
            for t in state["tasks"]
            if t["type"] == "CREATE_INVENTORY" and t.get("outcome") == "failed"
        }

    async with asyncio.timeout(20):
        while not rejected <= await reported():  # noqa: ASYNC110 - another server's state
            await asyncio.sleep(0.1)
