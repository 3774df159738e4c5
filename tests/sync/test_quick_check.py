"""The quick check (auto-sync 「1分」): a win and its order found among the newest rows reach
ReCORE through the same reconcile and outbox as a full sync, in both store worlds; with nothing
new it reads at most 3 pages of a large store (the Yahoo sandbox's own read counter) and sends
nothing to ReCORE."""

from __future__ import annotations

from typing import Any

from companion.keys import OUTBOX, SETTINGS
from sandbox.yahoo.app import READS
from tests.conftest import both_worlds
from tests.sync.conftest import Hub
from tests.sync.helpers import (
    list_on_yahoo,
    listing,
    order_snapshot,
    recore_listing,
    recore_order,
    waiting_listing_ids,
)


def yahoo_reads(hub: Hub) -> int:
    return sum(hub.yahoo.app[READS].values())


async def outbox_size(hub: Hub) -> int:
    from sqlalchemy import func, select

    from companion.db.models import OutboxMessage

    async with hub.db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def listed_auction(hub: Hub) -> tuple[int, str]:
    """A ReCORE listing uploaded and running on Yahoo, known to a full sync."""
    lid = (await waiting_listing_ids(hub))[0]
    uploaded = await list_on_yahoo(hub, lid)
    rec = await listing(hub, lid)
    if rec.management_number in uploaded.registered:  # the next world registers in a folder
        await hub.yahoo_post("/_sandbox/start", {"management_numbers": [rec.management_number]})
    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    rec = await listing(hub, lid)
    assert rec.state == "listed" and rec.auction_id, rec
    return lid, rec.auction_id


@both_worlds
async def test_a_new_win_and_its_order_reach_recore_by_the_quick_check(make_hub: Any) -> None:
    hub = await make_hub()
    await hub.run_sync()
    lid, auction_id = await listed_auction(hub)
    await hub.app[SETTINGS].update({"sync_interval_minutes": 1})

    await hub.yahoo_post("/_sandbox/bid", {"auction_id": auction_id, "bidder": "buyer_q"})
    ended = await hub.yahoo_post("/_sandbox/end", {"auction_id": auction_id})
    order_id = ended["order"]["order_id"]

    summary = await hub.sync.quick_check()
    assert summary is not None
    assert summary["ended_sold"] == 1 and summary["upserts"] == 1, summary
    assert (await listing(hub, lid)).state == "ended"
    snap = await order_snapshot(hub, order_id)
    assert snap is not None and snap.sent_hash
    await hub.app[OUTBOX].deliver_now()
    state = await hub.recore_state()
    assert recore_order(state, order_id)["status"] == "ORDERED"  # 未処理 → 保留中
    assert recore_listing(state, lid)["status"] == "ENDED"

    sync = (await hub.status())["sync"]
    assert sync["quick_check"] is True
    assert sync["last_quick_at"] and sync["last_quick_result"] == "succeeded"


@both_worlds
async def test_nothing_new_costs_at_most_three_reads_of_a_large_store(make_hub: Any) -> None:
    hub = await make_hub()
    # several pages in every list: 注文管理 50 a page, 落札分 100, 出品中 50
    await hub.yahoo_post("/_sandbox/bulk", {"selling": 400, "orders": 260})
    job = await hub.run_sync()
    assert job["state"] == "succeeded", job
    await hub.app[OUTBOX].deliver_now()
    writes, messages = await hub.post_count(), await outbox_size(hub)

    for _ in range(2):
        before = yahoo_reads(hub)
        summary = await hub.sync.quick_check()
        assert summary is not None
        reads = yahoo_reads(hub) - before
        assert 1 <= reads <= 3, (reads, dict(hub.yahoo.app[READS]))
        assert summary["upserts"] == 0 and summary["details_read"] == 0, summary
    await hub.app[OUTBOX].deliver_now()
    assert await outbox_size(hub) == messages
    assert await hub.post_count() == writes
