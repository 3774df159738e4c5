"""The staff's status mapping table is what decides ReCORE's status; an item sold over the counter
while listed ends its auction on Yahoo (the double-sale guard), unless it has bids."""

from __future__ import annotations

from companion.keys import SETTINGS
from tests.sync.conftest import Hub
from tests.sync.helpers import (
    list_on_yahoo,
    listing,
    recore_listing,
    store_status,
    task_of,
    waiting_listing_ids,
)


def statuses(state: dict) -> dict[str, str]:
    return {store_status(o): o["status"] for o in state["orders"]}


async def test_custom_mapping_is_honoured_and_a_change_resends(hub: Hub) -> None:
    custom = {
        "未処理": "未出荷",
        "入金済み": "未出荷",
        "発送済み": "出荷済み",
        "対応終了": "出荷済み",
        "キャンセル": "キャンセル済み",
    }
    await hub.app[SETTINGS].update({"status_mapping": custom})
    await hub.run_sync()
    got = statuses(await hub.recore_state())
    assert got["未処理"] == "UNSHIPPED"  # the default would be ORDERED (保留中)
    assert got["入金済み"] == "UNSHIPPED"
    assert got["キャンセル"] == "CANCELED"

    # staff edit the table: only the orders whose mapped status changed are sent again
    posts = await hub.post_count()
    await hub.app[SETTINGS].update({"status_mapping": {**custom, "入金済み": "保留中"}})
    await hub.run_sync()
    got = statuses(await hub.recore_state())
    assert got["入金済み"] == "ORDERED"
    paid = sum(1 for o in hub.world.orders.values() if o.store_status == "入金済み")
    assert await hub.post_count() == posts + paid


async def test_unmapped_store_status_falls_back_and_is_reported(hub: Hub) -> None:
    # a table without 発送済み: the official statuses decide (出荷済み), and staff are told
    await hub.app[SETTINGS].update({"status_mapping": {"未処理": "保留中"}})
    await hub.run_sync()
    got = statuses(await hub.recore_state())
    assert got["発送済み"] == "SHIPPED" and got["入金済み"] == "UNSHIPPED"
    assert got["キャンセル"] == "CANCELED"
    errors = (await hub.status())["last_errors"]
    assert any("ステータス対応表にありません" in e["message"] for e in errors)


async def test_sold_in_store_while_listed_ends_the_auction(hub: Hub) -> None:
    await hub.run_sync()
    first, second = (await waiting_listing_ids(hub))[:2]
    await list_on_yahoo(hub, first)
    await list_on_yahoo(hub, second)
    await hub.run_sync()
    a, b = await listing(hub, first), await listing(hub, second)
    assert a.state == b.state == "listed"
    # the second one has a bid: Yahoo does not allow ending it early
    await hub.yahoo_post("/_sandbox/bid", {"auction_id": b.auction_id})

    t1 = (await hub.recore_post(f"/_sandbox/listings/{first}/sell-in-store"))["task"]["id"]
    t2 = (await hub.recore_post(f"/_sandbox/listings/{second}/sell-in-store"))["task"]["id"]
    job = await hub.run_sync()
    assert job["items"][0]["state"] == "succeeded", job

    item = hub.world.item_by_auction(a.auction_id)
    assert item.status == "ended"  # 早期終了
    assert (await listing(hub, first)).state == "ended"
    state = await hub.recore_state()
    assert task_of(state, t1)["outcome"] == "succeeded"
    assert recore_listing(state, first)["status"] == "ENDED"

    assert hub.world.item_by_auction(b.auction_id).status == "selling"
    report = task_of(state, t2)
    assert report["outcome"] == "failed"
    assert "入札があるため" in report["reports"][0]["body"]["message"]
    assert (await listing(hub, second)).state == "listed"


async def test_delete_before_listing_withdraws_it_locally(hub: Hub) -> None:
    await hub.run_sync()
    lid = (await waiting_listing_ids(hub))[0]
    task = (await hub.recore_post(f"/_sandbox/listings/{lid}/sell-in-store"))["task"]["id"]
    await hub.run_sync()
    assert (await listing(hub, lid)).state == "ended"
    assert task_of(await hub.recore_state(), task)["outcome"] == "succeeded"


async def test_an_early_end_left_without_outcome_by_a_crash_is_not_pressed_blind(
    hub: Hub,
) -> None:
    """早期終了 was pressed, then the companion died before the answer (its intent is open).
    While the store may still be ending it, the task stays open as 確認中 and nothing is pressed;
    once the grace period has passed, the store's own state decides."""
    from datetime import timedelta

    from companion.db.models import SubmitIntent
    from companion.direct.intents import Intents
    from companion.keys import CONFIG, DB

    await hub.run_sync()
    lid = (await waiting_listing_ids(hub))[0]
    await list_on_yahoo(hub, lid)
    await hub.run_sync()
    rec = await listing(hub, lid)
    intents = Intents(hub.app[DB], hub.app[CONFIG].submit_grace_seconds)
    pressed = await intents.record(rec.management_number, "end", "早期終了", listing_id=lid)

    task = (await hub.recore_post(f"/_sandbox/listings/{lid}/sell-in-store"))["task"]["id"]
    await hub.run_sync()
    assert hub.world.item_by_auction(rec.auction_id).status == "selling"  # not pressed again
    assert task_of(await hub.recore_state(), task)["outcome"] is None  # nothing reported
    async with hub.db.session() as s:
        from companion.db.models import RecoreTask

        row = await s.get(RecoreTask, task)
        assert row is not None and row.state == "handled" and "確認中" in (row.message or "")

    # the grace period has passed (as if pressed long ago): the store still sells it, so the
    # press did not go through: 早期終了 now
    async with hub.db.session() as s, s.begin():
        row = await s.get(SubmitIntent, pressed)
        assert row is not None
        row.pressed_at = row.pressed_at - timedelta(seconds=intents.grace_seconds + 1)
    await hub.run_sync()
    assert hub.world.item_by_auction(rec.auction_id).status == "ended"
    assert task_of(await hub.recore_state(), task)["outcome"] == "succeeded"
    assert await intents.open(rec.management_number, "end") is None
