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
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from companion import confirmations
from companion.cluster import exclusive
from companion.db.models import AuctionSnapshot, ListingRecord, RecoreTask, SubmitIntent, utcnow
from companion.direct.intents import CHECKING_JA, DONE, FAILED, NOT_DONE, Intents
from companion.direct.service import item_claim
from companion.domain import ListingState
from companion.keys import CONFIG, DB, EVENTS, GATEWAY, HISTORY, STORE, TABLES
from companion.listing.intake import Sources, keep_sources
from companion.listing.validation import validate_listing
from companion.recore import client as rc
from companion.recore.gateway import URGENT_TYPES, TaskContext, task_context
from scrapers.errors import ScraperError
from scrapers.listing import ItemActions
from scrapers.orders import OrderActions
from scrapers.priority import urgent
from scrapers.reader import StoreReader

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
# what each edit task changes on Yahoo (Listing attributes)
EDITED_FIELDS = {
    rc.UPDATE_INVENTORY: frozenset({"title", "description"}),
    rc.UPDATE_INVENTORY_PRICE: frozenset({"start_price", "buyout_price"}),
}


async def _reader(app: web.Application) -> StoreReader:
    """The store session's reader, with 競りナビ's links and the store id known."""
    reader = await app[STORE].reader()
    await reader.start()
    return reader


async def _item_actions(app: web.Application) -> ItemActions:
    store = app[STORE]
    return store.page_object(ItemActions, await store.browser(), await _reader(app))


async def _order_actions(app: web.Application) -> OrderActions:
    return app[STORE].page_object(OrderActions, await _reader(app))


async def _defer(ctx: TaskContext, exc: ScraperError) -> None:
    """Leave the task open with a note; `retry_open_tasks` picks it up at the next sync."""
    row = await ctx.session.get(RecoreTask, ctx.task_id)
    if row is not None:
        row.message = (DEFER_NOTE + exc.ja)[:1000]
    log.info("task %s (%s) deferred: %s", ctx.task_id, ctx.type, exc.en)


def _intents(app: web.Application) -> Intents:
    return Intents(app[DB], app[CONFIG].submit_grace_seconds)


async def _still_checking(app: web.Application, ctx: TaskContext, mn: str, action: str) -> bool:
    """An 早期終了 or an edit pressed before a crash, whose outcome is unknown: while the store
    may still be working on it, the task stays open (確認中) and the next sync looks again;
    after that, the store's own state (read next) says whether to press again."""
    intents = _intents(app)
    left_open = await intents.open(mn, action)
    if left_open is None:
        return False
    left = intents.seconds_left(left_open)
    if left <= 0:
        # the reading that follows decides (own commit: this task has written nothing yet)
        await intents.resolve(left_open.id, NOT_DONE)
        return False
    row = await ctx.session.get(RecoreTask, ctx.task_id)
    if row is not None:
        row.message = (
            f"{CHECKING_JA}: 前回の「{left_open.pressed}」の結果をヤフオクで確かめてから続けます"
            "（次回の同期で確認します）"
        )[:1000]
    log.info("task %s: %s of %s has no known outcome yet; checked later", ctx.task_id, action, mn)
    return True


