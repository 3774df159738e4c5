"""Helpers for the sync tests: staff's own actions on the two sandboxes, over HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from companion.db.models import ListingRecord, OrderSnapshot, RecoreTask
from companion.keys import BATCHES
from tests.sync.conftest import Hub

STORE_STATUS_NOTE = "ヤフオクのストアステータス: "


def store_status(order: dict[str, Any]) -> str | None:
    """The Yahoo store status an upserted order carries in its note (no sub_status is sent)."""
    for line in (order.get("note") or "").splitlines():
        if line.startswith(STORE_STATUS_NOTE):
            return line.removeprefix(STORE_STATUS_NOTE)
    return None


async def staff_upload(hub: Hub, zip_path: Path) -> str:
    """What staff do with the downloaded zip: log in to the store and upload it (一括アップロード)."""
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as s:
        account = hub.world.account
        await s.post(
            hub.yurl("/config/login"),
            data={"handle": account.yahoo_id, "passwd": account.password, ".done": "/serinavi"},
        )
        await s.post(
            hub.yurl("/bizmgr/login"),
            data={
                "business_id": account.business_id,
                "business_password": account.business_password,
                ".done": "/serinavi",
            },
        )
        form = aiohttp.FormData()
        form.add_field(
            "uploadFile",
            await asyncio.to_thread(zip_path.read_bytes),
            filename=zip_path.name,
            content_type="application/zip",
        )
        async with s.post(hub.yurl("/serinavi/upload"), data=form) as r:
            text = await r.text()
            assert r.status == 200, text
            assert "受け付けました" in text, text[:2000]
            return text


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


async def list_on_yahoo(hub: Hub, listing_id: int) -> None:
    """出品ファイルをダウンロード (a batch of one) and upload it as staff would."""
    batches = hub.app[BATCHES]
    batch = await batches.create([listing_id])
    assert batch["items"] and batch["items"][0]["state"] == "processing", batch
    path, _name = await batches.zip_path(batch["id"])
    await staff_upload(hub, path)


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
