"""The ReCORE co-api gateway client: the ONLY module that knows the co-api protocol.

Everything ReCORE-specific lives here — base URL, headers, endpoint paths, scopes, the error
envelope, cursor paging, status enums, task type names and the JSON shapes of listings, reports
and orders — so that a real-world difference is a one-file change. What is seen in ReCORE's
public spec and what is assumed is listed in `docs/recore-co-api.md`.

`RecoreClient` makes the calls. Every call waits for the token bucket of its endpoint (co-api
allows 5 requests/s per endpoint, per key and source IP) and fails with a typed error:

- `RecoreUnavailable` — network error, timeout or 5xx: worth retrying later;
- `RecoreRateLimited` (a `RecoreUnavailable`) — 429, with `retry_after` seconds; the bucket of
  the endpoint also slows down;
- `RecoreUnauthorized` — 401/403: the API key or its scope is wrong (staff must fix a setting);
- `RecoreRejected` — any other 4xx, with ReCORE's `code`, `message` and `detail`.

The pure functions (`listing_from_inventory`, `succeeded_body`, `failed_body`,
`order_upsert_body`, the status maps) never touch the network and never raise on bad input.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

import aiohttp

from companion.domain import Listing, ListingRequest, Order, OrderStatus, ShopCategory, StockItem
from companion.listing.yahoo_format import FIELD_LABELS

log = logging.getLogger(__name__)

# ---- protocol facts ------------------------------------------------------------------------
DEFAULT_BASE_URL: Final = "https://co-api.recore-pos.com"  # seen
HEADER_KEY: Final = "X-Identification"  # seen: the API key (a JWT issued by NOVASTO)
HEADER_STORE: Final = "X-Store-Id"  # seen: optional, picks the store when the key has none
HEADER_NEXT_CURSOR: Final = "X-Next-Cursor"  # seen: empty or absent means the last page
RATE_LIMIT_PER_SECOND: Final = 5.0  # seen for every list endpoint; assumed for the POSTs
# We send a little below the limit: ReCORE counts arrivals, and latency jitter bunches them.
PACED_RATE: Final = RATE_LIMIT_PER_SECOND * 0.9
PAGE_LIMIT_MAX: Final = 250  # seen
MALL_ID: Final = "GENERAL"  # seen: a 「汎用」 EC account

# Endpoints (method, path template). Paths are seen; the POST methods are assumed.
EP_TASKS: Final = ("GET", "/ec/gateway/tasks")
EP_SUCCEEDED: Final = ("POST", "/ec/gateway/tasks/{task_id}/succeeded")
EP_FAILED: Final = ("POST", "/ec/gateway/tasks/{task_id}/failed")
EP_ORDER_UPSERT: Final = ("POST", "/ec/gateway/order/upsert")
EP_INVENTORY: Final = ("GET", "/ec/inventories/{inventory_id}")
EP_INVENTORIES: Final = ("GET", "/ec/inventories")
EP_ORDERS: Final = ("GET", "/ec/orders")
EP_ITEMS: Final = ("GET", "/items")  # seen: 在庫検索
EP_PRODUCTS: Final = ("GET", "/products")  # seen: カタログ検索 (the item's category)

# Scope each endpoint needs: the first three index scopes are seen, the others assumed.
SCOPES: Final[dict[tuple[str, str], str]] = {
    EP_TASKS: "ec:gateway:task:index",
    EP_SUCCEEDED: "ec:gateway:task:update",
    EP_FAILED: "ec:gateway:task:update",
    EP_ORDER_UPSERT: "ec:gateway:order:upsert",
    EP_INVENTORY: "ec:inventory:index",
    EP_INVENTORIES: "ec:inventory:index",
    EP_ORDERS: "ec:order:index",
    EP_ITEMS: "item:index",
    EP_PRODUCTS: "product:index",
}
# Seen: the task list takes `ec_account_id` (required) and `type`, nothing else; `cursor` is
# sent only to follow an `X-Next-Cursor` a response carried.
TASK_QUERY: Final = ("ec_account_id", "type")

# Task types: CREATE_INVENTORY and one update type are seen, the rest assumed.
CREATE_INVENTORY: Final = "CREATE_INVENTORY"
UPDATE_INVENTORY: Final = "UPDATE_INVENTORY"
UPDATE_INVENTORY_PRICE: Final = "UPDATE_INVENTORY_PRICE"
UPDATE_INVENTORY_QUANTITY: Final = "UPDATE_INVENTORY_QUANTITY"
DELETE_INVENTORY: Final = "DELETE_INVENTORY"
CONFIRM_ORDER: Final = "CONFIRM_ORDER"
CONFIRM_PAYMENT: Final = "CONFIRM_PAYMENT"
SHIP_ORDER: Final = "SHIP_ORDER"
CANCEL_ORDER: Final = "CANCEL_ORDER"
RETURN_ORDER: Final = "RETURN_ORDER"
INVENTORY_TASK_TYPES: Final = (
    CREATE_INVENTORY,
    UPDATE_INVENTORY,
    UPDATE_INVENTORY_PRICE,
    UPDATE_INVENTORY_QUANTITY,
    DELETE_INVENTORY,
)
ORDER_TASK_TYPES: Final = (CONFIRM_ORDER, CONFIRM_PAYMENT, SHIP_ORDER, CANCEL_ORDER, RETURN_ORDER)
TASK_TYPES: Final = INVENTORY_TASK_TYPES + ORDER_TASK_TYPES
# Tasks whose listing must be fetched (`GET /ec/inventories/{id}`) before handling.
FETCH_INVENTORY_TYPES: Final = frozenset(
    {CREATE_INVENTORY, UPDATE_INVENTORY, UPDATE_INVENTORY_PRICE, UPDATE_INVENTORY_QUANTITY}
)

# Order status: ReCORE enum ↔ the connector's neutral OrderStatus (SHIPPED seen, others assumed).
# The spelling is data: the `order_statuses` table (companion.tables) corrects it without a
# release once a real answer shows another name.
ORDER_STATUS_TO_RECORE: Final[dict[OrderStatus, str]] = {
    OrderStatus.PENDING: "ORDERED",
    OrderStatus.UNSHIPPED: "UNSHIPPED",
    OrderStatus.SHIPPED: "SHIPPED",
    OrderStatus.CANCELED: "CANCELED",
}
ORDER_STATUS_FROM_RECORE: Final[dict[str, OrderStatus]] = {
    v: k for k, v in ORDER_STATUS_TO_RECORE.items()
}

# Outbox operation names → endpoint (the outbox stores these names, not paths).
OP_TASK_SUCCEEDED: Final = "task_succeeded"
OP_TASK_FAILED: Final = "task_failed"
OP_ORDER_UPSERT: Final = "order_upsert"

# Japanese labels for messages about ReCORE's mall_attributes (same keys as Listing fields).
_LABELS_FALLBACK: Final[dict[str, str]] = {"inventory": "出品データ", "mall_attributes": "出品設定"}


def field_label(name: str) -> str:
    """The Japanese label staff know a field by (the Yahoo CSV column), else the name itself."""
    return FIELD_LABELS.get(name) or _LABELS_FALLBACK.get(name, name)


# ---- errors ------------------------------------------------------------------------------------
class RecoreError(Exception):
    """A failed co-api call: `message` in Japanese for staff, `message_en` (str()) for logs."""

    def __init__(self, message: str, message_en: str, *, status: int | None = None) -> None:
        super().__init__(message_en)
        self.message = message
        self.message_en = message_en
        self.status = status


class RecoreUnavailable(RecoreError):
    """Network error, timeout or 5xx: try again later (not before `retry_after`, if ReCORE said)."""

    retry_after: float | None = None


class RecoreRateLimited(RecoreUnavailable):
    """429: wait `retry_after` seconds."""

    def __init__(self, retry_after: float, endpoint: str) -> None:
        super().__init__(
            f"ReCOREのリクエスト上限に達しました。{retry_after:g}秒後に再送します。",
            f"429 Too Many Requests on {endpoint}; retry after {retry_after:g}s",
            status=429,
        )
        self.retry_after = retry_after


class RecoreUnauthorized(RecoreError):
    """401/403: the API key is wrong or lacks the endpoint's scope. Staff must fix settings."""