async def _resolve(ctx: TaskContext, intent_id: int, outcome: str) -> None:
    """In the task's own transaction: the outcome is committed with the task's report."""
    row = await ctx.session.get(SubmitIntent, intent_id)
    if row is not None and row.resolved_at is None:
        row.outcome, row.resolved_at = outcome, utcnow()


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
        if await confirmations.hold_task(
            app,
            ctx,
            confirmations.YAHOO_SHIP,
            item=f"注文 {order_id}",
            values={"注文ID": order_id, "配送業者": carrier, "追跡番号": tracking},
        ):
            return
        result = await (await _order_actions(app)).ship(
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
        if await confirmations.hold_task(
            app,
            ctx,
            confirmations.YAHOO_CANCEL,
            item=f"注文 {order_id}",
            values={"注文ID": order_id},
        ):
            return
        result = await (await _order_actions(app)).cancel(order_id)
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
        if rec.state in (
            ListingState.WAITING,
            ListingState.HELD,
            ListingState.ERROR,
            ListingState.ENDED,
        ):
            rec.state = ListingState.ENDED
            await ctx.succeed({})
            return
        if await _still_checking(app, ctx, mn, "end"):
            return
        # never beside a direct listing of the same item (it waits for that one item, then
        # finds it listed and ends it); the double-sale guard goes before the pages a sync or a
        # listing has queued
        async with exclusive(app[DB], item_claim(mn)):
            with urgent():
                await _end_on_yahoo(app, ctx, rec, mn)

    return guarded(delete)


async def _end_on_yahoo(
    app: web.Application, ctx: TaskContext, rec: ListingRecord, mn: str
) -> None:
    """DELETE_INVENTORY for an item that may be on Yahoo: find it and press 早期終了."""
    s = ctx.session
    task = await s.get(RecoreTask, ctx.task_id)
    seen = _aware(task.received_at) if task is not None else None
    actions = await _item_actions(app)
    states = actions.facts.items
    items = await actions.reader.find_items(mn)
    selling = [i for i in items if i.status == states.status_selling]
    sold = [i for i in items if i.status == states.status_sold]
    if any(i.status == states.status_registered for i in items) and not selling:
        # in a 競りナビ folder, never started: it must not be started now (a double sale)
        await app[EVENTS].error(
            "sync",
            f"管理番号 {mn} は店頭などで販売されました。競りナビのフォルダに登録済み（未出品）の"
            "この商品は出品開始せず、競りナビの商品管理で削除してください。",
            f"{mn} was sold elsewhere; its registered 競りナビ item must not be started",
        )
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
    if await confirmations.hold_task(
        app,
        ctx,
        confirmations.YAHOO_END,
        item=f"管理番号 {mn}「{rec.title or ''}」",
        values={"管理番号": mn, "オークションID": [i.auction_id for i in selling]},
    ):
        return
    # durable before the press (its own commit, before this task writes anything)
    intent = await _intents(app).record(
        mn, "end", "早期終了", listing_id=rec.id, task_id=ctx.task_id
    )
    started = utcnow()
    for item in selling:
        result = await actions.end_early(item)
        await _resolve(ctx, intent, DONE if result.ok else FAILED)
        _log_steps(ctx.task_id, mn, item.auction_id, seen, started, result.ok)
        if not result.ok:
            with_bids = any(
                t in result.message for t in actions.facts.edit.cannot_end_with_bids_texts
            )
            message = blocked_message(mn, item.auction_id) if with_bids else result.message
            await ctx.fail(message, {"management_number": [message]})
            if with_bids:
                _tell_staff_now(app)
            return
        snap = await s.get(AuctionSnapshot, item.auction_id) if item.auction_id else None
        if snap is not None:
            snap.state = "ended"
            snap.reported_state = "ended"
    rec.state = ListingState.ENDED
    await ctx.succeed({})


def blocked_message(mn: str, auction_id: str | None) -> str:
    """What staff read (popup, notification, alert, ReCORE's task) when bids stop 早期終了."""
    return (
        f"管理番号 {mn} のオークション {auction_id or '?'} には入札があるため、早期終了できません。"
        "店頭で売れた商品なので、このままでは二重販売になります。"
        "ヤフオク!ストアの管理画面で入札者に連絡して入札を取り消し、オークションを終了してください。"
    )


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _log_steps(
    task_id: str,
    mn: str,
    auction_id: str | None,
    seen: datetime | None,
    started: datetime,
    ok: bool,
) -> None:
    """Each step of a sale at the register, measured in real use (the history keeps them too)."""
    now = utcnow()
    log.info(
        "early end of %s (auction %s, task %s): %s on Yahoo; started %.1f s after the poll saw "
        "the task, Yahoo answered %.1f s later",
        mn,
        auction_id,
        task_id,
        "ended" if ok else "refused",
        (started - seen).total_seconds() if seen is not None else -1.0,
        (now - started).total_seconds(),
    )


def _tell_staff_now(app: web.Application) -> None:
    """The history pass that raises the alert and feeds the popup and the badge runs at once."""
    recorder = app.get(HISTORY)
    if recorder is not None:
        recorder.wake()


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
        # the new values pass the same rules as a new listing before anything reaches Yahoo
        fields = EDITED_FIELDS[ctx.type]
        refused = [e for e in validate_listing(listing) if e.field in fields]
        if refused:
            await ctx.fail(
                "\n".join(e.message for e in refused), {e.field: [e.message] for e in refused}
            )
            return
        if await _still_checking(app, ctx, mn, "edit"):
            return
        actions = await _item_actions(app)
        states = actions.facts.items
        # a running auction, or an item registered in a folder (its edit keeps it registered)
        editable = (states.status_selling, states.status_registered)
        items = [i for i in await actions.reader.find_items(mn) if i.status in editable]
        if not items:
            if rec.state == ListingState.PROCESSING:
                # not on Yahoo yet: the batch's zip is rebuilt from the new data
                keep_sources(rec, ctx.inventory, ctx.sources)
                rec.title = listing.title
                await ctx.succeed({})
                return
            await ctx.fail(
                f"管理番号 {mn} のオークションは終了しているため、変更を反映できません。",
                {"state": ["出品終了"]},
            )
            return
        form = actions.facts.edit
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
        intent = await _intents(app).record(
            mn, "edit", "フォルダに保存する", listing_id=rec.id, task_id=ctx.task_id
        )
        result = await actions.edit(items[0], values)
        await _resolve(ctx, intent, DONE if result.ok else FAILED)
        if not result.ok:
            await ctx.fail(result.message, {"inventory": [result.message]})
            return
        keep_sources(rec, ctx.inventory, ctx.sources)
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

    async def retry_urgent() -> int:
        return await retry_open_tasks(app, only=URGENT_TYPES)

    # a sale at the register left open (Yahoo unreachable, 確認中) is tried again after the next
    # poll, not only at the next sync
    gateway.after_poll.append(retry_urgent)


async def retry_open_tasks(app: web.Application, only: tuple[str, ...] | None = None) -> int:
    """Tasks of ours left open because Yahoo could not be reached: try each once more (`only`:
    of these types). One pass at a time, never beside a poll: a task is handled by one hand."""
    gateway = app.get(GATEWAY)
    if gateway is None:
        return await _retry_open_tasks(app, only)
    async with gateway.between_polls():
        return await _retry_open_tasks(app, only)


async def _retry_open_tasks(app: web.Application, only: tuple[str, ...] | None) -> int:
    db = app[DB]
    gateway = app.get(GATEWAY)
    table = handlers(app)
    if only is not None:
        table = {kind: handler for kind, handler in table.items() if kind in only}
    canonical = gateway.canonical if gateway is not None else (lambda t: t)
    rules = await app[TABLES].listing_rules() if app.get(TABLES) is not None else None
    async with db.session() as s:
        rows = [
            r
            for r in (
                await s.scalars(
                    select(RecoreTask)
                    .where(RecoreTask.state == "handled")
                    .order_by(RecoreTask.received_at)
                )
            ).all()
            if canonical(r.type) in table
        ]
    inventories: dict[int, dict[str, Any]] = {}
    client = gateway.client if gateway is not None else None
    done = 0
    for row in rows:
        kind = canonical(row.type)
        if kind in rc.FETCH_INVENTORY_TYPES and row.ec_inventory_id is not None:
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
            record = (
                await s.get(ListingRecord, task.ec_inventory_id)
                if task.ec_inventory_id is not None
                else None
            )
            # the item and catalogue entry as last read (a listed item's do not change)
            sources = (
                Sources(record.item, record.product, dict(record.source_notes or {}))
                if record is not None
                else None
            )
            ctx: TaskContext = task_context(s, task, inventory, sources, rules, kind)
            await table[kind](ctx)
            if ctx.reported is not None:
                done += 1
    if done and gateway is not None and gateway.outbox is not None:
        gateway.outbox.wake()
    return done
