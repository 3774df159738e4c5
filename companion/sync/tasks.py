"""ReCORE → Yahoo: gateway handlers for the tasks staff's actions in ReCORE create.

- SHIP_ORDER: the tracking number (when given) and 出荷済み on the Yahoo order.
- CANCEL_ORDER: cancel the Yahoo order (a shipped one cannot be: reported failed, in Japanese).
- DELETE_INVENTORY (the item sold in the store, or staff ended the listing): end the auction early
  when it has no bids — the double-sale guard. With bids, or already won on Yahoo, it is reported
  failed saying so; a listing not on Yahoo yet is simply withdrawn locally.
- UPDATE_INVENTORY / UPDATE_INVENTORY_PRICE for a listing on Yahoo: edit title, description and
  prices in 競りナビ where Yahoo allows it (Yahoo refuses a start price change once bid on).

Each result goes to ReCORE through the outbox (`ctx.succeed` / `ctx.fail`). When Yahoo cannot be
reached (5xx, login wall …) the task is left open (`handled`) with a note, and the next sync
(`retry_open_tasks`) tries again: a passing Yahoo outage never turns into a failed report.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import select

from companion.db.models import AuctionSnapshot, ListingRecord, RecoreTask
from companion.domain import ListingState
from companion.keys import DB, GATEWAY, SYNC
from companion.recore import client as rc
from companion.recore.gateway import TaskContext
from scrapers import sync_site as site
from scrapers.errors import ScraperError
from scrapers.orders import OrderActions
from scrapers.sync_items import ItemActions, find_items

log = logging.getLogger(__name__)

HANDLED_TYPES = (
    rc.SHIP_ORDER,
    rc.CANCEL_ORDER,
    rc.DELETE_INVENTORY,
    rc.UPDATE_INVENTORY,
    rc.UPDATE_INVENTORY_PRICE,
)
DEFER_NOTE = "ヤフオクに接続できないため保留しています（次回の同期で再試行します）: "

Handler = Callable[[TaskContext], Awaitable[None]]


def _service(app: web.Application) -> Any:
    return app[SYNC]


async def _store(app: web.Application) -> tuple[Any, site.SyncUrls]:
    service = _service(app)
    return await service.access.open(service.http_session, service.options)


async def _defer(ctx: TaskContext, exc: ScraperError) -> None:
    """Leave the task open with a note; `retry_open_tasks` picks it up at the next sync."""
    row = await ctx.session.get(RecoreTask, ctx.task_id)
    if row is not None:
        row.message = (DEFER_NOTE + exc.ja)[:1000]
    log.info("task %s (%s) deferred: %s", ctx.task_id, ctx.type, exc.en)


def guarded(handler: Handler) -> Handler:
    async def run(ctx: TaskContext) -> None:
        try:
            await handler(ctx)
        except ScraperError as exc:
            await _defer(ctx, exc)

    return run


# ---- orders ---------------------------------------------------------------------------------------------
def ship_handler(app: web.Application) -> Handler:
    async def ship(ctx: TaskContext) -> None:
        order_id = ctx.mall_order_id
        if not order_id:
            await ctx.fail(
                "タスクに注文ID（mall_order_id）がありません。", {"mall_order_id": ["必須です"]}
            )
            return
        tracking = ctx.data.get("tracking_number")
        carrier = ctx.data.get("carrier")
        http, urls = await _store(app)
        result = await OrderActions(http, urls).ship(
            order_id, str(carrier) if carrier else None, str(tracking) if tracking else None
        )
        if result.ok:
            await ctx.succeed({})
        else:
            await ctx.fail(result.message, {"mall_order_id": [result.message]})

    return guarded(ship)


def cancel_handler(app: web.Application) -> Handler:
    async def cancel(ctx: TaskContext) -> None:
        order_id = ctx.mall_order_id
        if not order_id:
            await ctx.fail(
                "タスクに注文ID（mall_order_id）がありません。", {"mall_order_id": ["必須です"]}
            )
            return
        http, urls = await _store(app)
        result = await OrderActions(http, urls).cancel(order_id)
        if result.ok:
            await ctx.succeed({})
        else:
            await ctx.fail(result.message, {"mall_order_id": [result.message]})

    return guarded(cancel)


# ---- inventory -----------------------------------------------------------------------------------------
def delete_handler(app: web.Application) -> Handler:
    async def delete(ctx: TaskContext) -> None:
        s = ctx.session
        rec = await s.get(ListingRecord, ctx.ec_inventory_id) if ctx.ec_inventory_id else None
        if rec is None or not rec.management_number:
            # never taken in by this connector: nothing of ours is on Yahoo
            await ctx.succeed({})
            return
        mn = rec.management_number
        if rec.state in (ListingState.WAITING, ListingState.ERROR, ListingState.ENDED):
            rec.state = ListingState.ENDED
            await ctx.succeed({})
            return
        http, urls = await _store(app)
        items = await find_items(http, urls, mn)
        selling = [i for i in items if i.status == site.ITEM_STATUS_SELLING]
        sold = [i for i in items if i.status == site.ITEM_STATUS_SOLD]
        if not selling:
            if sold:
                ids = "、".join(i.auction_id or "?" for i in sold)
                await ctx.fail(
                    f"管理番号 {mn} はヤフオクですでに落札されています（オークション {ids}）。"
                    "二重販売になっていないか確認してください。",
                    {"management_number": ["ヤフオクで落札済み"]},
                )
                return
            # not (or no longer) on Yahoo: withdraw it here so it is never listed
            rec.state = ListingState.ENDED
            await ctx.succeed({})
            return
        actions = ItemActions(await _service(app).access.browser(urls.base), urls)
        for item in selling:
            result = await actions.end_early(item)
            if not result.ok:
                with_bids = any(
                    t in result.message for t in site.ITEM_EDIT.cannot_end_with_bids_texts
                )
                message = (
                    f"管理番号 {mn} のオークション {item.auction_id} には入札があるため、"
                    "早期終了できません。ヤフオク!ストアで入札の取り消しなどを行ってください。"
                    if with_bids
                    else result.message
                )
                await ctx.fail(message, {"management_number": [message]})
                return
            snap = await s.get(AuctionSnapshot, item.auction_id) if item.auction_id else None
            if snap is not None:
                snap.state = "ended"
                snap.reported_state = "ended"
        rec.state = ListingState.ENDED
        await ctx.succeed({})

    return guarded(delete)


def update_handler(app: web.Application) -> Handler:
    async def update(ctx: TaskContext) -> None:
        s = ctx.session
        rec = await s.get(ListingRecord, ctx.ec_inventory_id) if ctx.ec_inventory_id else None
        listing = ctx.listing
        if rec is None or listing is None or ctx.inventory is None:
            await ctx.fail(
                "出品データを取得できませんでした。", {"ec_inventory_id": ["取得できません"]}
            )
            return
        mn = rec.management_number or listing.management_number or ""
        http, urls = await _store(app)
        items = [
            i for i in await find_items(http, urls, mn) if i.status == site.ITEM_STATUS_SELLING
        ]
        if not items:
            if rec.state == ListingState.PROCESSING:
                # not on Yahoo yet: the batch's zip is rebuilt from the new data
                rec.inventory = ctx.inventory
                rec.title = listing.title
                await ctx.succeed({})
                return
            await ctx.fail(
                f"管理番号 {mn} のオークションは終了しているため、変更を反映できません。",
                {"state": ["出品終了"]},
            )
            return
        form = site.ITEM_EDIT
        values: dict[str, str] = {}
        if ctx.type == rc.UPDATE_INVENTORY:
            if listing.title:
                values[form.title_field] = listing.title
            if listing.description is not None:
                values[form.description_field] = listing.description
        else:  # UPDATE_INVENTORY_PRICE
            if listing.start_price is not None:
                values[form.start_price_field] = str(listing.start_price)
            values[form.buyout_price_field] = str(listing.buyout_price or 0)
        actions = ItemActions(await _service(app).access.browser(urls.base), urls)
        result = await actions.edit(items[0], values)
        if not result.ok:
            await ctx.fail(result.message, {"inventory": [result.message]})
            return
        rec.inventory = ctx.inventory
        rec.title = listing.title
        body = rc.succeeded_body(
            listing,
            auction_id=rec.auction_id or items[0].auction_id,
            auction_url=rec.auction_url,
            management_number=mn,
        )
        await ctx.succeed(body)

    return guarded(update)


def handlers(app: web.Application) -> dict[str, Handler]:
    update = update_handler(app)
    return {
        rc.SHIP_ORDER: ship_handler(app),
        rc.CANCEL_ORDER: cancel_handler(app),
        rc.DELETE_INVENTORY: delete_handler(app),
        rc.UPDATE_INVENTORY: update,
        rc.UPDATE_INVENTORY_PRICE: update,
    }


def register_handlers(app: web.Application) -> None:
    gateway = app.get(GATEWAY)
    if gateway is None:
        log.warning("sync: no ReCORE gateway; order and inventory tasks are not handled")
        return
    for task_type, handler in handlers(app).items():
        gateway.register_handler(task_type, handler)


async def retry_open_tasks(app: web.Application) -> int:
    """Tasks of ours left open because Yahoo could not be reached: try each once more."""
    db = app[DB]
    gateway = app.get(GATEWAY)
    table = handlers(app)
    async with db.session() as s:
        rows = (
            await s.scalars(
                select(RecoreTask)
                .where(RecoreTask.state == "handled", RecoreTask.type.in_(list(table)))
                .order_by(RecoreTask.received_at)
            )
        ).all()
    inventories: dict[int, dict[str, Any]] = {}
    client = gateway.client if gateway is not None else None
    done = 0
    for row in rows:
        if row.type in rc.FETCH_INVENTORY_TYPES and row.ec_inventory_id is not None:
            if client is None:
                continue
            try:
                inventories[row.ec_inventory_id] = await client.get_inventory(row.ec_inventory_id)
            except rc.RecoreError:
                continue
        async with db.session() as s, s.begin():
            task = await s.get(RecoreTask, row.id, with_for_update=True)
            if task is None or task.state != "handled":
                continue
            inventory = inventories.get(row.ec_inventory_id or 0)
            ctx = TaskContext(
                session=s,
                task_id=task.id,
                type=task.type,
                data=task.data or {},
                ec_inventory_id=task.ec_inventory_id,
                mall_order_id=task.mall_order_id,
                inventory=inventory,
                listing=rc.listing_from_inventory(inventory) if inventory is not None else None,
            )
            await table[task.type](ctx)
            if ctx.reported is not None:
                done += 1
    if done and gateway is not None and gateway.outbox is not None:
        gateway.outbox.wake()
    return done