class RecoreRejected(RecoreError):
    """Another 4xx: ReCORE refused the request as is; resending the same body will not help."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        detail: dict[str, Any],
        endpoint: str,
    ) -> None:
        super().__init__(
            _rejected_ja(message, detail),
            f"{status} {code} on {endpoint}: {_detail_en(detail) if detail else message}",
            status=status,
        )
        self.code = code
        self.recore_message = message
        self.detail = detail


def _rejected_ja(message: str, detail: Mapping[str, Any]) -> str:
    """For staff: ReCORE's (Japanese) message and the fields it named. Its per-field texts are
    English (seen), so they go to the log (`message_en`) only."""
    fields = "、".join(str(k) for k in list(detail)[:10])
    head = f"ReCOREが受け付けませんでした: {message}"
    return head + (f"（項目: {fields}）" if fields else "")


def _detail_en(detail: Mapping[str, Any]) -> str:
    parts = []
    for key, value in list(detail.items())[:10]:
        texts = value if isinstance(value, list) else [value]
        parts.append(f"{key}: {'; '.join(str(t) for t in texts[:3])}")
    return " / ".join(parts)


# ---- pacing ------------------------------------------------------------------------------------
class TokenBucket:
    """Paces one endpoint: `rate` requests/s with a burst of `capacity`; slows down after a 429.

    After a 429 the bucket waits `Retry-After`, halves its rate and climbs back by 10 % per
    success (additive back-off like TCP), so a storm does not become a retry storm.
    """

    def __init__(self, rate: float = PACED_RATE, capacity: float = 1.0) -> None:
        self.max_rate = rate
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._stamp = time.monotonic()
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()
        self.penalties = 0  # 429s seen (status and tests)

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        async with self._lock:  # FIFO: callers are served in arrival order
            while True:
                now = time.monotonic()
                if now < self._blocked_until:
                    await asyncio.sleep(self._blocked_until - now)
                    continue
                self._refill(now)
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self.rate)

    def penalise(self, retry_after: float) -> None:
        now = time.monotonic()
        self._blocked_until = max(self._blocked_until, now + retry_after)
        self._refill(now)
        self._tokens = 0.0
        self.rate = max(self.max_rate / 8, self.rate / 2)
        self.penalties += 1

    def reward(self) -> None:
        if self.rate < self.max_rate:
            self.rate = min(self.max_rate, self.rate * 1.1)


# ---- the client --------------------------------------------------------------------------------
@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


@dataclass
class RecoreClient:
    """One co-api account. The aiohttp session is the caller's (shared, closed by the caller)."""

    base_url: str
    api_key: str
    ec_account_id: int
    store_id: int | None
    session: aiohttp.ClientSession
    timeout: float = 20.0
    rate: float = PACED_RATE
    _buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict, repr=False)
    # Query parameters ReCORE refused by name (400 naming them), per endpoint: left out from
    # then on for this client (the log says which, once).
    refused_params: dict[tuple[str, str], set[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.base_url = (self.base_url or DEFAULT_BASE_URL).rstrip("/")

    def __repr__(self) -> str:  # never show the key
        return f"RecoreClient({self.base_url!r}, ec_account_id={self.ec_account_id})"

    def bucket(self, endpoint: tuple[str, str]) -> TokenBucket:
        b = self._buckets.get(endpoint)
        if b is None:
            b = self._buckets[endpoint] = TokenBucket(self.rate)
        return b

    def _headers(self) -> dict[str, str]:
        headers = {
            HEADER_KEY: self.api_key,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        if self.store_id is not None:
            headers[HEADER_STORE] = str(self.store_id)
        return headers

    async def _call(
        self,
        endpoint: tuple[str, str],
        *,
        path_args: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> tuple[Any, Mapping[str, str]]:
        method, template = endpoint
        path = template.format(**{k: _path_part(v) for k, v in (path_args or {}).items()})
        name = f"{method} {template}"
        bucket = self.bucket(endpoint)
        await bucket.acquire()
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        try:
            async with self.session.request(
                method,
                self.base_url + path,
                params={k: str(v) for k, v in (params or {}).items() if v is not None},
                data=data,
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,
            ) as resp:
                raw = await resp.read()
                status, headers = resp.status, resp.headers
        except TimeoutError as exc:
            raise RecoreUnavailable(
                "ReCOREの応答がありません（タイムアウト）。あとで再送します。",
                f"timeout after {self.timeout:g}s on {name}",
            ) from exc
        except aiohttp.ClientError as exc:
            raise RecoreUnavailable(
                "ReCOREに接続できません。ネットワークとAPIのURL設定を確認してください。あとで再送します。",
                f"network error on {name}: {type(exc).__name__}",
            ) from exc
        if 200 <= status < 300:
            bucket.reward()
            return _json_or_none(raw), headers
        error = _error_envelope(raw)
        if status == 429:
            retry_after = _retry_after(headers.get("Retry-After"))
            bucket.penalise(retry_after)
            raise RecoreRateLimited(retry_after, name)
        if status >= 500:
            exc = RecoreUnavailable(
                f"ReCOREで一時的なエラーが発生しました（HTTP {status}）。あとで再送します。",
                f"HTTP {status} {error[0]} on {name}",
                status=status,
            )
            if "Retry-After" in headers:  # e.g. 503 during maintenance
                exc.retry_after = _retry_after(headers.get("Retry-After"))
            raise exc
        if status in (401, 403):
            scope = SCOPES.get(endpoint, "")
            if status == 401:
                ja = "ReCOREのAPIキーが正しくありません。設定画面でAPIキーを確認してください。"
            else:
                ja = (
                    f"ReCOREのAPIキーに必要な権限（スコープ「{scope}」）がないか、"
                    "店舗IDが合っていません。APIキーと店舗IDの設定を確認してください。"
                )
            raise RecoreUnauthorized(ja, f"HTTP {status} {error[0]} on {name}", status=status)
        if 300 <= status < 400:
            raise RecoreUnavailable(
                "ReCORE APIのURLが正しくない可能性があります（リダイレクトされました）。",
                f"unexpected redirect {status} on {name}",
                status=status,
            )
        code, message, detail = error
        raise RecoreRejected(status, code, message, detail, name)

    async def _get(
        self, endpoint: tuple[str, str], params: Mapping[str, Any], *, required: tuple[str, ...]
    ) -> tuple[Any, Mapping[str, str]]:
        """A GET that leaves out a query parameter ReCORE refuses by name.

        Which optional parameters an endpoint takes is partly unseen: a `400` whose detail names
        a parameter we sent (other than `required` ones) is logged, the parameter is left out
        from then on, and the request is made again without it."""
        refused = self.refused_params.setdefault(endpoint, set())
        while True:
            sent = {k: v for k, v in params.items() if v is not None and k not in refused}
            try:
                return await self._call(endpoint, params=sent)
            except RecoreRejected as exc:
                named = {k for k in exc.detail if k in sent and k not in required}
                if exc.status != 400 or not named:
                    raise
                log.warning(
                    "co-api refused query parameter(s) %s on %s %s (%s); asking without them",
                    ", ".join(sorted(named)),
                    *endpoint,
                    exc.message_en,
                )
                refused |= named

    # -- gateway ---------------------------------------------------------------------------------
    async def poll_tasks(
        self, task_type: str | None = None, *, max_pages: int = 20
    ) -> list[dict[str, Any]]:
        """Every open task of the EC account, oldest first.

        Sends only what the spec lists (`ec_account_id`, `type`); a next page is asked for only
        when an answer carries `X-Next-Cursor` (none is seen on this endpoint)."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        seen: set[str] = set()
        refused = self.refused_params.setdefault(EP_TASKS, set())
        for _ in range(max_pages):
            params = {"ec_account_id": self.ec_account_id, "type": task_type, "cursor": cursor}
            data, headers = await self._get(EP_TASKS, params, required=("ec_account_id",))
            tasks = [x for x in (data if isinstance(data, list) else []) if isinstance(x, dict)]
            if task_type is not None and "type" in refused:
                tasks = [t for t in tasks if t.get("type") == task_type]  # filtered here instead
            out.extend(tasks)
            cursor = headers.get(HEADER_NEXT_CURSOR) or None
            if not cursor or cursor in seen or "cursor" in refused:
                break
            seen.add(cursor)
        return out

    async def get_inventory(self, inventory_id: int | str) -> dict[str, Any]:
        data, _ = await self._call(EP_INVENTORY, path_args={"inventory_id": inventory_id})
        if not isinstance(data, dict):
            raise RecoreUnavailable(
                "ReCOREから出品データを読み取れませんでした。あとで再試行します。",
                f"GET inventory {inventory_id}: body is not an object",
            )
        return data

    async def report_succeeded(self, task_id: str, body: Mapping[str, Any]) -> Any:
        data, _ = await self._call(EP_SUCCEEDED, path_args={"task_id": task_id}, body=dict(body))
        return data

    async def report_failed(
        self, task_id: str, message: str, detail: Mapping[str, Any] | None = None
    ) -> Any:
        return await self.report_failed_body(task_id, failed_body(message, detail))

    async def report_failed_body(self, task_id: str, body: Mapping[str, Any]) -> Any:
        data, _ = await self._call(EP_FAILED, path_args={"task_id": task_id}, body=dict(body))
        return data

    async def upsert_order(self, body: Mapping[str, Any]) -> dict[str, Any]:
        data, _ = await self._call(EP_ORDER_UPSERT, body=dict(body))
        return data if isinstance(data, dict) else {}

    async def list_orders(
        self,
        *,
        ids: list[int] | None = None,
        mall_order_ids: list[str] | None = None,
        statuses: list[OrderStatus] | None = None,
        updated_from: str | None = None,
        max_pages: int = 50,
        status_names: Mapping[OrderStatus, str] | None = None,
    ) -> list[dict[str, Any]]:
        """ReCORE's orders of this EC account (`updated_from` as `2024-04-12 12:08:38`).

        `ids` is a seen filter; `mall_order_ids` is not (the spec has none), so the answer is
        also filtered here: a ReCORE that ignores or refuses it still gives only those orders."""
        names = status_names or ORDER_STATUS_TO_RECORE
        params: dict[str, Any] = {"ec_account_id": self.ec_account_id, "limit": PAGE_LIMIT_MAX}
        if ids:
            params["ids"] = ",".join(str(i) for i in ids)
        if mall_order_ids:
            params["mall_order_ids"] = ",".join(mall_order_ids)
        if statuses:
            params["statuses"] = ",".join(names[s] for s in statuses)
        if updated_from:
            params["updated_at_from"] = updated_from
        orders = await self._list(EP_ORDERS, params, max_pages, required=("ec_account_id",))
        if mall_order_ids:
            wanted = set(mall_order_ids)
            orders = [o for o in orders if o.get("mall_order_id") in wanted]
        return orders

    async def get_order(self, ec_order_id: int) -> dict[str, Any] | None:
        """ReCORE's order by its own id (`GET /ec/orders?ids=`), or None when there is none."""
        orders = await self.list_orders(ids=[ec_order_id], max_pages=1)
        return next((o for o in orders if _int_or_none(o.get("id")) == ec_order_id), None)

    async def list_inventories(
        self, *, ids: list[int] | None = None, max_pages: int = 50
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"ec_account_id": self.ec_account_id, "limit": PAGE_LIMIT_MAX}
        if ids:
            params["ids"] = ",".join(str(i) for i in ids)
        return await self._list(EP_INVENTORIES, params, max_pages, required=("ec_account_id",))

    async def get_items(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """ReCORE's stock (`GET /items?ids=`, scope `item:index`) by item id."""
        return await self._by_id(EP_ITEMS, ids)

    async def get_products(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """ReCORE's catalogue entries (`GET /products?ids=`, scope `product:index`) by id."""
        return await self._by_id(EP_PRODUCTS, ids)

    async def _by_id(self, endpoint: tuple[str, str], ids: list[int]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), PAGE_LIMIT_MAX):
            chunk = wanted[start : start + PAGE_LIMIT_MAX]
            params = {"ids": ",".join(map(str, chunk)), "limit": PAGE_LIMIT_MAX}
            for obj in await self._list(endpoint, params, 5, required=("ids",)):
                key = _int_or_none(obj.get("id"))
                if key is not None and key in chunk:
                    out[key] = obj
        return out

    async def _list(
        self,
        endpoint: tuple[str, str],
        params: dict[str, Any],
        max_pages: int,
        *,
        required: tuple[str, ...],
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        refused = self.refused_params.setdefault(endpoint, set())
        for _ in range(max_pages):
            data, headers = await self._get(
                endpoint, {**params, "cursor": cursor}, required=required
            )
            out.extend(x for x in (data if isinstance(data, list) else []) if isinstance(x, dict))
            cursor = headers.get(HEADER_NEXT_CURSOR) or None
            if not cursor or "cursor" in refused:
                break
        return out

    async def read(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, Mapping[str, str]]:
        """One GET of any co-api path, paced and checked like every call (the diagnosis reads
        endpoints the connector does not use yet, e.g. `/items`)."""
        return await self._call(("GET", path), params=params)

    async def deliver(self, operation: str, target: str, body: Mapping[str, Any]) -> Any:
        """Send one outbox message (operation names are the outbox's stored vocabulary)."""
        if operation == OP_TASK_SUCCEEDED:
            return await self.report_succeeded(target, body)
        if operation == OP_TASK_FAILED:
            return await self.report_failed_body(target, body)
        if operation == OP_ORDER_UPSERT:
            return await self.upsert_order(body)
        raise ValueError(f"unknown outbox operation {operation!r}")


def _path_part(value: Any) -> str:
    return quote(str(value), safe="")


def _json_or_none(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _error_envelope(raw: bytes) -> tuple[str, str, dict[str, Any]]:
    """(code, message, detail) from `{"error": {"code", "message", "detail"}}`, tolerant of junk."""
    data = _json_or_none(raw)
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return "UNKNOWN", "不明なエラー", {}
    code = err.get("code") if isinstance(err.get("code"), str) else "UNKNOWN"
    message = err.get("message") if isinstance(err.get("message"), str) else code
    detail = err.get("detail") if isinstance(err.get("detail"), dict) else {}
    return code, message[:500], detail


def _retry_after(value: str | None, default: float = 1.0) -> float:
    """Seconds from `Retry-After` (delta-seconds; an HTTP date or junk falls back to 1 s)."""
    try:
        seconds = float(value) if value is not None else default
    except ValueError:
        return default
    if math.isnan(seconds) or seconds < 0:
        return default
    return min(seconds, 300.0)


# ---- bodies ------------------------------------------------------------------------------------
def succeeded_body(
    listing: Listing | None = None,
    *,
    auction_id: str | None = None,
    auction_url: str | None = None,
    management_number: str | None = None,
    variant_id: int | None = None,
) -> dict[str, Any]:
    """Body of `…/succeeded`: for listing tasks the auction id and URL, and the 管理番号 as the
    variant's `mall_item_code`; for order and delete tasks (no listing, no auction) `{}`."""
    if listing is None and auction_id is None:
        return {}
    body: dict[str, Any] = {"mall_product_code": auction_id, "mall_url": auction_url}
    number = management_number or (listing.management_number if listing else None)
    variant = variant_id if variant_id is not None else (listing.variant_id if listing else None)
    if variant is not None and number:
        body["variants"] = [{"id": variant, "mall_item_code": number}]
    return body


def failed_body(message: str, detail: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Body of `…/failed`: a Japanese message for staff (ReCORE shows it) and per-field detail."""
    text = (message or "").strip() or "連携処理に失敗しました。"
    return {"message": text[:2000], "detail": dict(detail or {})}


def order_upsert_body(
    order: Order, ec_account_id: int, status_names: Mapping[OrderStatus, str] | None = None
) -> dict[str, Any]:
    """`POST /ec/gateway/order/upsert` body: the `/ec/orders` shape keyed by mall_order_id.

    No `sub_status`: its values are ReCORE's own enum (unseen); the store's status text goes
    into `note` for staff instead. `status_names` is the `order_statuses` table (the spelling
    of ReCORE's status values), ORDER_STATUS_TO_RECORE by default."""
    names = status_names or ORDER_STATUS_TO_RECORE
    body: dict[str, Any] = {
        "ec_account_id": ec_account_id,
        "mall_order_id": order.mall_order_id,
        "status": names.get(OrderStatus(order.status)) or ORDER_STATUS_TO_RECORE[order.status],
        "mall_url": order.mall_url,
        "ordered_at": order.ordered_at,
        "shipped_at": order.shipped_at,
        "payment_total": order.payment_total,
        "payment_method": order.payment_method,
        "buyer_name": order.buyer_name,
        "buyer_name_kana": order.buyer_name_kana,
        "buyer_email": order.buyer_email,
        "shipping_postal_code": order.postal_code,
        "shipping_country_code": "JP",
        "shipping_state_or_region": order.prefecture,
        "shipping_city": order.city,
        "shipping_address1": order.address1,
        "shipping_address2": order.address2,
        "shipping_address3": order.address3,
        "shipping_phone": order.phone,
        "shipping_name": order.shipping_name,
        "note": _order_note(order),
        "goods": [
            {
                "mall_item_id": line.auction_id,
                "mall_item_code": line.management_number,
                "unit_price": line.unit_price,
                "quantity": line.quantity,
                "tax_rate_type": None,
            }
            for line in order.lines
        ],
    }
    comment = _tracking_comment(order)
    if comment:
        body["comment"] = comment
    return body


def _order_note(order: Order) -> str | None:
    status = f"ヤフオクのストアステータス: {order.store_status}" if order.store_status else ""
    text = "\n".join(part for part in (status, order.note or "") if part)
    return text or None


def _tracking_comment(order: Order) -> str | None:
    # co-api's order object has no tracking fields (seen); keep them readable for staff.
    parts = [f"配送業者: {order.carrier}" if order.carrier else ""]
    parts.append(f"追跡番号: {order.tracking_number}" if order.tracking_number else "")
    text = " ".join(p for p in parts if p)
    return text or None


def order_status_from_recore(
    value: Any, status_names: Mapping[OrderStatus, str] | None = None
) -> OrderStatus | None:
    if not isinstance(value, str):
        return None
    names = status_names or ORDER_STATUS_TO_RECORE
    return next((k for k, v in names.items() if v == value), None) or (
        ORDER_STATUS_FROM_RECORE.get(value)
    )


# ---- ReCORE listing → Listing ------------------------------------------------------------------
_INT_ATTRS: Final = (
    "start_price",
    "buyout_price",
    "quantity",
    "duration_days",
    "end_hour",
    "resubmit_count",
    "min_rating",
    "featured_amount",
    "size_class",
    "tax_rate",
    "delivery_group",
)
_BOOL_ATTRS: Final = ("auto_extend", "bad_rating_limit", "bidder_auth_limit", "tax_included")
_LIST_ATTRS: Final = ("payment_methods", "shipping_methods", "listed_on_other_malls")
# Ids that may come as numbers but are text to Yahoo.
_CODE_ATTRS: Final = (
    "management_number",
    "category_id",
    "jan_code",
    "brand_id",
    "product_category_id",
    "lead_time_code",
)
_TEXT_ATTRS: Final = (
    "prefecture",
    "city",
    "shipping_payer",
    "condition",
    "keywords",
    "folder_path",
    "sales_channel",
)
_BOOL_WORDS: Final[dict[str, bool]] = {
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "yes": True,
    "no": False,
    "はい": True,
    "いいえ": False,
    "あり": True,
    "なし": False,
}


class _Unparsed(ValueError):
    """A value that does not convert; `reason` in Japanese, `reason_en` in English."""

    def __init__(self, reason: str, reason_en: str) -> None:
        super().__init__(reason_en)
        self.reason = reason
        self.reason_en = reason_en


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_int(value: Any) -> int | None:
    """1000, 1000.0, "1000", "1,000", "１０００" → 1000; blank → None; anything else raises."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise _Unparsed("数値ではありません", "not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise _Unparsed("整数ではありません", "not a whole number")
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip().replace(",", "")
        sign = text[:1] if text[:1] in "+-" else ""
        digits = text[len(sign) :]
        if digits.isascii() and digits.isdigit() and len(digits) <= 12:
            return int(sign + digits)
    raise _Unparsed("数値ではありません", "not a number")


def parse_bool(value: Any) -> bool | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()]
    raise _Unparsed("はい／いいえ（true/false）ではありません", "not a boolean")


def parse_list(value: Any) -> list[str]:
    if _blank(value):
        return []
    if isinstance(value, str):
        return [value.strip()]
    if isinstance(value, list | tuple):
        if all(isinstance(x, str) for x in value):
            return [x.strip() for x in value if x.strip()]
        raise _Unparsed("文字列のリストではありません", "not a list of strings")
    raise _Unparsed("リストではありません", "not a list")


def parse_code(value: Any) -> str | None:
    """Text ids (管理番号, category …): numbers are accepted and written as text."""
    if _blank(value):
        return None
    if isinstance(value, str):
        _no_nul(value)
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _Unparsed("文字列ではありません", "not text")


def parse_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        _no_nul(value)
        return value
    raise _Unparsed("文字列ではありません", "not text")


def _no_nul(value: str) -> None:
    # a NUL character is no text anyone typed, and PostgreSQL cannot store it
    if "\x00" in value:
        raise _Unparsed("使えない制御文字（NUL）が含まれています", "contains a NUL character")


def _shown(value: Any, limit: int = 40) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """Why one field of ReCORE's listing could not be read."""

    field: str
    raw: Any
    reason: str  # Japanese
    reason_en: str

    @property
    def message(self) -> str:
        """「開始価格: 数値ではありません（"abc"）」"""
        return f"{field_label(self.field)}: {self.reason}（{_shown(self.raw)}）"

    @property
    def message_en(self) -> str:
        return f"{self.field}: {self.reason_en} ({_shown(self.raw)})"


def inventory_problems(obj: Any) -> list[FieldProblem]:
    """The same conversion as `listing_from_inventory`, reporting each unreadable field."""
    return _convert(obj)[1]


def listing_from_inventory(obj: Any) -> Listing:
    """ReCORE's `GET /ec/inventories/{id}` object → a `Listing`. Never raises: values that do not
    parse go to `Listing.unparsed` by field name (raw value kept), for validation to report."""
    return _convert(obj)[0]


def _convert(obj: Any) -> tuple[Listing, list[FieldProblem]]:
    problems: list[FieldProblem] = []

    def bad(name: str, raw: Any, exc: _Unparsed) -> None:
        problems.append(FieldProblem(name, raw, exc.reason, exc.reason_en))

    if not isinstance(obj, dict):
        listing = Listing(ec_inventory_id=0, management_number=None, title=None)
        bad("inventory", obj, _Unparsed("オブジェクトではありません", "not an object"))
        listing.unparsed = {p.field: p.raw for p in problems}
        return listing, problems

    raw_id = obj.get("id")
    try:
        inv_id = parse_int(raw_id)
    except _Unparsed as exc:
        bad("ec_inventory_id", raw_id, exc)
        inv_id = None
    attrs = obj.get("mall_attributes")
    if attrs is None:
        attrs = {}
    elif not isinstance(attrs, dict):
        bad("mall_attributes", attrs, _Unparsed("オブジェクトではありません", "not an object"))
        attrs = {}

    values: dict[str, Any] = {}

    def take(name: str, raw: Any, parse: Any) -> None:
        try:
            parsed = parse(raw)
        except _Unparsed as exc:
            bad(name, raw, exc)
            return
        if parsed is not None:
            values[name] = parsed

    for name in _INT_ATTRS:
        take(name, attrs.get(name), parse_int)
    for name in _BOOL_ATTRS:
        take(name, attrs.get(name), parse_bool)
    for name in _LIST_ATTRS:
        take(name, attrs.get(name), parse_list)
    for name in _CODE_ATTRS:
        take(name, attrs.get(name), parse_code)
    for name in _TEXT_ATTRS:
        take(name, attrs.get(name), parse_text)
    take("title", obj.get("title"), parse_text)
    take("description", obj.get("description"), parse_text)

    # Photos: `image_urls` (assumed, ordered) or the list object's single `image_url` (seen).
    raw_urls = obj.get("image_urls")
    if raw_urls is None and isinstance(obj.get("image_url"), str):
        raw_urls = [obj["image_url"]]
    take("image_urls", raw_urls, parse_list)

    variants = obj.get("variants")
    if isinstance(variants, list) and variants and isinstance(variants[0], dict):
        take("variant_id", variants[0].get("id"), parse_int)
    elif variants not in (None, []):
        bad("variants", variants, _Unparsed("リストではありません", "not a list"))

    listing = Listing(
        ec_inventory_id=inv_id or 0,
        management_number=values.pop("management_number", None),
        title=values.pop("title", None),
    )
    for name, value in values.items():
        setattr(listing, name, value)
    listing.unparsed = {p.field: p.raw for p in problems}
    return listing, problems


def _int_or_none(value: Any) -> int | None:
    try:
        return parse_int(value)
    except ValueError:
        return None


DB_ID_MAX = 2**31 - 1  # the integer columns hold 32 bits (PostgreSQL's integer refuses more)


def _id_or_none(value: Any) -> int | None:
    """An id that fits the database's integer columns, else None (an id nobody can use)."""
    number = _int_or_none(value)
    return number if number is not None and 0 < number <= DB_ID_MAX else None


def _db_text(value: Any, limit: int) -> str:
    """Text for a database column: no NUL (PostgreSQL refuses it; replaced by U+FFFD, so that
    the id can never match another one), at most `limit` characters."""
    return str(value).replace("\x00", "\ufffd")[:limit]


def _text_or_none(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _first_dict(value: Any) -> dict[str, Any]:
    return value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else {}


def read_inventory(obj: Any) -> ListingRequest:
    """What ReCORE sent for one listing: the values it holds (mall_attributes, title,
    description, image_urls: only those present), and its first variant (price, quantity, the
    item it allocates: seen). Never raises; unreadable values are kept in `unparsed`."""
    listing, problems = _convert(obj)
    values = {
        name: getattr(listing, name)
        for name in _SENT_FIELDS
        if name in _present(obj) and getattr(listing, name) is not None
    }
    request = ListingRequest(
        ec_inventory_id=listing.ec_inventory_id,
        values=values,
        unparsed={p.field: p.raw for p in problems},
        variant_id=listing.variant_id,
    )
    if isinstance(obj, dict):
        variant = _first_dict(obj.get("variants"))
        request.price = _int_or_none(variant.get("price"))
        request.quantity = _int_or_none(variant.get("quantity"))
        request.item_id = _int_or_none(_first_dict(variant.get("allocations")).get("item_id"))
        request.image_url = _text_or_none(obj.get("image_url"))
    return request


# Listing fields `read_inventory` reports as sent, and where in the object each comes from.
_SENT_FIELDS: Final = (
    *_INT_ATTRS,
    *_BOOL_ATTRS,
    *_LIST_ATTRS,
    *_CODE_ATTRS,
    *_TEXT_ATTRS,
    "title",
    "description",
    "image_urls",
)


def _present(obj: Any) -> set[str]:
    """Names of the fields the object really holds (a blank value counts as absent)."""
    if not isinstance(obj, dict):
        return set()
    attrs = obj.get("mall_attributes")
    names = {k for k, v in (attrs.items() if isinstance(attrs, dict) else []) if not _blank(v)}
    names |= {k for k in ("title", "description", "image_urls") if not _blank(obj.get(k))}
    return names


def read_item(obj: Any) -> StockItem | None:
    """ReCORE's item object (`GET /items`, seen) in the connector's words; None if not one."""
    if not isinstance(obj, dict):
        return None
    store = obj.get("store") if isinstance(obj.get("store"), dict) else {}
    grade = obj.get("grade") if isinstance(obj.get("grade"), dict) else {}
    urls = obj.get("image_urls")
    return StockItem(
        item_id=_int_or_none(obj.get("id")),
        code=_text_or_none(obj.get("code")),
        store_id=_int_or_none(store.get("id")),
        store_name=_text_or_none(store.get("name")),
        grade=_text_or_none(grade.get("name")),
        condition_note=obj["condition_note"]
        if isinstance(obj.get("condition_note"), str)
        else None,
        image_urls=[u.strip() for u in urls if isinstance(u, str) and u.strip()]
        if isinstance(urls, list)
        else [],
        product_id=_int_or_none(obj.get("product_id")),
        price=_int_or_none(obj.get("price")),
    )


def read_category(product: Any) -> ShopCategory | None:
    """The category of a catalogue entry (`GET /products`: `category {id, name, ancestors}`,
    seen; the ancestors' shape is assumed to be `[{id, name}]`, root first)."""
    if not isinstance(product, dict) or not isinstance(product.get("category"), dict):
        return None
    category = product["category"]
    ancestors = category.get("ancestors")
    return ShopCategory(
        category_id=_int_or_none(category.get("id")),
        name=_text_or_none(category.get("name")),
        ancestors=[
            (_int_or_none(a.get("id")), _text_or_none(a.get("name")))
            for a in (ancestors if isinstance(ancestors, list) else [])
            if isinstance(a, dict)
        ],
    )


def task_from_json(raw: dict[str, Any], ec_account_id: int) -> dict[str, Any] | None:
    """A RecoreTask row from ReCORE's task object (`issued_at` in Unix seconds, `data` with
    `ec_inventory_id` or `mall_order_id`); None (logged) for one without a usable id."""
    task_id = raw.get("id")
    if not isinstance(task_id, str | int) or isinstance(task_id, bool) or not str(task_id).strip():
        log.warning("recore: task without a usable id skipped: %r", str(raw)[:200])
        return None
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    issued = raw.get("issued_at")
    issued_at = None
    if isinstance(issued, int | float) and not isinstance(issued, bool):
        try:
            issued_at = datetime.fromtimestamp(issued, UTC)
        except (OverflowError, OSError, ValueError):
            issued_at = None
    mall_order = data.get("mall_order_id")
    account = _id_or_none(raw.get("ec_account_id"))
    return {
        "id": _db_text(task_id, 64),
        "type": _db_text(raw.get("type") or "", 40),
        "ec_account_id": account if account is not None else ec_account_id,
        "data": data,
        "issued_at": issued_at,
        "state": "new",
        "ec_inventory_id": _id_or_none(data.get("ec_inventory_id")),
        "mall_order_id": _db_text(mall_order, 64) if mall_order not in (None, "") else None,
    }
