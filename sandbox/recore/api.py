"""The co-api protocol: EC gateway (tasks, reports, order upsert), inventories, orders, photos."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import protocol as p
from .auth import BadKey, KeyClaims, RateLimiter, verify_jwt
from .keys import FAULTS_KEY, IMAGES_KEY, INVENTORY_FORM_KEY, LIMITER_KEY, WORLD_KEY
from .world import World, int_or_none, parse_jst

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answer in the co-api envelope (raised by handlers, rendered by the middleware)."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        detail: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code or p.STATUS_CODES.get(status, "ERROR")
        self.message = message
        self.detail = detail
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.json_response(
            p.error_body(self.code, self.message, self.detail),
            status=self.status,
            headers=self.headers,
            dumps=_dumps,
        )


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def endpoint_name(request: web.Request) -> str:
    """`GET /ec/gateway/tasks/{task_id}/succeeded`: the rate limit is per endpoint, not per URL."""
    route = request.match_info.route
    canonical = route.resource.canonical if route.resource is not None else request.path
    return f"{request.method} {canonical}"


def guard(request: web.Request, scope: str) -> KeyClaims:
    """Authenticate (401), authorise the scope (403), check X-Store-Id, then rate-limit (429)."""
    world = request.app[WORLD_KEY]
    try:
        claims = verify_jwt(request.headers.get("X-Identification"), world.company_id)
    except BadKey as exc:
        log.info("recore sandbox: 401 on %s: %s", request.path, exc)
        raise ApiError(401) from exc
    if scope not in claims.scopes:
        raise ApiError(
            403,
            message=f"このAPIキーにはスコープ「{scope}」がありません。",
            detail={"scope": [f"{scope} が必要です。"]},
        )
    raw_store = request.headers.get("X-Store-Id")
    if raw_store is not None:
        if not raw_store.strip().isdigit():
            raise ApiError(400, detail={"X-Store-Id": ["X-Store-Id is not a number"]})
        store_id = int(raw_store)
        if claims.store_id is not None and store_id != claims.store_id:
            raise ApiError(403, message="このAPIキーでは指定された店舗を操作できません。")
        if store_id not in world.stores:
            raise ApiError(400, detail={"X-Store-Id": ["X-Store-Id not found"]})
    limiter: RateLimiter = request.app[LIMITER_KEY]
    wait = limiter.check((claims.fingerprint, request.remote or "", endpoint_name(request)))
    if wait is not None:
        raise ApiError(429, headers={"Retry-After": RateLimiter.retry_after_header(wait)})
    return claims


# ---- input parsing ---------------------------------------------------------------------------
async def json_object(request: web.Request, *, allow_empty: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        if allow_empty:
            return {}
        raise p.Invalid({"body": ["Body can't be blank"]})
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise p.Invalid({"body": ["Body is not valid JSON"]}) from exc
    if not isinstance(data, dict):
        raise p.Invalid({"body": ["Body must be a JSON object"]})
    return data


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def int_param(
    query: Any,
    name: str,
    d: p.Detail,
    *,
    required: bool = False,
    lo: int | None = None,
    hi: int | None = None,
    default: int | None = None,
) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        if required:
            d.en(name, "can't be blank")
        return default
    try:
        value = int(raw)
    except ValueError:
        d.en(name, "is not a number")
        return default
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        d.en(name, f"must be in {lo if lo is not None else ''}..{hi if hi is not None else ''}")
        return default
    return value


def list_param(query: Any, name: str) -> list[str] | None:
    """`ids=1,2`, `ids=1&ids=2` and `ids[]=1` are all accepted (the real form is not known)."""
    values = query.getall(name, []) + query.getall(f"{name}[]", [])
    if not values:
        return None
    return [part.strip() for v in values for part in v.split(",") if part.strip()]


def int_list_param(query: Any, name: str, d: p.Detail) -> list[int] | None:
    values = list_param(query, name)
    if values is None:
        return None
    try:
        return [int(v) for v in values]
    except ValueError:
        d.en(name, "must be comma separated integers")
        return None


def enum_list_param(query: Any, name: str, allowed: Sequence[str], d: p.Detail) -> list[str] | None:
    values = list_param(query, name)
    if values is None:
        return None
    bad = [v for v in values if v not in allowed]
    if bad:
        d.en(name, f"is not included in the list ({', '.join(allowed)}): {', '.join(bad)}")
        return None
    return values


def range_filters(
    query: Any, fields: Sequence[str], d: p.Detail
) -> list[tuple[str, int | None, int | None]]:
    """`created_at_from` / `created_at_to` as `2024-04-12 12:08:38` (JST), both ends inclusive."""
    ranges = []
    for field in fields:
        bounds: list[int | None] = []
        for suffix in ("from", "to"):
            name = f"{field}_{suffix}"
            raw = query.get(name)
            if not raw:
                bounds.append(None)
                continue
            try:
                bounds.append(parse_jst(raw))
            except ValueError:
                d.en(name, "must be formatted as YYYY-MM-DD HH:MM:SS")
                bounds.append(None)
        if bounds[0] is not None or bounds[1] is not None:
            ranges.append((field, bounds[0], bounds[1]))
    return ranges


def in_ranges(obj: dict[str, Any], ranges: list[tuple[str, int | None, int | None]]) -> bool:
    for field, lo, hi in ranges:
        value = obj.get(field)
        if value is None or (lo is not None and value < lo) or (hi is not None and value > hi):
            return False
    return True


@dataclass
class Paging:
    limit: int
    page: int
    after: int | None  # cursor mode: items whose key is greater than this

    def apply(
        self, items: list[dict[str, Any]], key: Callable[[dict[str, Any]], int]
    ) -> tuple[list[dict[str, Any]], str]:
        """One page of `items` (sorted by key) and the cursor for the next one ("" when done)."""
        items = sorted(items, key=key)
        if self.after is not None:
            items = [x for x in items if key(x) > self.after]
            page, rest = items[: self.limit], items[self.limit :]
        else:
            start = (self.page - 1) * self.limit
            page, rest = items[start : start + self.limit], items[start + self.limit :]
        return page, encode_cursor(key(page[-1])) if page and rest else ""


def encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def paging_params(query: Any, d: p.Detail) -> Paging:
    limit = int_param(query, "limit", d, lo=1, hi=p.PAGE_LIMIT_MAX, default=p.PAGE_LIMIT_DEFAULT)
    page = int_param(query, "page", d, lo=1, default=1)
    after = None
    cursor = query.get("cursor")
    if cursor:
        try:
            data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            after = data["after"]
            if not is_int(after):
                raise ValueError("after")
        except (ValueError, KeyError, TypeError, binascii.Error):
            d.en("cursor", "is invalid")
    return Paging(limit=limit or p.PAGE_LIMIT_DEFAULT, page=page or 1, after=after)


def list_response(items: list[dict[str, Any]], next_cursor: str) -> web.Response:
    # The header is always sent; empty means there is no next page.
    return web.json_response(items, headers={"X-Next-Cursor": next_cursor}, dumps=_dumps)


# ---- serialisers (protocol bodies) ------------------------------------------------------------
def task_json(task: dict[str, Any]) -> dict[str, Any]:
    return {k: task[k] for k in ("id", "mall_id", "type", "ec_account_id", "data", "issued_at")}


def image_url(base: str, image_id: int) -> str:
    return f"{base}/images/{image_id}.jpg"


def inventory_json(
    world: World, listing: dict[str, Any], base: str, *, detail: bool = False, form: str = "spec"
) -> dict[str, Any]:
    """The listing object. `GET /ec/inventories/{id}` adds, in the `rich` form only, what the
    spec does not show: description, image_urls and mall_attributes (the Yahoo fields)."""
    urls = [image_url(base, i) for i in listing["image_ids"]]
    first = urls[0] if urls else None
    obj: dict[str, Any] = {
        "id": listing["id"],
        "ec_account": {"id": listing["ec_account_id"], "mall_id": p.MALL_ID},
        "mall_product_code": listing["mall_product_code"],
        "mall_url": listing["mall_url"],
        "status": listing["status"],
        "title": listing["title"],
        "image_url": first,
        "created_at": listing["created_at"],
        "updated_at": listing["updated_at"],
        "done_at": listing["done_at"],
        "variants": [
            {
                "id": v["id"],
                "mall_item_code": v["mall_item_code"],
                "price": v["price"],
                "quantity": v["quantity"],
                "title": v["title"],
                "image_url": first,
                "allocations": [dict(a) for a in v["allocations"]],
            }
            for v in listing["variants"]
        ],
    }
    if detail and form == "rich":
        obj["description"] = listing["description"]
        obj["image_urls"] = urls
        obj["mall_attributes"] = json.loads(json.dumps(listing["mall_attributes"]))
    return obj


ORDER_KEYS = (
    ("mall_url", "status", "sub_status", "ordered_at", "shipped_at", "payment_total")
    + ("payment_method", "buyer_name", "buyer_name_kana", "buyer_email", "shipping_postal_code")
    + ("shipping_country_code", "shipping_state_or_region", "shipping_city")
    + ("shipping_address1", "shipping_address2", "shipping_address3", "shipping_phone")
    + ("shipping_name", "earliest_delivery_at", "latest_delivery_at", "note", "comment")
    + ("created_at", "updated_at")
)


def order_json(order: dict[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": order["id"],
        "ec_account": {"id": order["ec_account_id"], "mall_id": p.MALL_ID},
        "mall_order_id": order["mall_order_id"],
    }
    for key in ORDER_KEYS:
        obj[key] = order.get(key)
    obj["goods"] = [dict(g) for g in order["goods"]]
    return obj


# ---- handlers ----------------------------------------------------------------------------------
def _account_param(query: Any, world: World, d: p.Detail, *, required: bool) -> int | None:
    account = int_param(query, "ec_account_id", d, required=required)
    if account is not None and account != world.ec_account_id:
        d.en("ec_account_id", "not found")
    return account


async def tasks_index(request: web.Request) -> web.Response:
    """Seen: `ec_account_id` (required) and `type`, nothing else; the answer is every open
    task. The `task_page_size` switch (`/_sandbox/faults`) makes it answer in pages joined by
    `X-Next-Cursor` (then `cursor` is accepted too), for a ReCORE that turns out to page."""
    guard(request, p.SCOPE_TASK_INDEX)
    world = request.app[WORLD_KEY]
    page_size = request.app[FAULTS_KEY].task_page_size
    q, d = request.query, p.Detail()
    accepted = p.TASK_QUERY_PARAMS | ({"cursor"} if page_size else set())
    for name in sorted(set(q) - accepted):
        d.en(name, "is not a permitted parameter")
    account = _account_param(q, world, d, required=True)
    task_type = q.get("type") or None
    if task_type is not None and not p.TASK_TYPE_RE.match(task_type):
        d.en("type", "is invalid")
    paging = paging_params(q, d) if page_size else None
    d.raise_if_any()
    assert account is not None  # noqa: S101 - raise_if_any() guarantees it
    tasks = world.open_tasks(account, task_type)
    headers: dict[str, str] = {}
    if paging is not None:
        paging.limit = page_size
        tasks, headers["X-Next-Cursor"] = paging.apply(tasks, key=lambda t: t["_seq"])
    if world.mark_delivered(tasks):
        world.changed()
    return web.json_response([task_json(t) for t in tasks], headers=headers, dumps=_dumps)


def _validate_success(
    world: World, task: dict[str, Any], body: dict[str, Any], d: p.Detail
) -> None:
    if task["type"] not in p.INVENTORY_TASK_TYPES or task["type"] == "DELETE_INVENTORY":
        return  # order tasks and unknown types: `{}` expected, anything else is ignored
    required = task["type"] == "CREATE_INVENTORY"
    code = body.get("mall_product_code")
    if code is None:
        if required:
            d.en("mall_product_code", "can't be blank")
    elif not isinstance(code, str) or not code.strip() or len(code) > 64:
        d.en("mall_product_code", "is too long (maximum is 64 characters)")
    url = body.get("mall_url")
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 2048
    ):
        d.en("mall_url", "is not a valid URL")
    variants = body.get("variants")
    if variants is None:
        return
    if not isinstance(variants, list):
        d.en("variants", "must be an array")
        return
    listing = world.listings.get(int_or_none(task["data"].get("ec_inventory_id")) or 0)
    known = {v["id"] for v in listing["variants"]} if listing else set()
    for n, v in enumerate(variants):
        if not isinstance(v, dict):
            d.en(f"variants.{n}", "must be an object")
            continue
        if not is_int(v.get("id")):
            d.en(f"variants.{n}.id", "is not a number")
        elif v["id"] not in known:
            d.en(f"variants.{n}.id", "is not a variant of this inventory")
        mic = v.get("mall_item_code")
        if not isinstance(mic, str) or not mic.strip() or len(mic) > 64:
            d.en(f"variants.{n}.mall_item_code", "is too long (maximum is 64 characters)")


def _validate_failure(body: dict[str, Any], d: p.Detail) -> None:
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        d.en("message", "can't be blank")
    elif len(message) > 2000:
        d.en("message", "is too long (maximum is 2000 characters)")
    if body.get("detail") is not None and not isinstance(body["detail"], dict):
        d.en("detail", "must be an object")


async def task_report(request: web.Request) -> web.Response:
    guard(request, p.SCOPE_TASK_UPDATE)
    world = request.app[WORLD_KEY]
    outcome = request.match_info["outcome"]
    task = world.tasks.get(request.match_info["task_id"])
    if task is None:
        raise ApiError(404, message="指定されたタスクが見つかりません。")
    body = await json_object(request, allow_empty=True)
    d = p.Detail()
    if outcome == "succeeded":
        _validate_success(world, task, body, d)
    else:
        _validate_failure(body, d)
    d.raise_if_any()
    applied = world.report(task, outcome, body)
    world.changed()
    if not applied:
        log.info("recore sandbox: task %s reported again (%s); ignored", task["id"], outcome)
    return web.json_response(task_json(task), dumps=_dumps)


def _validate_order(world: World, body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    d = p.Detail()
    fields: dict[str, Any] = {}
    account = body.get("ec_account_id")
    if account is None:
        d.en("ec_account_id", "can't be blank")
    elif not is_int(account):
        d.en("ec_account_id", "is not a number")
    elif account != world.ec_account_id:
        d.en("ec_account_id", "not found")
    fields["ec_account_id"] = account
    moid = body.get("mall_order_id")
    if moid is None or moid == "":
        d.en("mall_order_id", "can't be blank")
    elif not isinstance(moid, str) or len(moid) > 64:
        d.en("mall_order_id", "is too long (maximum is 64 characters)")
    fields["mall_order_id"] = moid
    status = body.get("status")
    if status is None:
        d.en("status", "can't be blank")
    elif status not in p.ORDER_STATUSES:
        d.en("status", f"is not included in the list ({', '.join(p.ORDER_STATUSES)})")
    fields["status"] = status
    for key in p.ORDER_STRING_FIELDS:
        if key in body:
            if body[key] is not None and (not isinstance(body[key], str) or len(body[key]) > 2000):
                d.en(key, "must be a string of at most 2000 characters or null")
            fields[key] = body[key]
    for key in p.ORDER_TIME_FIELDS + p.ORDER_INT_FIELDS:
        if key in body:
            if body[key] is not None and (not is_int(body[key]) or body[key] < 0):
                what = "Unix seconds" if key.endswith("_at") else "an integer of at least 0"
                d.en(key, f"must be {what} or null")
            fields[key] = body[key]
    if "goods" in body:
        goods = body["goods"]
        if not isinstance(goods, list):
            d.en("goods", "must be an array")
        else:
            for n, good in enumerate(goods):
                _validate_good(n, good, d)
            fields["goods"] = goods
    d.raise_if_any()
    known = {"ec_account_id", "mall_order_id", "status", "goods"}
    known |= set(p.ORDER_STRING_FIELDS + p.ORDER_TIME_FIELDS + p.ORDER_INT_FIELDS)
    return fields, sorted(k for k in body if k not in known)


def _validate_good(n: int, good: Any, d: p.Detail) -> None:
    if not isinstance(good, dict):
        d.en(f"goods.{n}", "must be an object")
        return
    code = good.get("mall_item_code")
    if not isinstance(code, str) or not code.strip():
        d.en(f"goods.{n}.mall_item_code", "can't be blank")
    if not is_int(good.get("unit_price")) or good["unit_price"] < 0:
        d.en(f"goods.{n}.unit_price", "must be an integer greater than or equal to 0")
    for key in p.GOODS_INT_FIELDS:
        if key != "unit_price" and good.get(key) is not None and not is_int(good[key]):
            d.en(f"goods.{n}.{key}", "must be an integer or null")
    if good.get("quantity") is not None and is_int(good["quantity"]) and good["quantity"] < 1:
        d.en(f"goods.{n}.quantity", "must be greater than or equal to 1")
    for key in ("mall_item_id", "tax_rate_type"):
        if good.get(key) is not None and not isinstance(good[key], str):
            d.en(f"goods.{n}.{key}", "must be a string or null")


async def order_upsert(request: web.Request) -> web.Response:
    guard(request, p.SCOPE_ORDER_UPSERT)
    world = request.app[WORLD_KEY]
    body = await json_object(request)
    fields, ignored = _validate_order(world, body)
    order = world.upsert_order(fields, ignored)
    world.changed()
    return web.json_response(order_json(order), dumps=_dumps)


async def inventories_index(request: web.Request) -> web.Response:
    guard(request, p.SCOPE_INVENTORY_INDEX)
    world = request.app[WORLD_KEY]
    q, d = request.query, p.Detail()
    ids = int_list_param(q, "ids", d)
    item_ids = int_list_param(q, "item_ids", d)
    statuses = enum_list_param(q, "statuses", p.INVENTORY_STATUSES, d)
    account = _account_param(q, world, d, required=False)
    ranges = range_filters(q, ("created_at", "updated_at", "done_at"), d)
    paging = paging_params(q, d)
    d.raise_if_any()
    found = [
        x
        for x in world.listings.values()
        if (ids is None or x["id"] in ids)
        and (
            item_ids is None
            or any(a["item_id"] in item_ids for v in x["variants"] for a in v["allocations"])
        )
        and (statuses is None or x["status"] in statuses)
        and (account is None or x["ec_account_id"] == account)
        and in_ranges(x, ranges)
    ]
    page, next_cursor = paging.apply(found, key=lambda x: x["id"])
    base = str(request.url.origin())
    return list_response([inventory_json(world, x, base) for x in page], next_cursor)


async def inventory_show(request: web.Request) -> web.Response:
    guard(request, p.SCOPE_INVENTORY_INDEX)
    world = request.app[WORLD_KEY]
    raw = request.match_info["inventory_id"]
    listing = world.listings.get(int(raw)) if raw.isdigit() else None
    if listing is None:
        raise ApiError(404, message="指定された出品が見つかりません。")
    base = str(request.url.origin())
    form = request.app[INVENTORY_FORM_KEY].form
    return web.json_response(
        inventory_json(world, listing, base, detail=True, form=form), dumps=_dumps
    )


async def orders_index(request: web.Request) -> web.Response:
    guard(request, p.SCOPE_ORDER_INDEX)
    world = request.app[WORLD_KEY]
    q, d = request.query, p.Detail()
    for name in sorted(set(q) - p.ORDER_QUERY_PARAMS):
        d.en(name, "is not a permitted parameter")
    ids = int_list_param(q, "ids", d)
    item_ids = int_list_param(q, "item_ids", d)
    statuses = enum_list_param(q, "statuses", p.ORDER_STATUSES, d)
    sub_statuses = list_param(q, "sub_statuses")
    account = _account_param(q, world, d, required=False)
    ranges = range_filters(q, ("created_at", "updated_at"), d)
    paging = paging_params(q, d)
    d.raise_if_any()
    found = [
        o
        for o in world.orders.values()
        if (ids is None or o["id"] in ids)
        and (item_ids is None or any(g.get("item_id") in item_ids for g in o["goods"]))
        and (statuses is None or o["status"] in statuses)
        and (sub_statuses is None or o.get("sub_status") in sub_statuses)
        and (account is None or o["ec_account_id"] == account)
        and in_ranges(o, ranges)
    ]
    page, next_cursor = paging.apply(found, key=lambda o: o["id"])
    return list_response([order_json(o) for o in page], next_cursor)


def item_json(world: World, item: dict[str, Any], base: str) -> dict[str, Any]:
    """`GET /items` object (seen fields; racks, stocks and attributes kept minimal)."""
    grade = item["grade_id"]
    store = item["store_id"]
    return {
        "id": item["id"],
        "code": item["code"],
        "is_tracked": True,
        "alias_code": None,
        "store": {"id": store, "name": world.stores.get(store, "")},
        "price": item["price"],
        "grade": None if grade is None else {"id": grade, "name": world.grades.get(grade, "")},
        "condition_note": item["condition_note"],
        "condition_tags": [],
        "note": None,
        "stocks": [
            {
                "location": {"id": world.location_id, "type": "DEFAULT", "name": "デフォルト"},
                "status": "PENDING",
                "quantity": 1,
                "cost_price": None,
            }
        ],
        "attribute": {},
        "image_urls": [image_url(base, i) for i in item["image_ids"]],
        "racks": [],
        "product_id": item["product_id"],
        "created_at": item["created_at"],
        "updated_at": item["updated_at"],
    }


def product_json(world: World, product: dict[str, Any]) -> dict[str, Any]:
    """`GET /products` object: the catalogue entry with the shop's category and its ancestors."""
    category_id = product["category_id"]
    category = world.categories.get(category_id) if category_id is not None else None
    return {
        "id": product["id"],
        "code": product["code"],
        "alias_code": None,
        "status": "ACTIVE",
        "title": product["title"],
        "attribute": {},
        "image_urls": [],
        "category": None
        if category is None
        else {
            "id": category["id"],
            "name": category["name"],
            "ancestors": [
                {"id": a["id"], "name": a["name"]} for a in world.category_ancestors(category["id"])
            ],
        },
        "created_at": product["created_at"],
        "updated_at": product["updated_at"],
    }


