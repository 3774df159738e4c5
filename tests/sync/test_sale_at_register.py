"""A sale at the shop's register ends its auction at once: the 早期終了 does not queue behind the
pages a running sync has asked for (it goes between them), and nothing is pressed twice."""

from __future__ import annotations

import asyncio
from typing import Any

from companion.keys import GATEWAY, JOBS, STORE
from companion.store_session import StoreOptions
from tests.sync.helpers import list_on_yahoo, listing, task_of, waiting_listing_ids

# a guard against a hang, not a measurement: without the priority the poll never gets through
HANG_GUARD_S = 120


async def faults(hub: Any, **switches: Any) -> dict[str, Any]:
    return await hub.yahoo_post("/_sandbox/faults", switches)


async def test_a_register_sale_ends_the_auction_while_a_sync_is_reading_the_store(
    make_hub: Any,
) -> None:
    # two requests at a time: the sync's three lists fill them and one waits in line
    hub = await make_hub(store=StoreOptions(retry_delay=0.01, concurrency=2))
    await hub.run_sync()
    lid = (await waiting_listing_ids(hub))[0]
    await list_on_yahoo(hub, lid)
    await hub.run_sync()
    rec = await listing(hub, lid)
    assert rec.state == "listed" and rec.auction_id

    # the store keeps every whole-list read of the next sync unanswered
    await faults(hub, hold_lists=True)
    job_id = await hub.start_sync()
    limiter = (await hub.app[STORE].reader()).limiter
    for _ in range(2000):
        if (await faults(hub))["held_lists"] == 2 and limiter.waiting >= 1:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the sync never filled the store session")

    # sold at the register meanwhile: ReCORE's DELETE_INVENTORY, polled while the sync reads
    task = (await hub.recore_post(f"/_sandbox/listings/{lid}/sell-in-store"))["task"]["id"]
    polled = await asyncio.wait_for(hub.app[GATEWAY].poll_once(), HANG_GUARD_S)
    assert polled.handled == 1

    # ended on Yahoo while the sync's first two reads are still unanswered (not one page of it
    # was read, nor asked again, before the 早期終了) and its job still runs
    assert hub.world.item_by_auction(rec.auction_id).status == "ended"
    held = await faults(hub)
    assert held["held_lists"] == 2 and held["held_lists_total"] == 2
    job = await hub.app[JOBS].get(job_id)
    assert job is not None and job["state"] == "running"
    assert limiter.urgent_served >= 1

    # the sync then reads on and finishes; ReCORE hears of the early end once
    await faults(hub, hold_lists=False)
    await hub.app[JOBS].wait(job_id)
    job = await hub.app[JOBS].get(job_id)
    assert job is not None and job["state"] == "succeeded", job
    state = await hub.recore_state()
    report = task_of(state, task)
    assert report["outcome"] == "succeeded"
    assert len(report["reports"]) == 1
    assert (await listing(hub, lid)).state == "ended"
