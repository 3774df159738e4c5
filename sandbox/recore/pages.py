"""Pages a person can look at: ReCORE's 出品待ち, 出品リスト and 受注管理, plus a task log.

Buttons post forms and redirect back (303) with a message, like a plain web app.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web
from yarl import URL

from . import protocol as p
from .api import image_url
from .controls import create_listings_from, ship_args
from .keys import WORLD_KEY
from .seed import CATEGORIES
from .world import WorldError, format_jst

PAGE_ROWS = 200  # a page shows at most this many rows (bulk-seeded worlds hold thousands)

LISTING_TABS = ("WAITING", "PROCESSING", "DONE", "ERROR", "ENDED")
ORDER_TABS = ("ORDERED", "UNSHIPPED", "SHIPPED", "CANCELED")


def _back(
    path: str, *, msg: str | None = None, err: str | None = None, **query: str
) -> web.HTTPSeeOther:
    q = {k: v for k, v in {**query, "msg": msg, "err": err}.items() if v}
    return web.HTTPSeeOther(str(URL(path).with_query(q)))


def _common(request: web.Request, active: str) -> dict[str, Any]:
    world = request.app[WORLD_KEY]
    return {
        "active": active,
        "msg": request.query.get("msg"),
        "err": request.query.get("err"),
        "jst": format_jst,
        "base": str(request.url.origin()),
        "image_url": image_url,
        "company_id": world.company_id,
        "ec_account_id": world.ec_account_id,
        "ec_account_name": world.ec_account_name,
        "pending_count": len(world.pending),
    }


async def index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/ui/listings")


@aiohttp_jinja2.template("pending.html")
async def pending_page(request: web.Request) -> dict[str, Any]:
    world = request.app[WORLD_KEY]
    return {
        **_common(request, "pending"),
        "items": list(world.pending.values()),
        "categories": CATEGORIES,
        "conditions": p.CONDITIONS,
        "sales_channels": p.SALES_CHANNELS,
    }


async def pending_list(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    raw = request.match_info["pending_id"]
    try:
        listing = world.list_pending_item(int(raw) if raw.isdigit() else -1)
    except WorldError as exc:
        raise _back("/ui/pending", err=exc.message) from exc
    world.changed()
    mn = listing["mall_attributes"].get("management_number")
    raise _back(
        "/ui/listings", msg=f"{mn} を出品しました（CREATE_INVENTORY を発行）。", tab="WAITING"
    )


def _form_int(form: Any, key: str) -> int | None | str:
    raw = (form.get(key) or "").strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() else raw  # a non-number is passed on and refused by validation


async def new_listing(request: web.Request) -> web.Response:
    """新しい商品を出品: creates the listing and its CREATE_INVENTORY task at once."""
    world = request.app[WORLD_KEY]
    form = await request.post()
    title = (form.get("title") or "").strip()
    mn = (form.get("management_number") or "").strip()
    start = _form_int(form, "start_price")
    problems = []
    if not title:
        problems.append("タイトルを入力してください。")
    if not mn:
        problems.append("管理番号を入力してください。")
    if not isinstance(start, int) or start < 1:
        problems.append("開始価格は1以上の整数で入力してください。")
    buyout = _form_int(form, "buyout_price") or 0
    if not isinstance(buyout, int):
        problems.append("即決価格は整数で入力してください。")
    channel = form.get("sales_channel") or "併売"
    if channel == "店頭のみ":
        problems.append("販路が「店頭のみ」の商品は出品できません。")
    images = _form_int(form, "image_count")
    if images is not None and (not isinstance(images, int) or images > 30):
        problems.append("画像枚数は0〜30で入力してください。")
    category = _form_int(form, "category_id")
    if problems:
        raise _back("/ui/pending", err=" ".join(problems))
    item = {
        "title": title,
        "management_number": mn,
        "description": "".join(
            f"<p>{line}</p>"
            for line in str(form.get("description") or "").splitlines()
            if line.strip()
        )
        or "<p>動作確認済みです。</p>",
        "image_count": 3 if images is None else images,
        "mall_attributes": {
            "category_id": category if isinstance(category, int) else 2084261685,
            "condition": form.get("condition") or p.CONDITIONS[2],
            "start_price": start,
            "buyout_price": buyout,
            "sales_channel": channel,
        },
    }
    try:
        created = create_listings_from(world, [item])
    except p.Invalid as exc:
        message = " ".join(m for ms in exc.detail.values() for m in ms)
        raise _back("/ui/pending", err=message) from exc
    world.changed()
    raise _back(
        "/ui/listings", msg=f"{mn} を出品しました（ID {created[0]['id']}）。", tab="WAITING"
    )


@aiohttp_jinja2.template("listings.html")
async def listings_page(request: web.Request) -> dict[str, Any]:
    world = request.app[WORLD_KEY]
    tab = request.query.get("tab", "WAITING")
    if tab not in LISTING_TABS:
        tab = "WAITING"
    counts = dict.fromkeys(LISTING_TABS, 0)
    for x in world.listings.values():
        counts[x["status"]] += 1
    rows = sorted(
        (x for x in world.listings.values() if x["status"] == tab), key=lambda x: -x["id"]
    )
    return {
        **_common(request, "listings"),
        "tab": tab,
        "tabs": [(t, p.INVENTORY_STATUS_LABELS[t], counts[t]) for t in LISTING_TABS],
        "labels": p.INVENTORY_STATUS_LABELS,
        "rows": rows[:PAGE_ROWS],
        "total": len(rows),
        "page_rows": PAGE_ROWS,
    }


async def listing_sell_in_store(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    raw = request.match_info["listing_id"]
    tab = request.query.get("tab", "DONE")
    try:
        world.sell_in_store(int(raw) if raw.isdigit() else -1)
    except WorldError as exc:
        raise _back("/ui/listings", err=exc.message, tab=tab) from exc
    world.changed()
    raise _back(
        "/ui/listings", msg=f"出品 {raw} を店頭で販売しました（DELETE_INVENTORY を発行）。", tab=tab
    )


@aiohttp_jinja2.template("orders.html")
async def orders_page(request: web.Request) -> dict[str, Any]:
    world = request.app[WORLD_KEY]
    tab = request.query.get("tab", "ORDERED")
    if tab not in ORDER_TABS:
        tab = "ORDERED"
    counts = dict.fromkeys(ORDER_TABS, 0)
    for o in world.orders.values():
        counts[o["status"]] += 1
    rows = sorted((o for o in world.orders.values() if o["status"] == tab), key=lambda o: -o["id"])
    return {
        **_common(request, "orders"),
        "tab": tab,
        "tabs": [(t, p.ORDER_STATUS_LABELS[t], counts[t]) for t in ORDER_TABS],
        "rows": rows[:PAGE_ROWS],
        "total": len(rows),
        "page_rows": PAGE_ROWS,
        "carriers": p.CARRIERS,
    }


async def order_ship(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    raw = request.match_info["order_id"]
    tab = request.query.get("tab", "UNSHIPPED")
    form = await request.post()
    try:
        tracking, carrier = ship_args(
            (form.get("tracking_number") or "").strip(), form.get("carrier")
        )
        world.ship_order(int(raw) if raw.isdigit() else -1, tracking, carrier)
    except p.Invalid as exc:
        message = " ".join(m for ms in exc.detail.values() for m in ms)
        raise _back("/ui/orders", err=message, tab=tab) from exc
    except WorldError as exc:
        raise _back("/ui/orders", err=exc.message, tab=tab) from exc
    world.changed()
    raise _back(
        "/ui/orders", msg=f"受注 {raw} を出荷しました（SHIP_ORDER を発行）。", tab="SHIPPED"
    )


async def order_cancel(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    raw = request.match_info["order_id"]
    tab = request.query.get("tab", "ORDERED")
    try:
        world.cancel_order(int(raw) if raw.isdigit() else -1)
    except WorldError as exc:
        raise _back("/ui/orders", err=exc.message, tab=tab) from exc
    world.changed()
    raise _back(
        "/ui/orders",
        msg=f"受注 {raw} をキャンセルしました（CANCEL_ORDER を発行）。",
        tab="CANCELED",
    )


@aiohttp_jinja2.template("tasks.html")
async def tasks_page(request: web.Request) -> dict[str, Any]:
    world = request.app[WORLD_KEY]
    rows = sorted(world.tasks.values(), key=lambda t: -t["_seq"])
    return {
        **_common(request, "tasks"),
        "rows": rows[:PAGE_ROWS],
        "total": len(rows),
        "page_rows": PAGE_ROWS,
    }


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", index)
    r.add_get("/ui/pending", pending_page)
    r.add_post("/ui/pending/{pending_id}/list", pending_list)
    r.add_post("/ui/listings/new", new_listing)
    r.add_get("/ui/listings", listings_page)
    r.add_post("/ui/listings/{listing_id}/sell-in-store", listing_sell_in_store)
    r.add_get("/ui/orders", orders_page)
    r.add_post("/ui/orders/{order_id}/ship", order_ship)
    r.add_post("/ui/orders/{order_id}/cancel", order_cancel)
    r.add_get("/ui/tasks", tasks_page)
