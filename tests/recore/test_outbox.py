"""The durable outbox against the ReCORE sandbox: nothing lost, nothing doubled, in order."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from companion.db import Database
from companion.db.models import EventLog, OutboxMessage, RecoreTask
from companion.domain import Order, OrderLine, OrderStatus
from companion.recore import client as rc
from companion.recore import outbox as ob
from companion.recore.client import RecoreClient
from companion.recore.outbox import Outbox
from tests.recore.conftest import FAST, Sandbox, valid_item


async def _report_all(db: Database, tasks: list[dict[str, Any]]) -> None:
    """One succeeded report per task, written like a handler would (in a transaction)."""
    async with db.session() as s, s.begin():
        for n, task in enumerate(tasks):
            body = rc.succeeded_body(
                auction_id=f"x{1000 + n}", management_number=f"T-{n}", variant_id=task["variant"]
            )
            await ob.enqueue_task_succeeded(
                s, task["id"], body, ob.listing_key(task["data"]["ec_inventory_id"])
            )


async def _open_tasks(sandbox: Sandbox, count: int) -> list[dict[str, Any]]:
    listings = await sandbox.create_listings(*(valid_item(f"T-{n}") for n in range(count)))
    state = await sandbox.state()
    variants = {x["id"]: x["variant_ids"][0] for x in listings}
    return [
        {**t, "variant": variants[t["data"]["ec_inventory_id"]]}
        for t in state["tasks"]
        if t["type"] == "CREATE_INVENTORY"
    ]


async def _count(db: Database, state: str) -> int:
    async with db.session() as s:
        return int(
            await s.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == state)
            )
            or 0
        )


async def test_enqueue_is_idempotent_and_transactional(db: Database) -> None:
    async with db.session() as s, s.begin():
        assert await ob.enqueue(s, rc.OP_ORDER_UPSERT, "o-1", {"a": 1}, "order:o-1", "k1")
        assert not await ob.enqueue(s, rc.OP_ORDER_UPSERT, "o-1", {"a": 2}, "order:o-1", "k1")
    async with db.session() as s, s.begin():
        assert not await ob.enqueue(s, rc.OP_ORDER_UPSERT, "o-1", {"a": 3}, "order:o-1", "k1")
    # a rolled-back change takes its report with it
    with pytest.raises(RuntimeError):
        async with db.session() as s, s.begin():
            await ob.enqueue(s, rc.OP_ORDER_UPSERT, "o-2", {}, "order:o-2", "k2")
            raise RuntimeError("the state change failed")
    async with db.session() as s:
        rows = (await s.scalars(select(OutboxMessage))).all()
    assert [(r.idempotency_key, r.body) for r in rows] == [("k1", {"a": 1})]
    # a task gets one report whatever is tried later
    async with db.session() as s, s.begin():
        assert await ob.enqueue_task_failed(s, "T1", "だめ", None, "inventory:1")
        assert not await ob.enqueue_task_succeeded(s, "T1", {}, "inventory:1")


async def test_down_for_the_first_attempt_then_every_result_arrives_once(
    sandbox: Sandbox, db: Database, outbox: Outbox
) -> None:
    tasks = await _open_tasks(sandbox, 6)
    await _report_all(db, tasks)
    await sandbox.faults(down_seconds=0.6)
    first = await outbox.deliver_now()
    assert first.delivered == 0 and 1 <= first.retried <= outbox.concurrency
    async with db.session() as s:
        tried = (await s.scalars(select(OutboxMessage).where(OutboxMessage.attempts > 0))).all()
    assert tried and all("503" in (m.last_error or "") for m in tried)

    assert await outbox.drain(timeout=30) == 0
    state = await sandbox.state()
    assert state["faults"]["served"]["503"] >= 1
    reported = {t["id"]: t for t in state["tasks"]}
    for task in tasks:
        assert reported[task["id"]]["report_count"] == 1
        assert reported[task["id"]]["outcome"] == "succeeded"
    assert {x["status"] for x in state["listings"]} == {"DONE"}
    assert await _count(db, "delivered") == 6
    # draining again sends nothing more
    await outbox.drain(timeout=1)
    state = await sandbox.state()
    assert sum(t["report_count"] for t in state["tasks"]) == 6


async def test_an_outage_holds_the_whole_queue(
    sandbox: Sandbox, db: Database, client: RecoreClient
) -> None:
    """While ReCORE is down, an outage costs one request per backoff step, not one per message."""
    tasks = await _open_tasks(sandbox, 5)
    await _report_all(db, tasks)
    await sandbox.faults(down_seconds=60)
    patient = Outbox(db, client, policy=ob.RetryPolicy(base=60, jitter=0), concurrency=1)
    assert (await patient.deliver_now()).retried == 1
    assert await patient.deliver_now() == ob.DeliveryResult()
    assert patient.held_for() > 30
    assert (await sandbox.state())["faults"]["served"]["503"] == 1
    patient.client = client  # settings saved again: the hold is lifted, the rest are tried
    await sandbox.faults(reset=True)
    assert (await patient.deliver_now()).delivered == 4  # the fifth waits out its own backoff


async def test_429_storm_slows_down_and_loses_nothing(
    sandbox: Sandbox, db: Database, client: RecoreClient, outbox: Outbox
) -> None:
    await sandbox.create_listings(*(valid_item(f"T-{n}") for n in range(3)))
    async with db.session() as s, s.begin():
        for n in range(8):
            order = Order(
                f"store-{n}", OrderStatus.PENDING, lines=[OrderLine(f"T-{n % 3}", None, 1000)]
            )
            body = rc.order_upsert_body(order, sandbox.creds["ec_account_id"])
            await ob.enqueue_order_upsert(s, order.mall_order_id, body, "v1")
    await sandbox.faults(rate_limit_storm=3)
    assert await outbox.drain(timeout=60) == 0
    state = await sandbox.state()
    assert state["faults"]["served"]["429"] == 3
    assert client.bucket(rc.EP_ORDER_UPSERT).penalties >= 1  # it slowed down
    orders = {o["mall_order_id"]: o for o in state["orders"]}
    assert sorted(orders) == [f"store-{n}" for n in range(8)]
    assert {o["upsert_count"] for o in orders.values()} == {1}


async def test_rejection_is_kept_with_its_error_and_the_queue_moves(
    sandbox: Sandbox, db: Database, outbox: Outbox
) -> None:
    tasks = await _open_tasks(sandbox, 2)
    async with db.session() as s, s.begin():
        s.add(RecoreTask(id=tasks[0]["id"], type="CREATE_INVENTORY", state="handled"))
        # no mall_product_code: ReCORE answers 400 VALIDATE_FAILED
        await ob.enqueue_task_succeeded(s, tasks[0]["id"], {"mall_url": None}, "inventory:x")
        await ob.enqueue_task_failed(s, tasks[1]["id"], "画像が壊れています", None, "inventory:x")
    assert await outbox.drain(timeout=10) == 0
    async with db.session() as s:
        rows = (await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        task_row = await s.get(RecoreTask, tasks[0]["id"])
        events = (await s.scalars(select(EventLog))).all()
    assert [r.state for r in rows] == ["rejected", "delivered"]
    assert "VALIDATE_FAILED" in (rows[0].last_error or "")
    assert "mall_product_code" in (rows[0].last_error or "")
    assert task_row is not None and task_row.state == "rejected"
    assert any("受け付けませんでした" in e.message and e.level == "error" for e in events)
    state = await sandbox.state()
    outcomes = {t["id"]: t["outcome"] for t in state["tasks"]}
    assert outcomes[tasks[0]["id"]] is None and outcomes[tasks[1]["id"]] == "failed"
    # kept, so it can be sent again once the cause is fixed (here it is refused again)
    assert await ob.requeue_rejected(db) == 1
    assert await _count(db, "pending") == 1
    assert await outbox.drain(timeout=10) == 0 and await _count(db, "rejected") == 1


async def test_one_key_in_order_even_when_its_first_message_must_wait(
    sandbox: Sandbox, db: Database, outbox: Outbox
) -> None:
    await sandbox.create_listings(valid_item("T-1"))
    statuses = [OrderStatus.PENDING, OrderStatus.UNSHIPPED, OrderStatus.SHIPPED]
    async with db.session() as s, s.begin():
        for n, status in enumerate(statuses):
            order = Order("store-9", status, lines=[OrderLine("T-1", "x1", 900)])
            await ob.enqueue_order_upsert(s, "store-9", rc.order_upsert_body(order, 3), str(n))
        # another order's messages may overtake; this one's may not
        other = Order("store-10", OrderStatus.PENDING, lines=[OrderLine("T-1", "x1", 900)])
        await ob.enqueue_order_upsert(s, "store-10", rc.order_upsert_body(other, 3), "0")
    await sandbox.faults(error_5xx=1)  # the first upsert of store-9 fails once
    assert await outbox.drain(timeout=20) == 0
    state = await sandbox.state()
    order = next(o for o in state["orders"] if o["mall_order_id"] == "store-9")
    assert [h["status"] for h in order["status_history"]] == ["ORDERED", "UNSHIPPED", "SHIPPED"]
    assert order["upsert_count"] == 3


async def test_unauthorized_waits_for_staff_and_never_drops(
    sandbox: Sandbox, db: Database, http: Any, events: Any
) -> None:
    tasks = await _open_tasks(sandbox, 1)
    await _report_all(db, tasks)
    bad = Outbox(db, sandbox.client(http, api_key="wrong"), events=events, policy=FAST)
    await bad.deliver_now()
    await bad.deliver_now()
    assert await _count(db, "pending") == 1
    async with db.session() as s:
        errors = (await s.scalars(select(EventLog).where(EventLog.level == "error"))).all()
    assert len(errors) == 1 and "APIキー" in errors[0].message  # once, not once per try
    # staff fix the key: the same message goes out
    good = Outbox(db, sandbox.client(http), events=events, policy=FAST)
    assert await good.drain(timeout=10) == 0
    assert (await sandbox.task(tasks[0]["id"]))["report_count"] == 1


async def test_restart_with_a_full_outbox_resumes(
    sandbox: Sandbox, db: Database, http: Any, tmp_path: Any
) -> None:
    tasks = await _open_tasks(sandbox, 5)
    await _report_all(db, tasks)
    await sandbox.faults(down_seconds=60)
    await Outbox(db, sandbox.client(http), policy=FAST).deliver_now()
    await db.close()  # the companion stops with everything pending

    reopened = Database(db.url)
    await reopened.migrate()
    try:
        await sandbox.faults(reset=True)
        assert await Outbox(reopened, sandbox.client(http), policy=FAST).drain(timeout=20) == 0
        async with reopened.session() as s:
            states = (await s.scalars(select(OutboxMessage.state))).all()
        assert states == ["delivered"] * 5
    finally:
        await reopened.close()
    state = await sandbox.state()
    assert [t["report_count"] for t in state["tasks"]] == [1] * 5


def test_backoff_grows_and_is_capped() -> None:
    policy = ob.RetryPolicy(base=1, factor=2, max_delay=10, jitter=0.25)
    for attempt, expected in ((1, 1), (2, 2), (3, 4), (10, 10)):
        delays = [policy.delay(attempt) for _ in range(50)]
        assert all(expected * 0.75 <= d <= expected * 1.25 for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert FAST.max_delay < 1
