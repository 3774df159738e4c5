"""直接出品を実行 with an item the checks refuse: staff see it at the press and in the finished
job, by 管理番号 with the field and the rule, while the valid items are listed."""

from __future__ import annotations

import pytest

from tests.direct.conftest import WiredFactory

pytestmark = pytest.mark.browser


async def test_refused_item_is_named_at_the_start_and_in_the_finished_job(
    make_wired: WiredFactory,
) -> None:
    wired = await make_wired(listings=4)
    await wired.sb._post(
        f"{wired.sb.recore_url}/_sandbox/listings",
        {
            "items": [
                {
                    "management_number": "BUY-0001",
                    "image_count": 1,
                    "image_kb": 8,
                    "mall_attributes": {"start_price": 3000, "buyout_price": 2000},
                }
            ]
        },
    )
    await wired.poll()

    status, body = await wired.post("/api/v1/direct-listing", {"source": "pending"})
    assert status == 202, body
    # at the press: four go ahead, one is refused, named with the field and the rule
    assert body["item_count"] == 4
    (refused,) = body["refused"]
    assert refused["management_number"] == "BUY-0001"
    (problem,) = refused["problems"]
    assert problem["field_label"] == "即決価格" and problem["rule"] == "buyout_below_start"
    assert "開始価格以上" in problem["message"] and "ReCOREで即決価格を直して" in problem["message"]

    job = await wired.wait_job(body["job_id"])
    # the finished job counts the refused item too, and says why (not 完了 4 / 4件)
    assert job["progress"] == {"done": 5, "total": 5}, job
    assert job["state"] == "partial", job
    by_state: dict[str, list[dict]] = {}
    for item in job["items"]:
        by_state.setdefault(item["state"], []).append(item)
    assert len(by_state["succeeded"]) == 4
    (item,) = by_state["refused"]
    assert item["data"]["management_number"] == "BUY-0001"
    assert item["data"]["problems"][0]["rule"] == "buyout_below_start"
    assert "管理番号 BUY-0001" in item["message"] and "即決価格" in item["message"]

    # ReCORE was told as well (the task failed with the same words)
    await wired.drain_outbox()
    state = await wired.sb.recore_state()
    task = next(
        t for t in state["tasks"] if t["type"] == "CREATE_INVENTORY" and t["outcome"] == "failed"
    )
    assert "即決価格" in task["reports"][0]["body"]["message"]
