"""A sale at the shop's register ends its auction at once: the 早期終了 does not queue behind the
pages a running sync has asked for (it goes between them), and nothing is pressed twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import select

from companion.cluster import exclusive_users
from companion.db.models import HistoryEntry, OutboxMessage, RecoreTask, SubmitIntent
from companion.direct.intents import Intents
from companion.direct.service import item_claim
from companion.history import HistoryFilter, HistoryRecorder, query_history
from companion.keys import BATCHES, CONFIG, DB, GATEWAY, HISTORY, JOBS, SETTINGS, STORE
from companion.recore import client as rc
from companion.store_session import StoreOptions
from companion.sync.service import parse_iso
from tests.conftest import both_worlds
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

    # each step is kept in the history, as measured in real use
    recorder = HistoryRecorder(hub.db, hub.app[SETTINGS])
    await recorder.catch_up()
    entries, _ = await query_history(hub.db, HistoryFilter(kinds=("early_end",)))
    [entry] = [e for e in entries if e["data"]["task_id"] == task]
    steps = entry["data"]["steps"]
    seen, started, ended = (parse_iso(steps[k]) for k in ("seen_at", "started_at", "ended_at"))
    assert seen is not None and started is not None and ended is not None
    assert seen <= started <= ended
    assert steps["seconds"] is not None and steps["seconds"] >= 0
    delivered = parse_iso(entry["recore"]["delivered_at"])
    assert delivered is not None and delivered >= ended


async def yahoo_state(hub: Any) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.get(hub.yurl("/_sandbox/state?brief=1")) as r:
        return await r.json()


async def listed_items(hub: Any, count: int) -> list[Any]:
    await hub.run_sync()
    ids = (await waiting_listing_ids(hub))[:count]
    for lid in ids:
        uploaded = await list_on_yahoo(hub, lid)
        if uploaded.registered:  # the next world's upload only registers: 出品開始 in the store
            await hub.yahoo_post(
                "/_sandbox/start", {"management_numbers": list(uploaded.registered)}
            )
    await hub.run_sync()
    records = [await listing(hub, lid) for lid in ids]
    assert all(r.state == "listed" and r.auction_id for r in records)
    return records


async def test_a_register_sale_goes_before_older_tasks_of_the_same_poll(hub: Any) -> None:
    """An edit waiting in the same poll (a page of its own in the store) does not delay the
    early end: it is handled first and its report is the first to leave."""
    edited, sold = await listed_items(hub, 2)
    update = await hub.recore_post(
        f"/_sandbox/listings/{edited.id}/update", {"title": "タイトルを変更しました"}
    )
    edit_task = update["tasks"][0]["id"]
    sale = await hub.recore_post(f"/_sandbox/listings/{sold.id}/sell-in-store")
    sale_task = sale["task"]["id"]
    await hub.app[GATEWAY].poll_once()
    async with hub.db.session() as s:
        order = list(
            (
                await s.scalars(
                    select(OutboxMessage.target)
                    .where(OutboxMessage.target.in_((edit_task, sale_task)))
                    .order_by(OutboxMessage.id)
                )
            ).all()
        )
    assert order == [sale_task, edit_task]
    assert hub.world.item_by_auction(sold.auction_id).status == "ended"


async def test_a_sale_left_open_by_a_crash_is_settled_by_the_next_polls_and_never_pressed_twice(
    hub: Any,
) -> None:
    """早期終了 was pressed, Yahoo ended the auction, and the companion died before it recorded
    the outcome (its intent open, the task open). The task poll — not only the next sync —
    keeps it 確認中 while the store may still be working, then reads the store, sees the auction
    ended and reports it, without pressing again."""
    (rec,) = await listed_items(hub, 1)
    intents = Intents(hub.app[DB], hub.app[CONFIG].submit_grace_seconds)
    pressed = await intents.record(rec.management_number, "end", "早期終了", listing_id=rec.id)
    # what that press did in the store
    assert hub.world.end_early(hub.world.item_by_auction(rec.auction_id)) is None
    presses = (await yahoo_state(hub))["early_end_presses"]

    task = (await hub.recore_post(f"/_sandbox/listings/{rec.id}/sell-in-store"))["task"]["id"]
    gateway = hub.app[GATEWAY]
    await gateway.cycle()
    async with hub.db.session() as s:
        row = await s.get(RecoreTask, task)
        assert row is not None and row.state == "handled" and "確認中" in (row.message or "")

    # the grace period passes (as if pressed long ago): the next turn of the poll settles it
    async with hub.db.session() as s, s.begin():
        intent = await s.get(SubmitIntent, pressed)
        assert intent is not None
        intent.pressed_at -= timedelta(seconds=intents.grace_seconds + 1)
    await gateway.cycle()
    async with hub.db.session() as s:
        row = await s.get(RecoreTask, task)
        assert row is not None and row.state == "reporting"
    assert (await yahoo_state(hub))["early_end_presses"] == presses  # not pressed again
    assert (await listing(hub, rec.id)).state == "ended"
    async with hub.db.session() as s:
        reports = (await s.scalars(select(OutboxMessage).where(OutboxMessage.target == task))).all()
    assert [m.operation for m in reports] == [rc.OP_TASK_SUCCEEDED]


@both_worlds
async def test_a_refused_early_end_is_shown_to_staff_until_the_auction_has_ended(
    make_hub: Any,
) -> None:
    """Bids stop 早期終了 (in both store worlds): ReCORE hears why, the history and the alert get
    it once, and /status lists it for the popup and the badge until the auction has ended."""
    hub = await make_hub(all_features=True)
    (rec,) = await listed_items(hub, 1)
    await hub.yahoo_post("/_sandbox/bid", {"auction_id": rec.auction_id})
    task = (await hub.recore_post(f"/_sandbox/listings/{rec.id}/sell-in-store"))["task"]["id"]
    await hub.app[GATEWAY].cycle()
    assert hub.world.item_by_auction(rec.auction_id).status == "selling"
    await hub.app[HISTORY].catch_up()
    await hub.app[HISTORY].catch_up()  # a second pass adds nothing

    blocked = (await hub.status())["early_end_blocked"]
    assert [b["management_number"] for b in blocked] == [rec.management_number]
    assert blocked[0]["auction_id"] == rec.auction_id
    assert "入札があるため" in blocked[0]["message"]
    assert "入札を取り消し" in blocked[0]["message"]  # what to do next
    async with hub.db.session() as s:
        kinds = (
            await s.scalars(
                select(HistoryEntry.kind).where(HistoryEntry.kind == "early_end_blocked")
            )
        ).all()
        report = await s.scalar(select(OutboxMessage).where(OutboxMessage.target == task))
    assert kinds == ["early_end_blocked"]
    assert report is not None and report.operation == rc.OP_TASK_FAILED
    assert "入札があるため" in report.body["message"]

    # staff settle it in the store (the auction ends): the next sync sees it, the line goes
    await hub.yahoo_post("/_sandbox/end", {"auction_id": rec.auction_id})
    await hub.run_sync()
    assert (await listing(hub, rec.id)).state != "listed"
    assert (await hub.status())["early_end_blocked"] == []


async def test_a_register_sale_during_the_direct_listing_of_that_item_ends_it_once_listed(
    make_hub: Any,
) -> None:
    """Sold at the register while 出品する for that very item is at the store: the early end
    waits for that one item (never two writes to it at once), then finds it listed and ends it,
    instead of calling it "not on Yahoo" while the listing goes through."""
    hub = await make_hub(all_features=True)
    await hub.run_sync()
    lid = (await waiting_listing_ids(hub))[0]
    mn = (await listing(hub, lid)).management_number
    assert mn
    batch = await hub.app[BATCHES].create([lid])
    await faults(hub, hold_submits=True)
    await hub.status()  # paired
    resp = await hub.client.post(f"/api/v1/batches/{batch['id']}/direct-listing", headers=hub._auth)
    assert resp.status == 202, await resp.text()
    job_id = (await resp.json())["job_id"]
    for _ in range(2000):
        if (await faults(hub))["held_submits"] == 1:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("出品する never reached the store")

    task = (await hub.recore_post(f"/_sandbox/listings/{lid}/sell-in-store"))["task"]["id"]
    poll = asyncio.create_task(hub.app[GATEWAY].poll_once())
    for _ in range(2000):  # until the early end waits for the item (or, wrongly, is done)
        if poll.done() or exclusive_users(item_claim(mn)) >= 2:
            break
        await asyncio.sleep(0.05)
    await faults(hub, hold_submits=False)
    await asyncio.wait_for(poll, HANG_GUARD_S)
    await hub.app[JOBS].wait(job_id)

    [item] = [i for i in hub.world.items.values() if i.management_number == mn]
    assert item.auction_id and item.status == "ended"  # listed, then ended early: not for sale
    assert (await yahoo_state(hub))["early_end_presses"] == {item.auction_id: 1}
    assert (await listing(hub, lid)).state == "ended"
    async with hub.db.session() as s:
        reports = (await s.scalars(select(OutboxMessage).where(OutboxMessage.target == task))).all()
    assert [m.operation for m in reports] == [rc.OP_TASK_SUCCEEDED]
