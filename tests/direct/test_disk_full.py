"""直接出品を実行 on a full disk: the images are staged in the cache, a small real file system
(tmpfs) that is full. The job pauses with a clear message, no item fails, nothing reaches Yahoo or
ReCORE as anybody's fault; once there is room the job resumes by itself and lists each item once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.direct.conftest import WiredFactory, tasks_by_inventory

pytestmark = pytest.mark.browser


async def test_direct_listing_pauses_on_a_full_disk_and_resumes_when_there_is_room(
    make_wired: WiredFactory, small_disk: Any, data_dir: Path
) -> None:
    disk = small_disk(data_dir / "cache", 16)
    wired = await make_wired(
        listings=3, config={"min_free_bytes": 0, "resource_check_seconds": 0.1}
    )
    status, batch = await wired.post("/api/v1/batches", {"source": "pending"})
    assert status == 201, batch
    assert batch["item_count"] == 3
    # the images must be fetched again (as after the daily prune), onto a disk with no room
    for entry in (data_dir / "cache" / "images" / "urls").iterdir():
        entry.unlink()
    disk.fill()

    status, body = await wired.post(f"/api/v1/batches/{batch['id']}/direct-listing")
    assert status == 202, body
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "paused", job
    assert job["error"]["code"] == "DISK_FULL"
    assert "ディスクの空きが不足しています" in job["error"]["message"]
    assert "自動で続きから再開します" in job["error"]["message"]
    assert not [i for i in job["items"] if i["state"] == "failed"], job["items"]
    yahoo = await wired.sb.yahoo_state()
    numbers = {i["management_number"] for i in batch["items"]}
    assert not numbers & {x["management_number"] for x in yahoo["listings"]}
    recore = await wired.sb.recore_state()
    assert not [t for t in tasks_by_inventory(recore).values() if t.get("outcome") == "failed"]

    disk.make_room()
    async with asyncio.timeout(120):
        while (job := await wired.get(f"/api/v1/jobs/{body['job_id']}"))["state"] != "succeeded":
            assert job["state"] in ("paused", "queued", "running"), job
            await asyncio.sleep(0.1)
    yahoo = await wired.sb.yahoo_state()
    listed = Counter(
        x["management_number"] for x in yahoo["listings"] if x["management_number"] in numbers
    )
    assert listed == Counter(numbers)  # each once
    await wired.drain_outbox()
    recore = await wired.sb.recore_state()
    outcomes = [t.get("outcome") for t in tasks_by_inventory(recore).values()]
    assert outcomes.count("succeeded") == 3 and "failed" not in outcomes
