"""The simulated world: time advance makes bids, sales, orders, payments and cancellations,
deterministically; the /_sandbox/ controls."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from sandbox.yahoo.world import World
from tests.sandbox_yahoo.helpers import state


async def test_advance_produces_orders(client: TestClient) -> None:
    before = await state(client)
    assert len(before["orders"]) == 10
    r = await client.post("/_sandbox/advance", json={"hours": 24 * 8})
    body = await r.json()
    assert body["clock"].startswith("2026-11-30T09:00")
    ev = body["events"]
    assert ev["bids"] > 0 and ev["sold"] > 0 and ev["unsold"] > 0 and ev["paid"] > 0
    after = await state(client)
    new = [
        o for o in after["orders"] if o["order_id"] not in {x["order_id"] for x in before["orders"]}
    ]
    assert len(new) == ev["sold"]
    # every running auction of the seed has ended by now (max 7 days)
    assert after["counts"]["by_status"].get("selling", 0) == 0
    statuses = {o["store_status"] for o in new}
    assert "入金済み" in statuses  # buyers paid
    for o in new:
        assert o["auction_id"] and o["management_number"].startswith("DEMO-")
        assert o["order_status_label"] in ("処理中", "キャンセル")
        item = next(i for i in after["listings"] if i["order_id"] == o["order_id"])
        assert item["status"] == "sold" and item["sold_price"] == o["price"]
        assert o["total"] == o["price"] + o["shipping_fee"]


async def test_unpaid_orders_end_up_paid_or_cancelled(client: TestClient) -> None:
    await client.post("/_sandbox/advance", json={"hours": 24 * 30})
    s = await state(client)
    # after a month nobody is left unpaid, and some buyers cancelled
    assert not [o for o in s["orders"] if o["pay_status"] == "未入金" and o["order_status"] == 2]
    assert any(o["store_status"] == "キャンセル" for o in s["orders"])


def test_same_seed_same_world_however_split() -> None:
    a, b = World(), World()
    a.seed_demo()
    b.seed_demo()
    a.advance(50)
    for _ in range(10):
        b.advance(5)
    ja, jb = a.to_json(), b.to_json()
    assert ja["items"] == jb["items"] and ja["orders"] == jb["orders"]


def test_resubmit_gives_new_auction_id() -> None:
    w = World()
    item = w.create_item(w.base_values(1, "R-1") | {"商品の自動再出品": "2"}, [], "seed")
    w.items[item.item_id].values["開始価格"] = "1000"
    first = item.auction_id
    w.close(item, w.clock)  # no bids
    assert item.status == "selling" and item.auction_id != first
    assert item.past_auction_ids == [first] and item.resubmits_left == 1
    assert w.item_by_auction(first) is item


async def test_bid_and_end_controls(client: TestClient) -> None:
    s = await state(client)
    running = next(i for i in s["listings"] if i["status"] == "selling" and i["bids"] == 0)
    aid = running["auction_id"]
    r = await client.post("/_sandbox/bid", json={"auction_id": aid})
    item = await r.json()
    assert item["bids"] == 1 and item["current_price"] == running["start_price"]
    r = await client.post("/_sandbox/bid", json={"auction_id": aid, "price": item["current_price"]})
    assert r.status == 409  # must beat the current price by the increment
    r = await client.post(
        "/_sandbox/bid",
        json={"auction_id": aid, "price": item["current_price"] + 5000, "bidder": "alice"},
    )
    assert (await r.json())["bids"] == 2
    r = await client.post("/_sandbox/end", json={"auction_id": aid})
    body = await r.json()
    assert body["item"]["status"] == "sold" and body["order"]["buyer_id"] == "alice"
    assert body["order"]["store_status"] == "未処理" and body["order"]["pay_status"] == "未入金"
    assert (await client.post("/_sandbox/bid", json={"auction_id": aid})).status == 409  # ended
    assert (await client.post("/_sandbox/bid", json={"auction_id": "x0"})).status == 404


async def test_buyout_ends_at_once(client: TestClient) -> None:
    s = await state(client)
    running = next(i for i in s["listings"] if i["status"] == "selling" and i["buyout_price"])
    r = await client.post(
        "/_sandbox/bid",
        json={"auction_id": running["auction_id"], "price": running["buyout_price"]},
    )
    item = await r.json()
    assert item["status"] == "sold" and item["order_id"]


async def test_order_status_control(client: TestClient) -> None:
    s = await state(client)
    oid = next(o["order_id"] for o in s["orders"] if o["store_status"] == "未処理")
    r = await client.post(f"/_sandbox/orders/{oid}/status", json={"store_status": "発送済み"})
    o = await r.json()
    assert (
        o["store_status"] == "発送済み"
        and o["ship_status"] == "出荷済み"
        and o["pay_status"] == "入金済み"
    )
    r = await client.post(f"/_sandbox/orders/{oid}/status", json={"store_status": "なにか"})
    assert r.status == 400
    r = await client.post("/_sandbox/orders/nope/status", json={"store_status": "未処理"})
    assert r.status == 404
    r = await client.post(f"/_sandbox/orders/{oid}/status", data=b"not json")
    assert r.status == 400


async def test_bulk_and_advance_validation(client: TestClient) -> None:
    r = await client.post("/_sandbox/bulk", json={"selling": 3, "orders": 2})
    assert await r.json() == {"selling": 3, "orders": 2}
    s = await state(client, brief=True)
    assert s["counts"]["orders"] == 12 and s["counts"]["by_status"]["selling"] == 33
    assert (await client.post("/_sandbox/bulk", json={"selling": "many"})).status == 400
    assert (await client.post("/_sandbox/advance", json={"hours": -1})).status == 400
    assert (await client.post("/_sandbox/advance", json={"hours": "x"})).status == 400
