"""The quick check (auto-sync 「1分」): a win and its order found among the newest rows reach
ReCORE through the same reconcile and outbox as a full sync, in both store worlds; with nothing
new it reads at most 3 pages of a large store (the Yahoo sandbox's own read counter) and sends
nothing to ReCORE."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from companion.db.models import utcnow
from companion.keys import JOBS, OUTBOX, SETTINGS
from companion.sync.service import iso, parse_iso
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


async def test_with_one_minute_the_first_run_is_full_then_quick_checks_until_the_full_one_is_due(
    make_hub: Any,
) -> None:
    hub = await make_hub(workers=True)
    await hub.app[SETTINGS].update({"sync_interval_minutes": 1})
    # no full sync yet: the quick check would have nothing to compare with
    await hub.sync._run_scheduled()
    jobs = await hub.app[JOBS].list(kind="sync")
    assert len(jobs) == 1 and jobs[0]["state"] == "succeeded", jobs
    state = await hub.sync.state()
    full_due = parse_iso(state["next_full_at"])
    assert full_due is not None
    assert 29 * 60 < (full_due - utcnow()).total_seconds() <= 31 * 60  # 30分 by default
    assert not state.get("last_quick_at")

    await hub.sync._run_scheduled()  # a minute later: a quick check, not a job
    assert len(await hub.app[JOBS].list(kind="sync")) == 1
    state = await hub.sync.state()
    assert state["last_quick_at"] and state["last_quick_result"] == "succeeded", state

    await hub.sync.update_state(next_full_at=iso(utcnow() - timedelta(seconds=1)))
    await hub.sync._run_scheduled()  # the full sync's time has come
    assert len(await hub.app[JOBS].list(kind="sync")) == 2

    # an old setting (5分) stays a full sync every time
    await hub.app[SETTINGS].update({"sync_interval_minutes": 5})
    assert (await hub.sync.state())["next_full_at"] is None
    await hub.sync._run_scheduled()
    assert len(await hub.app[JOBS].list(kind="sync")) == 3
