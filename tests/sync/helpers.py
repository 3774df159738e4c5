"""Helpers for the sync tests: staff's own actions on the two sandboxes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from companion.db.models import ListingRecord, OrderSnapshot, RecoreTask
from companion.keys import BATCHES
from sandbox.yahoo.app import demo_account
from scrapers.parse import UploadResult
from tests.staff import upload_zip
from tests.sync.conftest import Hub

STORE_STATUS_NOTE = "ヤフオクのストアステータス: "


def store_status(order: dict[str, Any]) -> str | None:
    """The Yahoo store status an upserted order carries in its note (no sub_status is sent)."""
    for line in (order.get("note") or "").splitlines():
        if line.startswith(STORE_STATUS_NOTE):
            return line.removeprefix(STORE_STATUS_NOTE)
    return None


async def staff_upload(hub: Hub, zip_path: Path) -> UploadResult:
    """What staff do with the downloaded zip: log in to the store and upload it (一括アップロード),
    in a browser of their own."""
    with tempfile.TemporaryDirectory() as profile:
        result = await upload_zip(
            hub.yurl("").rstrip("/"), demo_account(hub.yahoo.app), zip_path, Path(profile)
        )
    assert result.accepted, result.message
    return result


async def listing(hub: Hub, listing_id: int) -> ListingRecord:
    async with hub.db.session() as s:
        rec = await s.get(ListingRecord, listing_id)
        assert rec is not None
        return rec


async def waiting_listing_ids(hub: Hub) -> list[int]:
    async with hub.db.session() as s:
        return list(
            (
                await s.scalars(
                    select(ListingRecord.id)
                    .where(ListingRecord.state == "waiting")
                    .order_by(ListingRecord.id)
                )
            ).all()
        )


async def list_on_yahoo(hub: Hub, listing_id: int) -> UploadResult:
    """出品ファイルをダウンロード (a batch of one) and upload it as staff would: the store lists
    it at once, or registers it in a folder (then `result.registered` names it)."""
    batches = hub.app[BATCHES]
    batch = await batches.create([listing_id])
    assert batch["items"] and batch["items"][0]["state"] == "processing", batch
    path, _name = await batches.zip_path(batch["id"])
    return await staff_upload(hub, path)


def recore_order(state: dict[str, Any], mall_order_id: str) -> dict[str, Any]:
    return next(o for o in state["orders"] if o["mall_order_id"] == mall_order_id)


def recore_listing(state: dict[str, Any], listing_id: int) -> dict[str, Any]:
    return next(x for x in state["listings"] if x["id"] == listing_id)


def task_of(state: dict[str, Any], task_id: str) -> dict[str, Any]:
    return next(t for t in state["tasks"] if t["id"] == task_id)


async def local_task(hub: Hub, task_id: str) -> RecoreTask:
    async with hub.db.session() as s:
        row = await s.get(RecoreTask, task_id)
        assert row is not None
        return row


async def order_snapshot(hub: Hub, mall_order_id: str) -> OrderSnapshot | None:
    async with hub.db.session() as s:
        return await s.get(OrderSnapshot, mall_order_id)


def yahoo_order(hub: Hub, order_id: str) -> Any:
    return hub.world.orders[order_id]


def steps(job: dict[str, Any]) -> dict[str, str]:
    return {i["key"]: i["state"] for i in job["items"]}
