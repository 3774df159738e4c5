"""確認モード for 直接出品を実行 over the API (real Chromium, both sandboxes): no item reaches the
store, nor its report ReCORE, before 実行; スキップ leaves the item 出品処理中 in its batch; after N
approvals the rest is listed on its own."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from companion.db.models import ListingRecord
from companion.keys import CONFIRMATIONS, DB
from tests.direct.conftest import Wired, WiredFactory, tasks_by_inventory

pytestmark = pytest.mark.browser


async def _confirmations(wired: Wired) -> dict[str, Any]:
    return await wired.get("/api/v1/confirmations")


async def _decide(wired: Wired, confirmation_id: int, action: str) -> None:
    status, body = await wired.post(f"/api/v1/confirmations/{confirmation_id}/{action}")
    assert status == 200, body
    await wired.client.app[CONFIRMATIONS].settled()  # the resumed job has run


async def _states(wired: Wired) -> dict[str, str]:
    async with wired.client.app[DB].session() as s:
        rows = (await s.scalars(select(ListingRecord))).all()
    return {r.management_number or "": r.state for r in rows}


async def _on_store(wired: Wired) -> set[str]:
    return {x["management_number"] for x in (await wired.sb.yahoo_state())["listings"]}


async def test_listings_and_their_reports_wait_for_approval(make_wired: WiredFactory) -> None:
    wired = await make_wired(
        listings=3, config={"confirm_first_writes": True}, confirmation_count=2
    )
    before = await _on_store(wired)
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    assert status == 202, body
    job = await wired.wait_job(body["job_id"])
    # the job waits for staff, saying so; nothing was listed
    assert job["state"] == "paused", job
    assert job["error"]["code"] == "CONFIRMATION" and "確認待ち" in job["error"]["message"]
    assert {i["state"] for i in job["items"]} == {"awaiting"}
    assert await _on_store(wired) == before

    report = await _confirmations(wired)
    items = [i for i in report["items"] if i["kind"] == "listing"]
    assert len(items) == 3 and report["waiting"] == 3
    first, second, third = items
    numbers = {i["item"].split()[1]: i for i in items}  # 管理番号 X「title」
    assert set(numbers) == set(await _states(wired))
    values = {v["name"]: v["value"] for v in first["values"]}
    assert first["target"].startswith("ヤフオク!ストア")
    assert values["管理番号"] == first["item"].split()[1] and values["タイトル"]
    assert values["開始価格"].isdigit()

    # スキップ the first, 実行 the second: only the second is listed (the job resumed by itself)
    await _decide(wired, first["id"], "skip")
    await _decide(wired, second["id"], "approve")
    first_mn, second_mn, third_mn = (i["item"].split()[1] for i in items)
    assert await _on_store(wired) - before == {second_mn}
    states = await _states(wired)
    assert states[second_mn] == "listed"
    assert states[first_mn] == states[third_mn] == "processing"
    # its report to ReCORE is a write of its own kind: it waits too
    await wired.drain_outbox()
    recore = tasks_by_inventory(await wired.sb.recore_state())
    assert all(t["outcome"] is None for t in recore.values())
    report = await _confirmations(wired)
    [task_report] = [i for i in report["items"] if i["kind"] == "task_report"]
    assert task_report["item"].startswith(f"管理番号 {second_mn}")
    assert "/succeeded" in task_report["target"]

    # 実行 of the third: two approved (N = 2), listed; the skipped one stays 出品処理中
    await _decide(wired, third["id"], "approve")
    assert await _on_store(wired) - before == {second_mn, third_mn}
    assert (await _states(wired))[first_mn] == "processing"
    report = await _confirmations(wired)
    assert [i["id"] for i in report["items"] if i["kind"] == "listing"] == [first["id"]]
    assert report["skipped"] == 1
    batch = await wired.get(f"/api/v1/batches/{body['batch_id']}")
    assert batch["open_count"] == 1
    # the job waits for the skipped one (paused, not failed)
    job = await wired.get(f"/api/v1/jobs/{body['job_id']}")
    assert job["state"] == "paused" and job["error"]["code"] == "CONFIRMATION", job

    # the reports: 実行 twice (N = 2), then they flow
    for item in [i for i in report["items"] if i["kind"] == "task_report"]:
        await _decide(wired, item["id"], "approve")
    await wired.drain_outbox()
    recore = tasks_by_inventory(await wired.sb.recore_state())
    assert sorted(t["outcome"] or "" for t in recore.values()) == ["", "succeeded", "succeeded"]

    # the skipped item, approved later: listed, and its report flows on its own
    await _decide(wired, first["id"], "approve")
    assert await _on_store(wired) - before == {first_mn, second_mn, third_mn}
    job = await wired.get(f"/api/v1/jobs/{body['job_id']}")
    assert job["state"] == "succeeded", job
    await wired.drain_outbox()
    recore = tasks_by_inventory(await wired.sb.recore_state())
    assert all(t["outcome"] == "succeeded" for t in recore.values())
    assert (await _confirmations(wired))["items"] == []
    assert (await wired.sb.yahoo_state())["duplicates"] == {}


async def test_after_n_approvals_new_listings_flow(make_wired: WiredFactory) -> None:
    wired = await make_wired(
        listings=1, config={"confirm_first_writes": True}, confirmation_count=1
    )
    before = await _on_store(wired)
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "paused"
    [item] = (await _confirmations(wired))["items"]
    await _decide(wired, item["id"], "approve")
    job = await wired.get(f"/api/v1/jobs/{body['job_id']}")
    assert job["state"] == "succeeded", job
    # the next listings are not asked about
    await wired.sb.add_listings(2)
    await wired.poll()
    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    job = await wired.wait_job(body["job_id"])
    assert job["state"] == "succeeded", job
    assert len(await _on_store(wired) - before) == 3
    # their reports, a kind of its own, still wait for its first approval
    assert [i["kind"] for i in (await _confirmations(wired))["items"]] == ["task_report"] * 3