async def items_index(request: web.Request) -> web.Response:
    """Seen: `GET /items` (在庫検索), scope `item:index`, filters `ids`, `codes`, paging."""
    guard(request, p.SCOPE_ITEM_INDEX)
    world = request.app[WORLD_KEY]
    q, d = request.query, p.Detail()
    ids = int_list_param(q, "ids", d)
    codes = list_param(q, "codes")
    paging = paging_params(q, d)
    d.raise_if_any()
    found = [
        x
        for x in world.items.values()
        if (ids is None or x["id"] in ids) and (codes is None or x["code"] in codes)
    ]
    page, next_cursor = paging.apply(found, key=lambda x: x["id"])
    base = str(request.url.origin())
    return list_response([item_json(world, x, base) for x in page], next_cursor)


async def products_index(request: web.Request) -> web.Response:
    """Seen: `GET /products` (カタログ検索), scope `product:index`, filter `ids`, paging."""
    guard(request, p.SCOPE_PRODUCT_INDEX)
    world = request.app[WORLD_KEY]
    q, d = request.query, p.Detail()
    ids = int_list_param(q, "ids", d)
    paging = paging_params(q, d)
    d.raise_if_any()
    found = [x for x in world.products.values() if ids is None or x["id"] in ids]
    page, next_cursor = paging.apply(found, key=lambda x: x["id"])
    return list_response([product_json(world, x) for x in page], next_cursor)


async def image(request: web.Request) -> web.Response:
    """Product photos: public URLs, like a CDN (no key needed)."""
    world = request.app[WORLD_KEY]
    raw = request.match_info["image_id"]
    spec = world.image_spec(int(raw)) if raw.isdigit() else None
    if spec is None:
        raise web.HTTPNotFound(text="no such image")
    loop = asyncio.get_running_loop()
    data = await loop.run_in_executor(None, request.app[IMAGES_KEY].get, spec)  # CPU: off the loop
    return web.Response(
        body=data, content_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"}
    )


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/ec/gateway/tasks", tasks_index)
    r.add_post("/ec/gateway/tasks/{task_id}/{outcome:succeeded|failed}", task_report)
    r.add_post("/ec/gateway/order/upsert", order_upsert)
    r.add_get("/ec/inventories", inventories_index)
    r.add_get("/ec/inventories/{inventory_id}", inventory_show)
    r.add_get("/ec/orders", orders_index)
    r.add_get("/items", items_index)
    r.add_get("/products", products_index)
    r.add_get("/images/{image_id}.jpg", image)
