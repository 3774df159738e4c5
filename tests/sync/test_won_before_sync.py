"""Auctions won before any sync saw them: whatever way the auction came to be (uploaded by zip,
relisted by the store), the next sync ends the listing, and 出品中 counts only what is selling.
The direct-listing path is in tests/direct/test_won_before_sync.py. 入札中 counts the shop's
listings only."""

from __future__ import annotations

from tests.sync.conftest import Hub
from tests.sync.helpers import list_on_yahoo, listing, recore_listing, waiting_listing_ids


async def win(hub: Hub, auction_id: str, *, paid: bool) -> str:
    """A buyer bids, the auction ends with that winner; the order is paid or not yet."""
    await hub.yahoo_post("/_sandbox/bid", {"auction_id": auction_id, "bidder": "buyer_1"})
    ended = await hub.yahoo_post("/_sandbox/end", {"auction_id": auction_id})
    order_id = ended["order"]["order_id"]
    if paid:
        await hub.yahoo_post(f"/_sandbox/orders/{order_id}/status", {"store_status": "入金済み"})
    return order_id


def store_auction(hub: Hub, management_number: str) -> str:
    (item,) = [i for i in hub.world.items.values() if i.management_number == management_number]
    return item.auction_id


async def test_uploaded_by_zip_and_won_before_a_sync_ends(hub: Hub) -> None:
    await hub.run_sync()
    first, second = (await waiting_listing_ids(hub))[:2]
    for lid, paid in ((first, True), (second, False)):
        await list_on_yahoo(hub, lid)
        rec = await listing(hub, lid)
        await win(hub, store_auction(hub, rec.management_number or ""), paid=paid)

    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    for lid in (first, second):
        rec = await listing(hub, lid)
        assert rec.state == "ended" and rec.auction_id, rec
        assert recore_listing(await hub.recore_state(), lid)["status"] == "ENDED"
    counts = (await hub.status())["counts"]
    assert counts["listed"] == 0 and counts["ended"] == 2
    # and more syncs do not bring them back
    await hub.run_sync()
    assert (await listing(hub, first)).state == "ended"


async def test_relisted_by_the_store_and_won_before_a_sync_ends(hub: Hub) -> None:
    await hub.run_sync()
    lid = (await waiting_listing_ids(hub))[0]
    await list_on_yahoo(hub, lid)
    await hub.run_sync()
    first_id = (await listing(hub, lid)).auction_id
    assert first_id

    # no bids: 自動再出品 runs it again under a new id, which is won before the next sync
    await hub.yahoo_post("/_sandbox/end", {"auction_id": first_id})
    second_id = hub.world.item_by_auction(first_id).auction_id
    assert second_id != first_id
    await win(hub, second_id, paid=False)

    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    rec = await listing(hub, lid)
    assert rec.state == "ended", rec
    status = await hub.status()
    assert status["counts"]["listed"] == 0
    # sold, not "ended without a winner": no notice asks staff to end it in ReCORE
    assert not any("落札者なしで終了" in e["message"] for e in status["last_errors"])


async def test_bidding_counts_the_shops_listings_not_the_whole_store(hub: Hub) -> None:
    await hub.run_sync()
    store_bids = [i for i in hub.world.items.values() if i.status == "selling" and i.bids > 0]
    assert store_bids  # the seeded store has bids on things that never came from ReCORE
    assert (await hub.status())["counts"]["bidding"] == 0

    lid = (await waiting_listing_ids(hub))[0]
    await list_on_yahoo(hub, lid)
    await hub.run_sync()
    auction_id = (await listing(hub, lid)).auction_id
    await hub.yahoo_post("/_sandbox/bid", {"auction_id": auction_id, "bidder": "buyer_1"})
    await hub.run_sync()
    counts = (await hub.status())["counts"]
    assert counts["bidding"] == 1 and counts["listed"] == 1
