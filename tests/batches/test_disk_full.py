"""A full disk while a batch is built (images staged in the cache, the zip written): a clear
pause, the listings back in 新規の出品待ち, nothing reported to ReCORE, and the same button works
once there is room. The cache or the exports folder is a small real file system (tmpfs)."""

from __future__ import annotations

from typing import Any

from tests.batches.conftest import wire


async def _pending_ids(client: Any, auth: dict[str, str]) -> set[int]:
    items = (await (await client.get("/api/v1/pending", headers=auth)).json())["items"]
    return {i["id"] for i in items}


async def _failed_reports(client: Any, sandbox: Any) -> list[dict[str, Any]]:
    async with client.session.get(str(sandbox.make_url("/_sandbox/state"))) as resp:
        state = await resp.json()
    return [t for t in state["tasks"] if t.get("outcome") == "failed"]


async def _full_disk_then_room(wired: dict[str, Any], disk: Any) -> None:
    client, auth, sandbox = wired["client"], wired["auth"], wired["sandbox"]
    pending = await _pending_ids(client, auth)
    disk.fill()
    resp = await client.post("/api/v1/batches", json={"source": "pending"}, headers=auth)
    body = await resp.json()
    assert resp.status == 507, body
    assert body["error"]["code"] == "DISK_FULL"
    assert "ディスクの空きが不足しています" in body["error"]["message"]
    assert "空きを作ってから、もう一度お試しください" in body["error"]["message"]
    # nothing was lost or blamed on an item
    assert await _pending_ids(client, auth) == pending
    assert (await (await client.get("/api/v1/batches", headers=auth)).json())["batches"] == []
    assert await _failed_reports(client, sandbox) == []

    disk.make_room()
    resp = await client.post("/api/v1/batches", json={"source": "pending"}, headers=auth)
    assert resp.status == 201, await resp.text()
    batch = await resp.json()
    assert batch["item_count"] > 0
    assert "image_fetch_failed" not in {e["rule"] for e in batch["errors"]}


async def test_a_full_disk_while_images_are_staged(
    make_companion: Any, recore_sandbox: Any, small_disk: Any, data_dir: Any
) -> None:
    disk = small_disk(data_dir / "cache", 8)
    wired = await wire(make_companion, recore_sandbox, min_free_bytes=0)
    await _full_disk_then_room(wired, disk)


async def test_a_full_disk_while_the_zip_is_written(
    make_companion: Any, recore_sandbox: Any, small_disk: Any, data_dir: Any
) -> None:
    disk = small_disk(data_dir / "exports", 16)
    wired = await wire(make_companion, recore_sandbox, min_free_bytes=0)
    await _full_disk_then_room(wired, disk)


async def test_a_nearly_full_disk_is_refused_before_the_work_starts(
    make_companion: Any, recore_sandbox: Any, small_disk: Any, data_dir: Any
) -> None:
    """The data dir's own disk below the minimum: refused at once, with the space left."""
    disk = small_disk(data_dir, 64)
    wired = await wire(
        make_companion, recore_sandbox, min_free_bytes=32 * 1024 * 1024, disk_reserve_bytes=0
    )
    await _full_disk_then_room(wired, disk)
