"""Auctions that end without a winner (relisted, then unsold), and ReCORE edits reaching Yahoo."""

from __future__ import annotations

from companion.db.models import AuctionSnapshot
from tests.sync.conftest import Hub
from tests.sync.helpers import list_on_yahoo, listing, task_of, waiting_listing_ids


async def test_relisted_then_unsold_frees_the_listing(hub: Hub) -> None:
    await hub.run_sync()
    lid = (await waiting_listing_ids(hub))[0]
    await list_on_yahoo(hub, lid)
    await hub.run_sync()
    first_id = (await listing(hub, lid)).auction_id
    assert first_id

    # no bids at the end: 自動再出品 runs it again under a new auction id
    await hub.yahoo_post("/_sandbox/end", {"auction_id": first_id})
    item = hub.world.item_by_auction(first_id)
    second_id = item.auction_id
    assert second_id != first_id and item.status == "selling"
    job = await hub.run_sync()
    rec = await listing(hub, lid)
    assert rec.state == "listed" and rec.auction_id == second_id
    assert rec.auction_url and rec.auction_url.endswith(second_id)

    # relists used up: the auction ends without a winner
    while hub.world.items[item.item_id].status == "selling":
        await hub.yahoo_post(
            "/_sandbox/end", {"auction_id": hub.world.items[item.item_id].auction_id}
        )
    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    assert (await listing(hub, lid)).state == "ended"
    async with hub.db.session() as s:
        snap = await s.get(AuctionSnapshot, second_id)
        assert snap is not None and snap.state == "ended_unsold"
    status = await hub.status()
    assert status["counts"]["ended"] == 1
    assert any("落札者なしで終了" in e["message"] for e in status["last_errors"])

    # staff end the listing in ReCORE (as the notice says): the task succeeds at once
    task = (await hub.recore_post(f"/_sandbox/listings/{lid}/sell-in-store"))["task"]["id"]
    await hub.run_sync()
    state = await hub.recore_state()
    assert task_of(state, task)["outcome"] == "succeeded"


async def test_title_edit_in_recore_reaches_yahoo_and_a_refused_price_is_reported(
    hub: Hub,
) -> None:
    await hub.run_sync()
    lid = (await waiting_listing_ids(hub))[0]
    await list_on_yahoo(hub, lid)
    await hub.run_sync()
    rec = await listing(hub, lid)

    new_title = "【値下げ】" + (rec.title or "")[:40]
    tasks = (await hub.recore_post(f"/_sandbox/listings/{lid}/update", {"title": new_title}))[
        "tasks"
    ]
    job = await hub.run_sync()
    assert job["items"][0]["state"] == "succeeded", job
    item = hub.world.item_by_auction(rec.auction_id)
    assert item.title == new_title
    state = await hub.recore_state()
    assert task_of(state, tasks[0]["id"])["outcome"] == "succeeded"

    # with a bid, Yahoo does not allow a new start price: failed, with Yahoo's own words
    await hub.yahoo_post("/_sandbox/bid", {"auction_id": rec.auction_id})
    price = item.start_price + 500  # ReCORE's one price (the variant's): the start price
    tasks = (await hub.recore_post(f"/_sandbox/listings/{lid}/update", {"price": price}))["tasks"]
    await hub.run_sync()
    report = task_of(await hub.recore_state(), tasks[0]["id"])
    assert report["outcome"] == "failed"
    assert "入札があるため" in report["reports"][0]["body"]["message"]
    assert hub.world.item_by_auction(rec.auction_id).start_price == item.start_price


async def test_an_edit_past_the_stores_limits_is_refused_before_yahoo(hub: Hub) -> None:
    await hub.run_sync()
    lid = (await waiting_listing_ids(hub))[0]
    await list_on_yahoo(hub, lid)
    await hub.run_sync()
    rec = await listing(hub, lid)
    item = hub.world.item_by_auction(rec.auction_id)
    before = (item.title, item.start_price)

    price = (await hub.recore_post(f"/_sandbox/listings/{lid}/update", {"price": 10**9}))["tasks"]
    title = (
        await hub.recore_post(f"/_sandbox/listings/{lid}/update", {"title": "<b>目玉</b> 品"})
    )["tasks"]
    await hub.run_sync()
    state = await hub.recore_state()
    price_report = task_of(state, price[0]["id"])
    assert price_report["outcome"] == "failed"
    assert "999,999,999円以下" in price_report["reports"][0]["body"]["message"]
    title_report = task_of(state, title[0]["id"])
    assert title_report["outcome"] == "failed"
    assert "HTMLタグ" in title_report["reports"][0]["body"]["message"]
    item = hub.world.item_by_auction(rec.auction_id)
    assert (item.title, item.start_price) == before
