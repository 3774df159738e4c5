"""The whole life of a listing and its order, across the real sandboxes, in both store worlds:
ReCORE 出品 → zip uploaded → found on Yahoo (listed, succeeded; or first registered in a folder
and started with 出品開始) → bid (reserved) → won (保留中) → paid (未出荷) → shipped from ReCORE
(tracking to Yahoo, the carrier chosen by its label) → 対応終了 — and a cancellation from ReCORE.
A second sync with nothing changed sends nothing to ReCORE."""

from __future__ import annotations

import asyncio
from typing import Any

from companion.db.models import AuctionSnapshot
from companion.keys import JOBS
from tests.conftest import both_worlds, pair_client
from tests.sync.conftest import Hub
from tests.sync.helpers import (
    list_on_yahoo,
    listing,
    local_task,
    recore_listing,
    recore_order,
    steps,
    store_status,
    task_of,
    waiting_listing_ids,
    yahoo_order,
)


async def start_registered(hub: Hub, batch_id: int) -> dict:
    """出品開始 in the popup: the batch's items registered in a folder are started."""
    auth = {"Authorization": f"Bearer {await pair_client(hub.client)}"}
    resp = await hub.client.post(f"/api/v1/batches/{batch_id}/start", headers=auth)
    assert resp.status == 202, await resp.text()
    job_id = (await resp.json())["job_id"]
    async with asyncio.timeout(60):
        await hub.app[JOBS].wait(job_id)
    job = await hub.app[JOBS].get(job_id)
    assert job is not None
    return job


@both_worlds
async def test_order_life_cycle_lands_in_recore_with_mapped_statuses(make_hub: Any) -> None:
    hub = await make_hub(all_features=True)  # 出品開始 is direct listing's
    # 1. first sync: ReCORE's CREATE tasks come in, the demo store's orders go out
    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    # the job says what it did, in numbers staff can be shown (orders read, changes sent)
    figures = {i["key"]: i["data"] for i in job["items"]}
    assert figures["orders"]["orders"] == len(hub.world.orders) > 0
    assert figures["upserts"]["upserts"] == len(hub.world.orders)
    assert figures["deliver"]["sent"] >= figures["upserts"]["upserts"]
    assert figures["recore_tasks"]["new"] > 0
    lid = (await waiting_listing_ids(hub))[0]
    rec = await listing(hub, lid)
    create_task = rec.task_id
    assert create_task

    # 2. staff download the zip and upload it; the next sync finds the item on Yahoo
    uploaded = await list_on_yahoo(hub, lid)
    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    rec = await listing(hub, lid)
    if rec.management_number in uploaded.registered:
        # the upload only registered it in a folder: a state of its own, told to staff …
        assert rec.state == "registered", rec.state
        status = await hub.status()
        assert status["counts"]["registered"] == 1
        assert any("フォルダに登録済み（未出品）" in e["message"] for e in status["last_errors"])
        # … and 出品開始 in the popup starts it
        started = await start_registered(hub, rec.batch_id)
        assert started["state"] == "succeeded", started
        job = await hub.run_sync()  # the result reaches ReCORE with the next sync
        assert job["state"] == "succeeded", job
        rec = await listing(hub, lid)
    assert rec.state == "listed" and rec.auction_id
    auction_id = rec.auction_id
    state = await hub.recore_state()
    assert task_of(state, create_task)["outcome"] == "succeeded"
    mine = recore_listing(state, lid)
    assert mine["status"] == "DONE" and mine["mall_product_code"] == auction_id
    assert mine["mall_item_codes"] == [rec.management_number]

    # 3. a bid: not an order yet, the stock stays reserved (listing still 出品中), status shows it
    before = (await hub.status())["counts"]["bidding"]
    await hub.yahoo_post("/_sandbox/bid", {"auction_id": auction_id, "bidder": "bidder_777"})
    await hub.run_sync()
    async with hub.db.session() as s:
        snap = await s.get(AuctionSnapshot, auction_id)
        assert snap is not None and snap.bids == 1 and snap.state == "selling"
    assert (await hub.status())["counts"]["bidding"] == before + 1
    assert recore_listing(await hub.recore_state(), lid)["status"] == "DONE"

    # 4. the auction ends with a winner: an order 未処理 → ReCORE 保留中 (ORDERED) with the address
    ended = await hub.yahoo_post("/_sandbox/end", {"auction_id": auction_id})
    order_id = ended["order"]["order_id"]
    await hub.run_sync()
    state = await hub.recore_state()
    order = recore_order(state, order_id)
    y = yahoo_order(hub, order_id)
    assert order["status"] == "ORDERED" and store_status(order) == "未処理"
    assert order["sub_status"] is None  # ReCORE's own enum: never sent
    assert order["buyer_name"] == y.buyer_name
    assert order["shipping_postal_code"] == y.postal_code
    assert order["shipping_phone"] == y.phone
    address = "".join(
        order[k] or "" for k in ("shipping_state_or_region", "shipping_city", "shipping_address1")
    )
    assert address == y.address
    assert order["goods"][0]["mall_item_code"] == rec.management_number
    assert recore_listing(state, lid)["status"] == "ENDED"  # ReCORE books the sale
    assert (await listing(hub, lid)).state == "ended"

    # 5. the buyer pays: 入金済み → 未出荷
    await hub.yahoo_post(f"/_sandbox/orders/{order_id}/status", {"store_status": "入金済み"})
    await hub.run_sync()
    assert recore_order(await hub.recore_state(), order_id)["status"] == "UNSHIPPED"

    # 6. staff ship in ReCORE: SHIP_ORDER puts the tracking number on Yahoo and marks it shipped
    shipped = await hub.recore_post(
        f"/_sandbox/orders/{order['id']}/ship",
        {"tracking_number": "1234-5678-9012", "carrier": "YAMATO"},
    )
    ship_task = shipped["task"]["id"]
    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    y = yahoo_order(hub, order_id)
    # the carrier chosen by its label (the option's value is the store's own code)
    assert y.tracking_number == "1234-5678-9012" and y.carrier in ("yamato", "ヤマト運輸")
    assert y.store_status == "発送済み" and y.ship_status == "出荷済み"
    state = await hub.recore_state()
    assert task_of(state, ship_task)["outcome"] == "succeeded"
    assert (await local_task(hub, ship_task)).state == "reported"
    assert recore_order(state, order_id)["status"] == "SHIPPED"

    # 7. done on Yahoo: 対応終了 still maps to 出荷済み
    await hub.yahoo_post(f"/_sandbox/orders/{order_id}/status", {"store_status": "対応終了"})
    await hub.run_sync()
    order = recore_order(await hub.recore_state(), order_id)
    assert order["status"] == "SHIPPED" and store_status(order) == "対応終了"

    # 8. nothing changed: a second sync sends nothing to ReCORE
    posts = await hub.post_count()
    job = await hub.run_sync()
    assert job["state"] == "succeeded"
    assert await hub.post_count() == posts
    assert "変更なし" in next(i["message"] for i in job["items"] if i["key"] == "upserts")
    figures = {i["key"]: i["data"] for i in job["items"]}
    assert figures["upserts"]["upserts"] == 0 and figures["deliver"]["sent"] == 0


