"""`/_sandbox/` JSON controls: inspect the world, act as shop staff, switch faults on and off.

No key needed (a sandbox on 127.0.0.1). Errors use the same envelope as the protocol.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from . import protocol as p
from .api import ApiError, _dumps, is_int, json_object, order_json, task_json
from .keys import (
    COUNTERS_KEY,
    DEMO_KEY_KEY,
    FAULTS_KEY,
    INVENTORY_FORM_KEY,
    LIMITER_KEY,
    WORLD_KEY,
)
from .seed import item_fields, mall_attributes, populate, populate_catalogue, seed_more
from .world import World


def _ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def listing_summary(listing: dict[str, Any], world: World | None = None) -> dict[str, Any]:
    attrs = listing["mall_attributes"]
    code = world.item_code(listing) if world is not None else None
    return {
        "id": listing["id"],
        "management_number": attrs.get("management_number") or code,
        "item_code": code,
        "title": listing["title"],
        "status": listing["status"],
        "status_label": p.INVENTORY_STATUS_LABELS[listing["status"]],
        "mall_product_code": listing["mall_product_code"],
        "mall_url": listing["mall_url"],
        "variant_ids": [v["id"] for v in listing["variants"]],
        "mall_item_codes": [v["mall_item_code"] for v in listing["variants"]],
        "image_ids": listing["image_ids"],
        "sales_channel": attrs.get("sales_channel"),
        "error_message": listing["_error_message"],
        "error_detail": listing["_error_detail"],
        "ended_reason": listing["_ended_reason"],
        "updated_at": listing["updated_at"],
    }


def task_state(task: dict[str, Any]) -> dict[str, Any]:
    return {
        **task_json(task),
        "delivered_count": task["_delivered_count"],
        "outcome": task["_outcome"],
        "reported_at": task["_reported_at"],
        "report_count": len(task["_reports"]),
        "reports": task["_reports"],
    }


def order_state(order: dict[str, Any]) -> dict[str, Any]:
    return {
        **order_json(order),
        "status_label": p.ORDER_STATUS_LABELS.get(order["status"], order["status"]),
        "upsert_count": order["_upsert_count"],
        "status_history": order["_status_history"],
        "ignored_fields": order["_ignored_fields"],
        "tracking_number": order["_tracking_number"],
        "carrier": order["_carrier"],
        "mall_sync": order["_mall_sync"],
    }


async def state(request: web.Request) -> web.Response:
    app = request.app
    world = app[WORLD_KEY]
    return _ok(
        {
            "company_id": world.company_id,
            "ec_account_id": world.ec_account_id,
            "store_id": None,
            "now": world.now(),
            "api_key": app[DEMO_KEY_KEY],
            "inventory_form": app[INVENTORY_FORM_KEY].form,
            "listings": [listing_summary(x, world) for x in world.listings.values()],
            "pending": [
                {
                    "id": x["id"],
                    "management_number": x["mall_attributes"].get("management_number"),
                    "title": x["title"],
                }
                for x in world.pending.values()
            ],
            "tasks": [task_state(t) for t in world.tasks.values()],
            "orders": [order_state(o) for o in world.orders.values()],
            "items": list(world.items.values()),
            "categories": list(world.categories.values()),
            "grades": world.grades,
            "faults": app[FAULTS_KEY].to_json(),
            "requests": {
                "by_status": app[COUNTERS_KEY].by_status,
                "by_endpoint": app[COUNTERS_KEY].by_endpoint,
            },
        }
    )


def _opt_str(body: dict[str, Any], key: str, d: p.Detail, *, max_len: int = 5000) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > max_len):
        d.add(key, f"{max_len}文字以内の文字列で指定してください。")
        return None
    return value


def _opt_int(body: dict[str, Any], key: str, d: p.Detail, lo: int, hi: int) -> int | None:
    value = body.get(key)
    if value is not None and (not is_int(value) or not lo <= value <= hi):
        d.add(key, f"{lo}〜{hi}の整数で指定してください。")
        return None
    return value


# What a listing's stock may set (`{"item": {...}}` in `POST /_sandbox/listings`): its grade
# name, condition note, the shop's category id and its code.
ITEM_FIELDS = frozenset({"grade", "condition_note", "category_id", "code"})


def create_listings_from(world: World, items: list[Any]) -> list[dict[str, Any]]:
    """Validate every item first (so a bad one creates nothing), then create them all."""
    d = p.Detail()
    prepared = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            d.add(f"items.{n}", "オブジェクトで指定してください。")
            continue
        sub = p.Detail()
        title = _opt_str(item, "title", sub, max_len=500)
        description = _opt_str(item, "description", sub, max_len=50000)
        mn = _opt_str(item, "management_number", sub, max_len=100)
        count = _opt_int(item, "image_count", sub, 0, 30)
        kb = _opt_int(item, "image_kb", sub, 1, 10000)
        corrupt = item.get("corrupt_images", [])
        if not isinstance(corrupt, list) or not all(is_int(i) for i in corrupt):
            sub.add("corrupt_images", "画像番号（0始まり）の配列で指定してください。")
        overrides = item.get("mall_attributes", {})
        if not isinstance(overrides, dict):
            sub.add("mall_attributes", "オブジェクトで指定してください。")
        stock = item.get("item", {})
        if not isinstance(stock, dict) or set(stock) - ITEM_FIELDS:
            sub.add("item", f"{'・'.join(sorted(ITEM_FIELDS))} のオブジェクトで指定してください。")
            stock = {}
        for key, messages in sub.fields.items():
            for m in messages:
                d.add(f"items.{n}.{key}", m)
        if sub.fields:
            continue
        mn = mn or f"SB-{world.counters.get('listing', 5000) + len(prepared) + 1:06d}"
        attrs = mall_attributes(mn, 2084261685, "目立った傷や汚れなし", 1000, 0)
        attrs.update(overrides)
        attrs["management_number"] = attrs.get("management_number") or mn
        prepared.append(
            {
                "item": item_fields(attrs) | {"code": attrs["management_number"]} | stock,
                "title": title if title is not None else f"サンドボックス商品 {mn}",
                "description": description
                if description is not None
                else "<p>テスト用の商品です。</p>",
                "mall_attributes": attrs,
                "image_count": 3 if count is None else count,
                "image_kb": kb or 40,
                "corrupt": corrupt if isinstance(corrupt, list) else [],
            }
        )
    d.raise_if_any()
    created = []
    for x in prepared:
        label = str(x["mall_attributes"]["management_number"])
        created.append(
            world.create_listing(
                title=x["title"],
                description=x["description"],
                mall_attributes=x["mall_attributes"],
                image_ids=world.add_images(label, x["image_count"], x["image_kb"], x["corrupt"]),
                item=x["item"],
            )
        )
    return created


def _create_task_of(world: World, listing_id: int) -> dict[str, Any] | None:
    for task in world.tasks.values():
        if task["type"] == "CREATE_INVENTORY" and task["data"].get("ec_inventory_id") == listing_id:
            return task
    return None


async def create_listings(request: web.Request) -> web.Response:
    """`{"items": [{title, description, management_number, mall_attributes, image_count,
    image_kb, corrupt_images}]}` or `{"count": N, "images_per_item": k, "image_kb": kb}`."""
    world = request.app[WORLD_KEY]
    body = await json_object(request)
    if "count" in body:
        d = p.Detail()
        count = _opt_int(body, "count", d, 1, 100000)
        per = _opt_int(body, "images_per_item", d, 0, 30)
        kb = _opt_int(body, "image_kb", d, 1, 10000)
        d.raise_if_any()
        ids = seed_more(
            world, count or 1, images_per_item=3 if per is None else per, image_kb=kb or 40
        )
        world.changed()
        return _ok({"listing_ids": ids, "count": len(ids)}, status=201)
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise p.Invalid({"items": ["作成する出品の配列を指定してください。"]})
    created = create_listings_from(world, items)
    world.changed()
    return _ok(
        {
            "listings": [listing_summary(x, world) for x in created],
            "tasks": [task_state(t) for x in created if (t := _create_task_of(world, x["id"]))],
        },
        status=201,
    )


def _id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        raise ApiError(404)
    return int(raw)


async def list_pending(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    listing = world.list_pending_item(_id(request, "pending_id"))
    world.changed()
    return _ok(
        {
            "listing": listing_summary(listing, world),
            "task": task_state(_create_task_of(world, listing["id"]) or {}),
        },
        status=201,
    )


async def sell_in_store(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    task = world.sell_in_store(_id(request, "listing_id"))
    world.changed()
    return _ok({"task": task_state(task)}, status=201)


async def update_listing(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    body = await json_object(request)
    d = p.Detail()
    changes: dict[str, Any] = {}
    for key in ("title", "description"):
        if key in body:
            value = _opt_str(body, key, d, max_len=50000)
            if value is None and key not in d.fields:
                d.add(key, "文字列で指定してください。")
            changes[key] = value
    for key, lo, hi in (
        ("start_price", 0, 10**9),
        ("buyout_price", 0, 10**9),
        ("price", 1, 10**9),  # the variant's one price (what ReCORE's spec shows)
        ("quantity", 0, 999),
    ):
        if key in body:
            value = _opt_int(body, key, d, lo, hi)
            if value is None and key not in d.fields:
                d.add(key, f"{lo}〜{hi}の整数で指定してください。")
            changes[key] = value
    if "image_count" in body:
        changes["image_count"] = _opt_int(body, "image_count", d, 0, 30) or 0
    d.raise_if_any()
    tasks = world.update_listing(_id(request, "listing_id"), changes)
    world.changed()
    return _ok({"tasks": [task_state(t) for t in tasks]}, status=201)


def ship_args(tracking: Any, carrier: Any) -> tuple[str | None, str]:
    """Shared by the page form and the JSON control (same rules, same Japanese messages)."""
    d = p.Detail()
    if tracking is not None and tracking != "":
        if (
            not isinstance(tracking, str)
            or not tracking.replace("-", "").isalnum()
            or len(tracking) > 30
        ):
            d.add("tracking_number", "伝票番号は英数字とハイフン30文字以内で入力してください。")
    else:
        tracking = None
    if carrier not in p.CARRIERS:
        d.add("carrier", f"配送業者は {', '.join(p.CARRIERS)} のいずれかを指定してください。")
    d.raise_if_any()
    return tracking, carrier


async def ship_order(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    body = await json_object(request, allow_empty=True)
    tracking, carrier = ship_args(body.get("tracking_number"), body.get("carrier", "YAMATO"))
    task = world.ship_order(_id(request, "order_id"), tracking, carrier)
    world.changed()
    return _ok({"task": task_state(task)}, status=201)


async def cancel_order(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    body = await json_object(request, allow_empty=True)
    d = p.Detail()
    reason = _opt_str(body, "reason", d, max_len=500)
    d.raise_if_any()
    task = world.cancel_order(_id(request, "order_id"), reason)
    world.changed()
    return _ok({"task": task_state(task)}, status=201)


async def issue_task(request: web.Request) -> web.Response:
    """Issue any task, including types the connector does not know, for tests."""
    world = request.app[WORLD_KEY]
    body = await json_object(request)
    d = p.Detail()
    task_type = body.get("type")
    if not isinstance(task_type, str) or not p.TASK_TYPE_RE.match(task_type):
        d.add("type", "大文字英字・数字・_ のタスク種別を指定してください。")
    data = body.get("data", {})
    if not isinstance(data, dict):
        d.add("data", "オブジェクトで指定してください。")
    account = body.get("ec_account_id", world.ec_account_id)
    if not is_int(account):
        d.add("ec_account_id", "整数で指定してください。")
    d.raise_if_any()
    task = world.issue_task(task_type, data, ec_account_id=account)
    world.changed()
    return _ok({"task": task_state(task)}, status=201)


async def faults(request: web.Request) -> web.Response:
    """`{"down_seconds": N}`, `{"slow_ms": N}`, `{"rate_limit_storm": N}`, `{"error_5xx": N}`,
    `{"reset": true}` (combinable)."""
    f = request.app[FAULTS_KEY]
    body = await json_object(request)
    d = p.Detail()
    down = body.get("down_seconds")
    if down is not None and (
        not isinstance(down, int | float) or isinstance(down, bool) or down < 0
    ):
        d.add("down_seconds", "0以上の数値で指定してください。")
    slow = _opt_int(body, "slow_ms", d, 0, 60000)
    storm = _opt_int(body, "rate_limit_storm", d, 0, 100000)
    err = _opt_int(body, "error_5xx", d, 0, 100000)
    page_size = _opt_int(body, "task_page_size", d, 0, 10000)
    known = {"down_seconds", "slow_ms", "rate_limit_storm", "error_5xx", "task_page_size", "reset"}
    for key in body:
        if key not in known:
            d.add(key, "不明な項目です。")
    d.raise_if_any()
    if body.get("reset"):
        f.reset()
        request.app[LIMITER_KEY].reset()
    if down is not None:
        f.down_until = time.monotonic() + float(down)
    if slow is not None:
        f.slow_ms = slow
    if storm is not None:
        f.rate_limit_storm = storm
    if err is not None:
        f.error_5xx = err
    if page_size is not None:
        f.task_page_size = page_size
    return _ok({"faults": f.to_json()})


async def inventory_form(request: web.Request) -> web.Response:
    """`{"form": "spec"|"rich"}`: the form `GET /ec/inventories/{id}` answers in from now on."""
    body = await json_object(request)
    form = body.get("form")
    if form not in p.INVENTORY_FORMS:
        raise p.Invalid({"form": [f"{' か '.join(p.INVENTORY_FORMS)} を指定してください。"]})
    request.app[INVENTORY_FORM_KEY].form = form
    return _ok({"inventory_form": form})


async def clock(request: web.Request) -> web.Response:
    """`{"advance_seconds": N}`: move the sandbox's clock forward (timestamps of new events)."""
    world = request.app[WORLD_KEY]
    body = await json_object(request, allow_empty=True)
    d = p.Detail()
    step = _opt_int(body, "advance_seconds", d, 0, 10 * 365 * 86400)
    d.raise_if_any()
    world.time_offset += step or 0
    return _ok({"now": world.now(), "offset_seconds": world.time_offset})


