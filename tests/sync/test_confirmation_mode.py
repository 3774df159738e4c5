"""確認モード over the API, for the writes a sync makes: order upserts to ReCORE, and a cancel or
a ship on Yahoo with its task report. Nothing reaches the sandbox until 実行; スキップ keeps the
write pending (and visible); after N approvals of a kind the writes flow on their own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from companion.db.models import OutboxMessage
from companion.keys import CONFIRMATIONS, OUTBOX
from companion.recore import outbox as ob
from tests.conftest import pair_client
from tests.sync.conftest import Hub
from tests.sync.helpers import (
    list_on_yahoo,
    listing,
    local_task,
    recore_order,
    store_status,
    task_of,
    waiting_listing_ids,
    yahoo_order,
)


async def _auth(hub: Hub) -> dict[str, str]:
    return {"Authorization": f"Bearer {await pair_client(hub.client)}"}


async def _confirmations(hub: Hub, auth: dict[str, str]) -> dict[str, Any]:
    resp = await hub.client.get("/api/v1/confirmations", headers=auth)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _decide(hub: Hub, auth: dict[str, str], confirmation_id: int, action: str) -> None:
    resp = await hub.client.post(f"/api/v1/confirmations/{confirmation_id}/{action}", headers=auth)
    assert resp.status == 200, await resp.text()
    await hub.app[CONFIRMATIONS].settled()  # the job started for an approved write has run


async def _upserts_received(hub: Hub) -> int:
    by_endpoint = (await hub.recore_state())["requests"]["by_endpoint"]
    return sum(
        n for name, n in by_endpoint.items() if name.startswith("POST ") and "upsert" in name
    )


async def _settings(hub: Hub, auth: dict[str, str], **values: Any) -> None:
    resp = await hub.client.put("/api/v1/settings", json=values, headers=auth)
    assert resp.status == 200, await resp.text()


async def test_new_installation_has_confirmation_mode_on_with_three(make_hub: Any) -> None:
    hub = await make_hub(all_features=True, confirm_first_writes=True)
    auth = await _auth(hub)
    resp = await hub.client.get("/api/v1/settings", headers=auth)
    settings = await resp.json()
    assert settings["confirmation_mode"] is True and settings["confirmation_count"] == 3
    report = await _confirmations(hub, auth)
    assert report["enabled"] is True and report["required"] == 3
    assert {k["kind"]: k["left"] for k in report["kinds"]}["order_upsert"] == 3
    # a bad value is refused with the field's name, nothing stored
    resp = await hub.client.put("/api/v1/settings", json={"confirmation_count": 0}, headers=auth)
    assert resp.status == 400
    assert "確認する件数" in (await resp.json())["error"]["fields"]["confirmation_count"]
    # an unknown id is a 404, a malformed one a 400 naming it; never a 500
    resp = await hub.client.post("/api/v1/confirmations/999/approve", headers=auth)
    assert resp.status == 404 and (await resp.json())["error"]["message"]
    for bad in ("x", "99999999999999999999"):
        resp = await hub.client.post(f"/api/v1/confirmations/{bad}/skip", headers=auth)
        assert resp.status == 400, await resp.text()
        assert "confirmation_id" in (await resp.json())["error"]["fields"]


async def test_order_upserts_wait_for_approval_skip_keeps_one_then_they_flow(
    make_hub: Any,
) -> None:
    hub = await make_hub(all_features=True, confirm_first_writes=True)
    auth = await _auth(hub)
    await _settings(hub, auth, confirmation_count=1)
    job = await hub.run_sync()
    orders = hub.world.orders
    assert len(orders) >= 3
    # prepared and shown, not sent
    assert await _upserts_received(hub) == 0
    assert (await hub.recore_state())["orders"] == []
    report = await _confirmations(hub, auth)
    waiting = [i for i in report["items"] if i["kind"] == "order_upsert"]
    assert len(waiting) == len(orders) == report["waiting"]
    first, second = waiting[0], waiting[1]
    assert first["target"] == "ReCORE POST /ec/gateway/order/upsert"
    assert first["item"].startswith("注文 ")
    shown = {v["name"]: v["value"] for v in first["values"]}
    assert shown["mall_order_id"] == first["item"].removeprefix("注文 ")
    assert job["state"] in ("succeeded", "partial"), job

    # スキップ: still pending, shown as skipped, never dropped
    await _decide(hub, auth, first["id"], "skip")
    await hub.app[OUTBOX].drain(timeout=5)
    assert await _upserts_received(hub) == 0
    report = await _confirmations(hub, auth)
    assert report["skipped"] == 1
    assert next(i for i in report["items"] if i["id"] == first["id"])["state"] == "skipped"

    # 実行 of one (N = 1): it goes, and so do the others waiting; the skipped one stays
    await _decide(hub, auth, second["id"], "approve")
    await hub.app[OUTBOX].drain(timeout=10)
    state = await hub.recore_state()
    skipped_order = first["item"].removeprefix("注文 ")
    sent = {o["mall_order_id"] for o in state["orders"]}
    assert skipped_order not in sent
    assert sent == set(orders) - {skipped_order}
    async with hub.db.session() as s:
        held = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.state == ob.AWAITING))
        ).all()
    assert len(held) == 1
    report = await _confirmations(hub, auth)
    assert report["waiting"] == 0 and report["skipped"] == 1

    # the skipped one, approved later, is sent
    await _decide(hub, auth, first["id"], "approve")
    await hub.app[OUTBOX].drain(timeout=10)
    assert skipped_order in {o["mall_order_id"] for o in (await hub.recore_state())["orders"]}
    assert (await _confirmations(hub, auth))["items"] == []


async def test_cancel_on_yahoo_and_its_report_wait_for_approval_then_flow(
    make_hub: Any,
) -> None:
    hub = await make_hub(all_features=True)  # the orders reach ReCORE first (mode off)
    auth = await _auth(hub)
    await hub.run_sync()
    await _settings(hub, auth, confirmation_mode=True, confirmation_count=1)
    state = await hub.recore_state()
    pending = [o for o in state["orders"] if store_status(o) == "未処理"]
    assert len(pending) >= 2
    first, later = pending[0], pending[1]
    cancel = await hub.recore_post(f"/_sandbox/orders/{first['id']}/cancel", {"reason": "在庫なし"})
    task_id = cancel["task"]["id"]

    await hub.run_sync()
    # not cancelled on Yahoo: the task stays open, saying it waits for staff
    assert yahoo_order(hub, first["mall_order_id"]).store_status == "未処理"
    assert "確認待ち" in ((await local_task(hub, task_id)).message or "")
    report = await _confirmations(hub, auth)
    [item] = [i for i in report["items"] if i["kind"] == "yahoo_cancel"]
    assert item["item"] == f"注文 {first['mall_order_id']}"
    assert {"name": "注文ID", "value": first["mall_order_id"]} in item["values"]

    # スキップ: still not cancelled after another sync, and still shown
    await _decide(hub, auth, item["id"], "skip")
    await hub.run_sync()
    assert yahoo_order(hub, first["mall_order_id"]).store_status == "未処理"
    assert (await local_task(hub, task_id)).state == "handled"

    # 実行: a sync carries it out; its report to ReCORE is the next write waiting
    await _decide(hub, auth, item["id"], "approve")
    assert yahoo_order(hub, first["mall_order_id"]).store_status == "キャンセル"
    await hub.app[OUTBOX].drain(timeout=5)
    assert task_of(await hub.recore_state(), task_id)["outcome"] is None
    report = await _confirmations(hub, auth)
    [report_item] = [i for i in report["items"] if i["kind"] == "task_report"]
    assert report_item["target"] == f"ReCORE POST /ec/gateway/tasks/{task_id}/succeeded"
    await _decide(hub, auth, report_item["id"], "approve")
    await hub.app[OUTBOX].drain(timeout=10)
    assert task_of(await hub.recore_state(), task_id)["outcome"] == "succeeded"

    # N = 1 approved of each kind: the next cancel and its report flow on their own
    second = await hub.recore_post(f"/_sandbox/orders/{later['id']}/cancel", {"reason": "在庫なし"})
    await hub.run_sync()
    await hub.app[OUTBOX].drain(timeout=10)
    assert yahoo_order(hub, later["mall_order_id"]).store_status == "キャンセル"
    state = await hub.recore_state()
    assert task_of(state, second["task"]["id"])["outcome"] == "succeeded"
    assert recore_order(state, later["mall_order_id"])["status"] == "CANCELED"
    # what still waits is of the one kind not approved yet: the orders' new status
    waiting = (await _confirmations(hub, auth))["items"]
    assert waiting and {i["kind"] for i in waiting} == {"order_upsert"}


async def test_switched_off_everything_waiting_flows(make_hub: Any) -> None:
    hub = await make_hub(all_features=True, confirm_first_writes=True)
    auth = await _auth(hub)
    await hub.run_sync()
    assert await _upserts_received(hub) == 0
    await _settings(hub, auth, confirmation_mode=False)
    await hub.app[OUTBOX].drain(timeout=10)
    assert await _upserts_received(hub) == len(hub.world.orders)
    report = await _confirmations(hub, auth)
    assert report["enabled"] is False and report["items"] == []


async def test_ship_on_yahoo_waits_for_approval(make_hub: Any) -> None:
    hub = await make_hub(all_features=True)  # the orders reach ReCORE first (mode off)
    auth = await _auth(hub)
    await hub.run_sync()
    await _settings(hub, auth, confirmation_mode=True, confirmation_count=1)
    state = await hub.recore_state()
    paid = next(o for o in state["orders"] if store_status(o) == "入金済み")
    shipped = await hub.recore_post(
        f"/_sandbox/orders/{paid['id']}/ship",
        {"tracking_number": "1234-5678-9012", "carrier": "YAMATO"},
    )
    task_id = shipped["task"]["id"]
    await hub.run_sync()
    y = yahoo_order(hub, paid["mall_order_id"])
    assert y.store_status == "入金済み" and not y.tracking_number
    [item] = [i for i in (await _confirmations(hub, auth))["items"] if i["kind"] == "yahoo_ship"]
    shown = {v["name"]: v["value"] for v in item["values"]}
    assert shown == {
        "注文ID": paid["mall_order_id"],
        "配送業者": "YAMATO",
        "追跡番号": "1234-5678-9012",
    }
    await _decide(hub, auth, item["id"], "approve")
    y = yahoo_order(hub, paid["mall_order_id"])
    assert y.tracking_number == "1234-5678-9012" and y.store_status == "発送済み"
    assert (await local_task(hub, task_id)).state == "reporting"  # its report waits in turn


async def test_early_end_on_yahoo_waits_for_approval(make_hub: Any) -> None:
    hub = await make_hub(all_features=True)
    auth = await _auth(hub)
    await hub.run_sync()
    lid = (await waiting_listing_ids(hub))[0]
    await list_on_yahoo(hub, lid)
    await hub.run_sync()
    rec = await listing(hub, lid)
    assert rec.state == "listed"  # the classic world lists at upload
    await _settings(hub, auth, confirmation_mode=True, confirmation_count=1)
    task_id = (await hub.recore_post(f"/_sandbox/listings/{lid}/sell-in-store"))["task"]["id"]
    await hub.run_sync()
    assert hub.world.item_by_auction(rec.auction_id).status == "selling"
    assert (await listing(hub, lid)).state == "listed"
    [item] = [i for i in (await _confirmations(hub, auth))["items"] if i["kind"] == "yahoo_end"]
    assert item["item"].startswith(f"管理番号 {rec.management_number}")
    assert {"name": "オークションID", "value": f'["{rec.auction_id}"]'} in item["values"]
    await _decide(hub, auth, item["id"], "approve")
    assert hub.world.item_by_auction(rec.auction_id).status == "ended"
    assert (await listing(hub, lid)).state == "ended"
    assert (await local_task(hub, task_id)).state == "reporting"
