"""Task details the co-api spec does not show, handled safely: a task type the connector does not
know stays open and visible until an alias maps it; an order task that carries only ReCORE's own
order id still ships on Yahoo."""

from __future__ import annotations

from companion.keys import TABLES
from tests.sync.conftest import Hub
from tests.sync.helpers import local_task, store_status, task_of, yahoo_order


async def test_an_order_task_with_only_recores_order_id_ships(hub: Hub) -> None:
    await hub.run_sync()  # the demo store's orders reach ReCORE
    state = await hub.recore_state()
    paid = next(o for o in state["orders"] if store_status(o) == "入金済み")
    # as ReCORE might send it: its own order id, no mall_order_id
    issued = await hub.recore_post(
        "/_sandbox/tasks",
        {
            "type": "SHIP_ORDER",
            "data": {
                "ec_order_id": paid["id"],
                "tracking_number": "5555-6666-7777",
                "carrier": "SAGAWA",
            },
        },
    )
    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    y = yahoo_order(hub, paid["mall_order_id"])
    assert y.tracking_number == "5555-6666-7777" and y.store_status == "発送済み"
    task = task_of(await hub.recore_state(), issued["task"]["id"])
    assert task["outcome"] == "succeeded" and task["report_count"] == 1
    # found through GET /ec/orders?ids=<ec_order_id>
    assert (await local_task(hub, issued["task"]["id"])).mall_order_id == paid["mall_order_id"]


async def test_an_unknown_task_type_stays_open_and_visible_until_an_alias_maps_it(
    hub: Hub,
) -> None:
    await hub.run_sync()
    state = await hub.recore_state()
    pending = next(o for o in state["orders"] if store_status(o) == "未処理")
    data = {"ec_order_id": pending["id"], "mall_order_id": pending["mall_order_id"]}
    # ReCORE's real name for a cancellation turns out to be another one than we assumed
    issued = await hub.recore_post("/_sandbox/tasks", {"type": "ORDER_CANCEL", "data": data})
    task_id = issued["task"]["id"]

    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    # kept: not reported (a failed report may be final in ReCORE), not acted on
    assert task_of(await hub.recore_state(), task_id)["report_count"] == 0
    assert (await local_task(hub, task_id)).state == "unknown"
    assert yahoo_order(hub, pending["mall_order_id"]).store_status == "未処理"
    # shown to staff with its raw type and data, and alerted
    status = await hub.status()
    [shown] = status["recore"]["unknown_tasks"]
    assert (shown["id"], shown["type"], shown["data"]) == (task_id, "ORDER_CANCEL", data)
    assert any("ORDER_CANCEL" in e["message"] for e in status["last_errors"])
    alerts = len(status["last_errors"])
    await hub.run_sync()  # polled again: still kept, no second alert
    assert len((await hub.status())["last_errors"]) == alerts
    assert task_of(await hub.recore_state(), task_id)["report_count"] == 0

    # the IT person maps it in the task type table: handled at the next poll, no release needed
    await hub.app[TABLES].put("task_types", {"ORDER_CANCEL": "CANCEL_ORDER"})
    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    assert yahoo_order(hub, pending["mall_order_id"]).store_status == "キャンセル"
    assert task_of(await hub.recore_state(), task_id)["outcome"] == "succeeded"
    assert (await hub.status())["recore"]["unknown_tasks"] == []