async def reset(request: web.Request) -> web.Response:
    """Start over: `{"seed": true}` (default) refills the demo stock."""
    world = request.app[WORLD_KEY]
    body = await json_object(request, allow_empty=True)
    world.reset()
    populate_catalogue(world)
    if body.get("seed", True):
        populate(world)
    world.changed()
    request.app[FAULTS_KEY].reset()
    request.app[LIMITER_KEY].reset()
    return _ok({"listings": len(world.listings), "tasks": len(world.tasks)})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/_sandbox/state", state)
    r.add_post("/_sandbox/reset", reset)
    r.add_post("/_sandbox/listings", create_listings)
    r.add_post("/_sandbox/pending/{pending_id}/list", list_pending)
    r.add_post("/_sandbox/listings/{listing_id}/sell-in-store", sell_in_store)
    r.add_post("/_sandbox/listings/{listing_id}/update", update_listing)
    r.add_post("/_sandbox/orders/{order_id}/ship", ship_order)
    r.add_post("/_sandbox/orders/{order_id}/cancel", cancel_order)
    r.add_post("/_sandbox/tasks", issue_task)
    r.add_post("/_sandbox/faults", faults)
    r.add_post("/_sandbox/inventories", inventory_form)
    r.add_post("/_sandbox/clock", clock)


__all__ = ["add_routes", "create_listings_from", "ship_args"]
