"""The light full sync (auto-sync 「1分」): instead of the whole 出品中 list it reads its first page
(soonest end first) and searches by 管理番号 only the connector's auctions that should be on that
page and are not; the whole list is still read every few hours. Counted with the Yahoo
sandbox's own read counter; the store's clock is moved with its `advance` control."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from companion.db.models import AuctionSnapshot, utcnow
from companion.keys import SETTINGS
from companion.sync.service import COMPLETE_SYNC_HOURS, iso
from tests.conftest import both_worlds
from tests.sync.conftest import Hub
from tests.sync.helpers import list_on_yahoo, listing, waiting_listing_ids
from tests.sync.test_quick_check import yahoo_reads


async def auto_sync(hub: Hub) -> tuple[dict[str, Any], int]:
    """One scheduled full sync (what the scheduler runs); returns its summary and reads."""
    before = yahoo_reads(hub)
    summary, fault = await hub.sync.sync_once(reason="auto")
    assert fault is None, fault.message_en
    return summary, yahoo_reads(hub) - before


async def our_auction(hub: Hub, ends_in_hours: float) -> tuple[int, str]:
    """A ReCORE listing running on Yahoo whose auction ends `ends_in_hours` after the store's
    clock, without 自動再出品, known to a (complete) full sync."""
    await hub.run_sync()  # the ReCORE listings waiting
    lid = (await waiting_listing_ids(hub))[0]
    uploaded = await list_on_yahoo(hub, lid)
    rec = await listing(hub, lid)
    if rec.management_number in uploaded.registered:  # the next world registers in a folder
        await hub.yahoo_post("/_sandbox/start", {"management_numbers": [rec.management_number]})
    item = next(i for i in hub.world.items.values() if i.management_number == rec.management_number)
    item.end_time = hub.world.clock + ends_in_hours * 3600
    item.resubmits_left = 0
    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    rec = await listing(hub, lid)
    assert rec.state == "listed" and rec.auction_id == item.auction_id, rec
    return lid, item.auction_id


@both_worlds
async def test_an_unchanged_light_sync_reads_the_same_few_pages_whatever_the_store_size(
    hub: Hub,
) -> None:
    await hub.app[SETTINGS].update({"sync_interval_minutes": 1})
    reads: list[int] = []
    for more in (150, 600):  # 出品中 50 a page: 4 pages, then 16
        await hub.yahoo_post("/_sandbox/bulk", {"selling": more, "orders": 0})
        await hub.run_sync()  # staff's 同期開始: the whole list
        summary, got = await auto_sync(hub)
        assert summary["sync_kind"] == "light", summary
        assert summary["upserts"] == 0 and summary["ended_unsold"] == 0, summary
        reads.append(got)
    # 出品中's first page, 注文管理, 落札分 down to the last sync's
    assert reads[0] == reads[1] <= 5, reads


@both_worlds
async def test_an_auction_whose_end_time_passed_unsold_is_ended_by_the_light_sync(
    hub: Hub,
) -> None:
    await hub.yahoo_post("/_sandbox/bulk", {"selling": 200, "orders": 0})
    await hub.app[SETTINGS].update({"sync_interval_minutes": 1})
    lid, auction_id = await our_auction(hub, ends_in_hours=0.5)
    await hub.yahoo_post("/_sandbox/advance", {"hours": 1})  # its end time passes, no bids
    assert hub.world.item_by_auction(auction_id).status == "unsold"

    summary, _ = await auto_sync(hub)
    assert summary["sync_kind"] == "light", summary
    assert summary["ended_unsold"] == 1, summary
    assert (await listing(hub, lid)).state == "ended"
    async with hub.db.session() as s:
        snap = await s.get(AuctionSnapshot, auction_id)
        assert snap is not None and snap.state == "ended_unsold"
        assert snap.reported_state == "ended_unsold"
    status = await hub.status()
    assert any("落札者なしで終了" in e["message"] for e in status["last_errors"])


async def test_an_auction_ended_by_hand_in_the_store_is_found_by_the_complete_read(
    hub: Hub,
) -> None:
    await hub.yahoo_post("/_sandbox/bulk", {"selling": 200, "orders": 0})
    await hub.app[SETTINGS].update({"sync_interval_minutes": 1})
    # ends after every bulk auction: far from 出品中's first page
    lid, auction_id = await our_auction(hub, ends_in_hours=24 * 9)
    item = hub.world.item_by_auction(auction_id)
    assert hub.world.end_early(item) is None  # staff end it in the store's own tool

    summary, _ = await auto_sync(hub)
    assert summary["sync_kind"] == "light", summary
    assert (await listing(hub, lid)).state == "listed"  # nothing says it ended yet

    # the whole list is read again COMPLETE_SYNC_HOURS after the last complete read
    last = utcnow() - timedelta(hours=COMPLETE_SYNC_HOURS, minutes=1)
    await hub.sync.update_state(last_complete_at=iso(last))
    summary, _ = await auto_sync(hub)
    assert summary["sync_kind"] == "full" and summary["selling"] >= 200, summary
    assert (await listing(hub, lid)).state == "ended"
    assert summary["ended_unsold"] == 1, summary
    # and the next one is light again
    summary, _ = await auto_sync(hub)
    assert summary["sync_kind"] == "light", summary


async def test_other_intervals_still_read_the_whole_selling_list(hub: Hub) -> None:
    await hub.yahoo_post("/_sandbox/bulk", {"selling": 300, "orders": 0})
    await hub.run_sync()
    for minutes in (5, 30):
        await hub.app[SETTINGS].update({"sync_interval_minutes": minutes})
        summary, reads = await auto_sync(hub)
        assert summary["sync_kind"] == "full", summary
        assert summary["selling"] >= 300 and reads >= 6, (summary, reads)


async def test_a_relisted_auction_of_ours_makes_the_light_sync_read_the_whole_list(
    hub: Hub,
) -> None:
    await hub.yahoo_post("/_sandbox/bulk", {"selling": 200, "orders": 0})
    await hub.app[SETTINGS].update({"sync_interval_minutes": 1})
    lid, auction_id = await our_auction(hub, ends_in_hours=0.5)
    hub.world.item_by_auction(auction_id).resubmits_left = 1  # 自動再出品 once
    await hub.yahoo_post("/_sandbox/advance", {"hours": 1})
    new_id = hub.world.item_by_auction(auction_id).auction_id
    assert new_id != auction_id

    summary, _ = await auto_sync(hub)  # the search shows it running under a new id
    assert summary["sync_kind"] == "full" and summary["selling"] >= 200, summary
    rec = await listing(hub, lid)
    assert rec.state == "listed" and rec.auction_id == new_id