@both_worlds
async def test_cancel_from_recore_cancels_on_yahoo_and_shipped_one_is_refused(hub: Hub) -> None:
    await hub.run_sync()
    state = await hub.recore_state()
    pending = next(o for o in state["orders"] if store_status(o) == "未処理")
    shipped = next(o for o in state["orders"] if store_status(o) == "発送済み")

    ok = await hub.recore_post(f"/_sandbox/orders/{pending['id']}/cancel", {"reason": "在庫なし"})
    # a shipped order cannot be cancelled in ReCORE either; issue the task as ReCORE's API would
    refused = await hub.recore_post(
        "/_sandbox/tasks",
        {
            "type": "CANCEL_ORDER",
            "data": {"ec_order_id": shipped["id"], "mall_order_id": shipped["mall_order_id"]},
        },
    )
    job = await hub.run_sync()
    assert steps(job)["recore_tasks"] == "succeeded"

    y = yahoo_order(hub, pending["mall_order_id"])
    assert y.store_status == "キャンセル" and y.order_status == 4
    state = await hub.recore_state()
    assert task_of(state, ok["task"]["id"])["outcome"] == "succeeded"
    assert recore_order(state, pending["mall_order_id"])["status"] == "CANCELED"

    report = task_of(state, refused["task"]["id"])
    assert report["outcome"] == "failed"
    message = report["reports"][0]["body"]["message"]
    assert "キャンセルできませんでした" in message and "出荷済み" in message
    assert yahoo_order(hub, shipped["mall_order_id"]).store_status == "発送済み"
