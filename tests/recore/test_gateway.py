"""The task poller against the ReCORE sandbox: store once, intake, unknown types, handlers."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import func, select

from companion.db import Database
from companion.db.models import ListingRecord, OutboxMessage, RecoreTask
from companion.recore import client as rc
from companion.recore.gateway import MAX_HANDLER_ERRORS, Gateway, TaskContext
from companion.recore.outbox import Outbox
from tests.recore.conftest import Sandbox, valid_item


async def _rows(db: Database, model: Any) -> list[Any]:
    async with db.session() as s:
        return list((await s.scalars(select(model))).all())


async def test_tasks_are_stored_once_however_often_polled(
    make_sandbox: Any, db: Database, http: Any
) -> None:
    sandbox = await make_sandbox(seed=True, rate_limit=1000)  # the demo stock, ~30 tasks
    gateway = Gateway(db, sandbox.client(http, rate=100.0))
    first = await gateway.poll_once()
    assert first.received == first.new > 20
    for _ in range(3):
        again = await gateway.poll_once()
        assert again.new == 0 and again.received == first.received  # none reported yet
    tasks = await _rows(db, RecoreTask)
    assert len(tasks) == first.received == len({t.id for t in tasks})
    state = await sandbox.state()
    assert min(t["delivered_count"] for t in state["tasks"]) >= 3  # polled many times
    listings = await _rows(db, ListingRecord)
    assert len(listings) == len(state["listings"])  # one record per listing, however often
    async with db.session() as s:
        reports = await s.scalar(select(func.count()).select_from(OutboxMessage))
    assert reports == first.failed  # valid listings wait for Yahoo, nothing reported yet


async def test_intake_keeps_the_listing_waiting_with_its_task(
    sandbox: Sandbox, db: Database, gateway: Gateway, outbox: Outbox
) -> None:
    [created] = await sandbox.create_listings(valid_item("A-0001", start_price=3000))
    result = await gateway.poll_once()
    assert (result.new, result.handled, result.failed) == (1, 1, 0)
    [record] = await _rows(db, ListingRecord)
    [task] = await _rows(db, RecoreTask)
    assert record.id == created["id"] and record.state == "waiting"
    assert record.management_number == "A-0001" and record.title == "テスト商品 A-0001"
    assert record.task_id == task.id and task.state == "handled"
    assert record.inventory["mall_attributes"]["start_price"] == 3000
    assert task.ec_inventory_id == created["id"] and task.type == "CREATE_INVENTORY"
    await outbox.drain(timeout=5)
    assert (await sandbox.task(task.id))["outcome"] is None  # open until listed on Yahoo


async def test_malformed_listings_are_failed_naming_the_field(
    sandbox: Sandbox, db: Database, gateway: Gateway, outbox: Outbox
) -> None:
    created = await sandbox.create_listings(
        valid_item("B-0001", start_price="abc"),
        valid_item("B-0002", quantity="たくさん", auto_extend="maybe"),
        valid_item("B-0003"),
        valid_item("B-0004"),  # fine
    )
    # ReCORE lets staff save a listing without 管理番号: the item's code stands in for it
    sandbox.world.listings[created[2]["id"]]["mall_attributes"]["management_number"] = ""
    result = await gateway.poll_once()
    assert (result.handled, result.failed) == (2, 2)
    assert await outbox.drain(timeout=10) == 0

    state = await sandbox.state()
    by_listing = {t["data"]["ec_inventory_id"]: t for t in state["tasks"]}
    first = by_listing[created[0]["id"]]
    assert first["outcome"] == "failed" and first["report_count"] == 1
    message = first["reports"][0]["body"]["message"]
    assert '開始価格: 数値ではありません（"abc"）' in message and "B-0001" in message
    assert "start_price" in first["reports"][0]["body"]["detail"]
    second = by_listing[created[1]["id"]]["reports"][0]["body"]
    assert "個数: 数値ではありません" in second["message"] and "自動延長" in second["message"]
    assert set(second["detail"]) == {"quantity", "auto_extend"}
    assert by_listing[created[2]["id"]]["outcome"] is None
    assert by_listing[created[3]["id"]]["outcome"] is None

    statuses = {x["id"]: x["status"] for x in state["listings"]}
    assert [statuses[c["id"]] for c in created] == ["ERROR", "ERROR", "PROCESSING", "PROCESSING"]
    records = {r.id: r for r in await _rows(db, ListingRecord)}
    assert [records[c["id"]].state for c in created] == ["error", "error", "waiting", "waiting"]
    assert records[created[2]["id"]].management_number == "B-0003"  # the item's code
    assert records[created[0]["id"]].errors[0]["field"] == "start_price"
    assert records[created[0]["id"]].errors[0]["rule"] == "unparsed_value"


async def test_values_a_database_cannot_keep_are_named_not_fatal(
    sandbox: Sandbox, db: Database, gateway: Gateway, outbox: Outbox
) -> None:
    """PostgreSQL refuses what SQLite takes silently (a 32-bit id overflow, a NUL character, a
    管理番号 longer than its column): one such task must not stop the poll for every other."""
    created = await sandbox.create_listings(
        valid_item("L" * 70),  # longer than a 管理番号 may be
        valid_item("D-0002"),
        valid_item("D-0003"),  # fine
    )
    sandbox.world.listings[created[1]["id"]]["title"] = "壊れた\x00タイトル"
    huge = await sandbox.issue_task("CREATE_INVENTORY", {"ec_inventory_id": 2**40})
    nul = await sandbox.issue_task("SHIP_ORDER", {"ec_order_id": 1, "mall_order_id": "s-\x001"})
    result = await gateway.poll_once()
    assert result.received == 5 and result.deferred == 0
    assert await outbox.drain(timeout=10) == 0

    state = await sandbox.state()
    by_listing = {t["data"].get("ec_inventory_id"): t for t in state["tasks"]}
    too_long = by_listing[created[0]["id"]]["reports"][0]["body"]
    assert "管理番号: 64文字を超えています" in too_long["message"]
    broken = by_listing[created[1]["id"]]["reports"][0]["body"]
    assert "タイトル" in broken["message"] and "NUL" in broken["message"]
    assert by_listing[created[2]["id"]]["outcome"] is None  # taken in, waiting for Yahoo
    assert (await sandbox.task(huge["id"]))["outcome"] == "failed"
    # no SHIP_ORDER handler here: kept open (never reported), its NUL stored without a fault
    assert (await sandbox.task(nul["id"]))["report_count"] == 0
    tasks = {t.id: t for t in await _rows(db, RecoreTask)}
    assert tasks[nul["id"]].state == "unknown"
    records = {r.id: r.state for r in await _rows(db, ListingRecord)}
    assert records == {
        created[0]["id"]: "error",
        created[1]["id"]: "error",
        created[2]["id"]: "waiting",
    }


async def test_unhandled_task_types_are_kept_and_the_queue_moves(
    sandbox: Sandbox, db: Database, gateway: Gateway, outbox: Outbox
) -> None:
    odd = await sandbox.issue_task("MAKE_COFFEE", {"cups": 2})
    # no handler registered here (the sync feature registers SHIP_ORDER's): kept as well
    ship = await sandbox.issue_task("SHIP_ORDER", {"ec_order_id": 1, "mall_order_id": "s-1"})
    [created] = await sandbox.create_listings(valid_item("C-0001"))
    result = await gateway.poll_once()
    assert (result.received, result.failed, result.handled, result.unknown) == (3, 0, 1, 2)
    assert await outbox.drain(timeout=10) == 0
    # never reported: a guessed task type must not become a final failure in ReCORE
    assert (await sandbox.task(odd["id"]))["report_count"] == 0
    assert (await sandbox.task(ship["id"]))["report_count"] == 0
    tasks = {t.id: t for t in await _rows(db, RecoreTask)}
    assert tasks[odd["id"]].state == tasks[ship["id"]].state == "unknown"
    assert "MAKE_COFFEE" in (tasks[odd["id"]].message or "")
    # the listing behind them was taken in; the next poll does not alert again
    assert [r.id for r in await _rows(db, ListingRecord)] == [created["id"]]
    again = await gateway.poll_once()
    assert (again.unknown, again.failed) == (0, 0)


async def test_a_registered_handler_reports_in_its_transaction(
    sandbox: Sandbox, db: Database, gateway: Gateway, outbox: Outbox
) -> None:
    [created] = await sandbox.create_listings(valid_item("D-0001"))
    await gateway.poll_once()
    sold = await sandbox.control(f"listings/{created['id']}/sell-in-store")
    seen: list[TaskContext] = []

    async def end_listing(ctx: TaskContext) -> None:
        seen.append(ctx)
        record = await ctx.session.get(ListingRecord, ctx.ec_inventory_id)
        assert record is not None
        record.state = "ended"
        await ctx.succeed({})

    gateway.register_handler(rc.DELETE_INVENTORY, end_listing)
    await gateway.poll_once()
    assert await outbox.drain(timeout=5) == 0
    assert [c.type for c in seen] == ["DELETE_INVENTORY"] and seen[0].listing is None
    assert (await sandbox.task(sold["task"]["id"]))["outcome"] == "succeeded"
    [record] = await _rows(db, ListingRecord)
    assert record.state == "ended"
    async with db.session() as s:
        task = await s.get(RecoreTask, sold["task"]["id"])
    assert task is not None and task.state == "reported" and task.reported_at is not None


async def test_a_crashing_handler_is_retried_then_failed(
    sandbox: Sandbox, db: Database, gateway: Gateway, outbox: Outbox
) -> None:
    task = await sandbox.issue_task("CANCEL_ORDER", {"ec_order_id": 1, "mall_order_id": "c-1"})
    calls = 0

    async def broken(ctx: TaskContext) -> None:
        nonlocal calls
        calls += 1
        ctx.session.add(ListingRecord(id=77, state="waiting"))  # must be rolled back
        raise KeyError("bug")

    gateway.register_handler(rc.CANCEL_ORDER, broken)
    for _ in range(MAX_HANDLER_ERRORS + 2):
        await gateway.poll_once()
    assert calls == MAX_HANDLER_ERRORS
    assert await _rows(db, ListingRecord) == []
    assert await outbox.drain(timeout=5) == 0
    reported = await sandbox.task(task["id"])
    assert (
        reported["outcome"] == "failed" and "KeyError" in reported["reports"][0]["body"]["message"]
    )


async def test_update_before_listing_refreshes_the_record(
    sandbox: Sandbox, db: Database, gateway: Gateway, outbox: Outbox
) -> None:
    [created] = await sandbox.create_listings(valid_item("E-0001", start_price=1000))
    await gateway.poll_once()
    await sandbox.control(
        f"listings/{created['id']}/update", {"title": "新しいタイトル", "start_price": 1500}
    )
    result = await gateway.poll_once()
    assert result.new == 2 and result.handled == 2
    assert await outbox.drain(timeout=5) == 0
    [record] = await _rows(db, ListingRecord)
    assert record.title == "新しいタイトル" and record.state == "waiting"
    assert record.inventory["mall_attributes"]["start_price"] == 1500
    state = await sandbox.state()
    outcomes = {t["type"]: t["outcome"] for t in state["tasks"]}
    assert outcomes == {
        "CREATE_INVENTORY": None,  # still open: reported with the auction id once listed
        "UPDATE_INVENTORY": "succeeded",
        "UPDATE_INVENTORY_PRICE": "succeeded",
    }
    create = next(t for t in state["tasks"] if t["type"] == "CREATE_INVENTORY")
    assert record.task_id == create["id"]


async def test_update_of_a_listed_item_without_a_handler_is_failed(
    sandbox: Sandbox, db: Database, gateway: Gateway, outbox: Outbox
) -> None:
    [created] = await sandbox.create_listings(valid_item("F-0001"))
    await gateway.poll_once()
    async with db.session() as s, s.begin():
        record = await s.get(ListingRecord, created["id"])
        assert record is not None
        record.state, record.auction_id = "listed", "x99"
    [task] = (await sandbox.control(f"listings/{created['id']}/update", {"title": "x"}))["tasks"]
    await gateway.poll_once()
    assert await outbox.drain(timeout=5) == 0
    body = (await sandbox.task(task["id"]))["reports"][0]["body"]
    assert "ヤフオク!ストアで直接" in body["message"]


async def test_missing_listing_is_failed_and_outage_defers(
    sandbox: Sandbox, db: Database, gateway: Gateway, outbox: Outbox
) -> None:
    ghost = await sandbox.issue_task("CREATE_INVENTORY", {"ec_inventory_id": 424242})
    await gateway.poll_once()
    assert await outbox.drain(timeout=5) == 0
    body = (await sandbox.task(ghost["id"]))["reports"][0]["body"]
    assert "424242" in body["message"] and "見つかりません" in body["message"]

    await sandbox.create_listings(valid_item("G-0001"))
    await sandbox.faults(down_seconds=30)
    result = await gateway.poll_once()
    assert result.received == 0 and gateway.last_error is not None
    assert "503" in gateway.last_error["message_en"]
    await sandbox.faults(reset=True)
    assert (await gateway.poll_once()).handled == 1
    assert gateway.last_error is None


async def test_relisting_after_the_end_brings_it_back_to_pending(
    sandbox: Sandbox, db: Database, gateway: Gateway
) -> None:
    from companion.db.models import Batch

    [created] = await sandbox.create_listings(valid_item("A-0042"))
    await gateway.poll_once()
    async with db.session() as s, s.begin():
        batch = Batch(name="yahoo_upload_20261122_0001")
        s.add(batch)
        await s.flush()
        record = await s.get(ListingRecord, created["id"])
        record.state, record.batch_id = "ended", batch.id
        record.auction_id, record.auction_url = "x1100000099", "https://example.invalid/a"
    # staff press 出品 again in ReCORE
    await sandbox.issue_task("CREATE_INVENTORY", {"ec_inventory_id": created["id"]})
    await gateway.poll_once()
    async with db.session() as s:
        record = await s.get(ListingRecord, created["id"])
    assert record.state == "waiting" and record.batch_id is None
    assert record.auction_id is None and record.auction_url is None


async def test_a_poll_that_took_in_tasks_is_followed_soon_by_another(
    sandbox: Sandbox, db: Database, gateway: Gateway
) -> None:
    """Sales at the register come in bursts: after a poll that took in new tasks the loop looks
    again within seconds, not after its whole interval (here an hour)."""
    await sandbox.create_listings(valid_item("B-0001"))
    loop = asyncio.create_task(gateway.run(interval=3600))
    try:
        for _ in range(600):
            if len(await _rows(db, RecoreTask)) == 1:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the first poll took nothing in")
        await sandbox.create_listings(valid_item("B-0002"))  # the next sale, just after it
        for _ in range(1200):  # a guard against a wait of the whole interval, not a measure
            if len(await _rows(db, RecoreTask)) == 2:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the second task waited for the whole interval")
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
