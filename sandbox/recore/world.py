"""The sandbox's ReCORE: listings, tasks, orders and photos, with their rules and persistence.

Plain dicts throughout, because the world is dumped to JSON as is (state file, `/_sandbox/state`).
Keys that start with `_` are the sandbox's own bookkeeping and never appear in protocol bodies.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from . import protocol as p
from .images import ImageSpec

log = logging.getLogger(__name__)

JST = timezone(timedelta(hours=9))
STATE_VERSION = 2
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid_like(ms: int, seq: int) -> str:
    """26-char ULID-shaped id: 48-bit time then 80 bits holding the sequence (sorts in issue order)."""
    salt = int.from_bytes(hashlib.sha256(f"{ms}:{seq}".encode()).digest()[:3], "big")
    value = (ms & (2**48 - 1)) << 80 | (seq & (2**56 - 1)) << 24 | salt
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


class WorldError(Exception):
    """A staff action that the current state does not allow (message in Japanese, for the page)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class World:
    """One ReCORE company with one 「汎用」 EC account (mall GENERAL) for Yahoo!オークション."""

    company_id = 1001
    ec_account_id = 3
    ec_account_name = "ヤフオク!ストア（汎用）"
    stores: dict[int, str] = {1: "本店", 2: "駅前店"}
    location_id = 1

    def __init__(
        self, state_file: Path | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.state_file = state_file
        self.clock = clock
        self.listings: dict[int, dict[str, Any]] = {}
        self.pending: dict[int, dict[str, Any]] = {}  # 出品待ち: stock not yet put on EC
        self.tasks: dict[str, dict[str, Any]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.images: dict[int, dict[str, Any]] = {}
        # ReCORE's own stock (在庫, `GET /items`), catalogue (カタログ, `GET /products`), the shop's
        # category tree and grade names: what a listing points at through its allocations.
        self.items: dict[int, dict[str, Any]] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.categories: dict[int, dict[str, Any]] = {}
        self.grades: dict[int, str] = {}
        self.counters: dict[str, int] = {}
        self.time_offset = 0  # seconds added to the clock (`POST /_sandbox/clock`), not persisted
        self._last_save_cost = 0.0
        self._last_save_at = 0.0
        self._flush_handle: asyncio.TimerHandle | None = None

    def reset(self) -> None:
        """Forget everything (the state file is rewritten by the next save)."""
        self.listings.clear()
        self.pending.clear()
        self.tasks.clear()
        self.orders.clear()
        self.images.clear()
        self.items.clear()
        self.products.clear()
        self.categories.clear()
        self.grades.clear()
        self.counters.clear()

    # ---- small helpers -------------------------------------------------------------------
    def now(self) -> int:
        return int(self.clock()) + self.time_offset

    def next_id(self, kind: str, start: int = 1) -> int:
        value = self.counters.get(kind, start - 1) + 1
        self.counters[kind] = value
        return value

    def add_images(
        self, label: str, count: int, kb: int = 40, corrupt: Iterable[int] = ()
    ) -> list[int]:
        """Register `count` photos labelled `label`; indexes in `corrupt` (0-based) are not images."""
        bad = set(corrupt)
        ids = []
        for n in range(count):
            image_id = self.next_id("image")
            self.images[image_id] = {
                "seed": f"{label}#{n}#{image_id}",
                "label": label,
                "kb": kb,
                "corrupt": n in bad,
            }
            ids.append(image_id)
        return ids

    def image_spec(self, image_id: int) -> ImageSpec | None:
        img = self.images.get(image_id)
        if img is None:
            return None
        return ImageSpec(seed=img["seed"], label=img["label"], kb=img["kb"], corrupt=img["corrupt"])

    # ---- stock (items), catalogue (products), categories, grades -----------------------------
    def add_category(self, category_id: int, name: str, parent_id: int | None = None) -> None:
        self.categories[category_id] = {"id": category_id, "name": name, "parent_id": parent_id}

    def category_ancestors(self, category_id: int) -> list[dict[str, Any]]:
        """The parents of a category, root first (the spec's `category.ancestors`)."""
        chain: list[dict[str, Any]] = []
        parent = self.categories.get(category_id, {}).get("parent_id")
        while parent is not None and parent in self.categories and len(chain) < 20:
            chain.insert(0, self.categories[parent])
            parent = self.categories[parent]["parent_id"]
        return chain

    def grade_id(self, name: str) -> int:
        for grade_id, known in self.grades.items():
            if known == name:
                return grade_id
        grade_id = self.next_id("grade")
        self.grades[grade_id] = name
        return grade_id

    def add_item(
        self,
        *,
        code: str | None,
        title: str,
        price: int | None,
        grade: str | None,
        condition_note: str | None,
        category_id: int | None,
        image_ids: list[int],
        at: int | None = None,
        store_id: int = 1,
        item_id: int | None = None,
    ) -> dict[str, Any]:
        """One piece of stock (在庫) and its catalogue entry (カタログ) with the shop's category."""
        at = self.now() if at is None else at
        product_id = self.next_id("product", start=60001)
        self.products[product_id] = {
            "id": product_id,
            "code": f"PD{product_id:010d}",
            "title": title,
            "category_id": category_id,
            "created_at": at,
            "updated_at": at,
        }
        if item_id is None:
            item_id = self.next_id("item", start=70001)
        item = {
            "id": item_id,
            "code": code or f"IT{item_id:010d}",
            "store_id": store_id,
            "price": price,
            "grade_id": self.grade_id(grade) if grade else None,
            "condition_note": condition_note,
            "image_ids": list(image_ids),
            "product_id": product_id,
            "created_at": at,
            "updated_at": at,
        }
        self.items[item_id] = item
        return item

    # ---- listings (EC inventories) ----------------------------------------------------------
    def create_listing(
        self,
        *,
        title: str,
        description: str,
        mall_attributes: dict[str, Any],
        image_ids: list[int],
        at: int | None = None,
        item_id: int | None = None,
        issue_task: bool = True,
        item: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Put stock on EC (staff pressed 出品): a 待機中 listing plus its CREATE_INVENTORY task.

        The stock it allocates is `item_id`, or a new item made from `item` (grade,
        condition_note, category_id, code; the 管理番号 is the item's code by default)."""
        at = self.now() if at is None else at
        listing_id = self.next_id("listing", start=5001)
        attrs = dict(mall_attributes)
        price = int_or_none(attrs.get("buyout_price")) or int_or_none(attrs.get("start_price"))
        quantity = int_or_none(attrs.get("quantity")) if "quantity" in attrs else 1
        if item_id is None:
            fields = item or {}
            item_id = self.add_item(
                code=fields.get("code") or attrs.get("management_number"),
                title=title,
                price=price,
                grade=fields.get("grade"),
                condition_note=fields.get("condition_note"),
                category_id=fields.get("category_id"),
                image_ids=image_ids,
                at=at,
            )["id"]
        listing: dict[str, Any] = {
            "id": listing_id,
            "ec_account_id": self.ec_account_id,
            "status": "WAITING",
            "title": title,
            "description": description,
            "image_ids": list(image_ids),
            "mall_attributes": attrs,
            "mall_product_code": None,
            "mall_url": None,
            "created_at": at,
            "updated_at": at,
            "done_at": None,
            "variants": [
                {
                    "id": self.next_id("variant", start=9001),
                    "mall_item_code": None,
                    "price": price,
                    "quantity": quantity,
                    "title": title,
                    "allocations": [
                        {
                            "id": self.next_id("allocation", start=30001),
                            "item_id": item_id,
                            "location_id": self.location_id,
                            "price_ratio": 1.0,
                            "quantity_ratio": 1,
                        }
                    ],
                }
            ],
            "_error_message": None,
            "_error_detail": None,
            "_ended_reason": None,
        }
        self.listings[listing_id] = listing
        if issue_task:
            self.issue_task("CREATE_INVENTORY", {"ec_inventory_id": listing_id}, at=at)
        return listing

    def list_pending_item(self, pending_id: int) -> dict[str, Any]:
        """出品待ち → 出品: turn one pending stock item into a listing."""
        item = self.pending.pop(pending_id, None)
        if item is None:
            raise WorldError(f"出品待ちの商品 {pending_id} が見つかりません。", 404)
        if item["mall_attributes"].get("sales_channel") == "店頭のみ":
            # ReCORE's own rule: a 店頭のみ item cannot be put on EC. Keep it in 出品待ち.
            self.pending[pending_id] = item
            raise WorldError("販路が「店頭のみ」の商品は出品できません。販路を変更してください。")
        return self.create_listing(
            title=item["title"],
            description=item["description"],
            mall_attributes=item["mall_attributes"],
            image_ids=item["image_ids"],
            item_id=item["item_id"],
        )

    def item_code(self, listing: dict[str, Any]) -> str | None:
        """The code of the stock a listing allocates (the 管理番号 the connector derives)."""
        allocations = listing["variants"][0]["allocations"] if listing["variants"] else []
        item = self.items.get(allocations[0]["item_id"]) if allocations else None
        return item["code"] if item else None

    def get_listing(self, listing_id: int) -> dict[str, Any]:
        listing = self.listings.get(listing_id)
        if listing is None:
            raise WorldError(f"出品 {listing_id} が見つかりません。", 404)
        return listing

    def sell_in_store(self, listing_id: int) -> dict[str, Any]:
        """店頭で販売: the item sold over the counter, so the listing must end (DELETE_INVENTORY)."""
        listing = self.get_listing(listing_id)
        if listing["status"] == "ENDED":
            raise WorldError("この出品はすでに終了しています。")
        listing["updated_at"] = self.now()
        listing["_ended_reason"] = "店頭で販売"
        return self.issue_task("DELETE_INVENTORY", {"ec_inventory_id": listing_id})

    def update_listing(self, listing_id: int, changes: dict[str, Any]) -> list[dict[str, Any]]:
        """Staff edited a listing: one task per kind of change (text/images, price, quantity)."""
        listing = self.get_listing(listing_id)
        if listing["status"] == "ENDED":
            raise WorldError("終了した出品は編集できません。")
        attrs = listing["mall_attributes"]
        kinds: list[str] = []
        if "title" in changes or "description" in changes or "image_count" in changes:
            if "title" in changes:
                listing["title"] = changes["title"]
                listing["variants"][0]["title"] = changes["title"]
            if "description" in changes:
                listing["description"] = changes["description"]
            if "image_count" in changes:
                label = str(attrs.get("management_number") or listing_id)
                listing["image_ids"] = self.add_images(label, changes["image_count"])
                # the photos belong to the stock: its item shows the same ones
                for allocation in listing["variants"][0]["allocations"]:
                    item = self.items.get(allocation["item_id"])
                    if item is not None:
                        item["image_ids"] = list(listing["image_ids"])
                        item["updated_at"] = self.now()
            kinds.append("UPDATE_INVENTORY")
        if "start_price" in changes or "buyout_price" in changes or "price" in changes:
            for key in ("start_price", "buyout_price"):
                if key in changes:
                    attrs[key] = changes[key]
            listing["variants"][0]["price"] = changes.get("price") or (
                int_or_none(attrs.get("buyout_price")) or int_or_none(attrs.get("start_price"))
            )
            kinds.append("UPDATE_INVENTORY_PRICE")
        if "quantity" in changes:
            attrs["quantity"] = changes["quantity"]
            listing["variants"][0]["quantity"] = changes["quantity"]
            kinds.append("UPDATE_INVENTORY_QUANTITY")
        if not kinds:
            raise WorldError("変更する項目がありません。")
        listing["updated_at"] = self.now()
        return [self.issue_task(kind, {"ec_inventory_id": listing_id}) for kind in kinds]

    # ---- tasks -------------------------------------------------------------------------------
    def issue_task(
        self,
        task_type: str,
        data: dict[str, Any],
        *,
        at: int | None = None,
        ec_account_id: int | None = None,
    ) -> dict[str, Any]:
        at = self.now() if at is None else at
        seq = self.next_id("task")
        task = {
            "id": ulid_like(at * 1000, seq),
            "mall_id": p.MALL_ID,
            "type": task_type,
            "ec_account_id": self.ec_account_id if ec_account_id is None else ec_account_id,
            "data": data,
            "issued_at": at,
            "_seq": seq,
            "_delivered_count": 0,
            "_outcome": None,
            "_reported_at": None,
            "_reports": [],
        }
        self.tasks[task["id"]] = task
        return task

    def open_tasks(self, ec_account_id: int, task_type: str | None) -> list[dict[str, Any]]:
        """Tasks not yet reported, in issue order: they stay in the poll until reported."""
        return [
            t
            for t in self.tasks.values()
            if t["_outcome"] is None
            and t["ec_account_id"] == ec_account_id
            and (task_type is None or t["type"] == task_type)
        ]

    def mark_delivered(self, tasks: list[dict[str, Any]]) -> bool:
        """Count deliveries; a listing whose CREATE task reached the poller shows 出品処理中.

        Returns whether a listing changed (then the state is worth saving)."""
        changed = False
        for task in tasks:
            task["_delivered_count"] += 1
            if task["type"] == "CREATE_INVENTORY":
                listing = self.listings.get(int_or_none(task["data"].get("ec_inventory_id")) or 0)
                if listing is not None and listing["status"] == "WAITING":
                    listing["status"] = "PROCESSING"
                    listing["updated_at"] = self.now()
                    changed = True
        return changed

    def report(self, task: dict[str, Any], outcome: str, body: dict[str, Any]) -> bool:
        """Record a report. Only the first one changes the world; later ones are only counted."""
        now = self.now()
        first = task["_outcome"] is None
        task["_reports"].append({"outcome": outcome, "body": body, "at": now, "applied": first})
        if not first:
            return False
        task["_outcome"] = outcome
        task["_reported_at"] = now
        data = task["data"] if isinstance(task["data"], dict) else {}
        if task["type"] in p.INVENTORY_TASK_TYPES:
            listing = self.listings.get(int_or_none(data.get("ec_inventory_id")) or 0)
            if listing is not None:
                self._apply_inventory_report(listing, task["type"], outcome, body, now)
        elif task["type"] in p.ORDER_TASK_TYPES:
            order = self.orders.get(int_or_none(data.get("ec_order_id")) or 0)
            if order is not None:
                order["_mall_sync"] = {
                    "task_type": task["type"],
                    "outcome": outcome,
                    "message": body.get("message") if outcome == "failed" else None,
                    "at": now,
                }
        return True

    def _apply_inventory_report(
        self, listing: dict[str, Any], task_type: str, outcome: str, body: dict[str, Any], now: int
    ) -> None:
        listing["updated_at"] = now
        if outcome == "failed":
            listing["_error_message"] = body.get("message")
            listing["_error_detail"] = body.get("detail")
            if task_type == "CREATE_INVENTORY":
                listing["status"] = "ERROR"
            return
        listing["_error_message"] = None
        listing["_error_detail"] = None
        if "mall_product_code" in body:
            listing["mall_product_code"] = body["mall_product_code"]
        if "mall_url" in body:
            listing["mall_url"] = body["mall_url"]
        for reported in body.get("variants") or []:
            for variant in listing["variants"]:
                if variant["id"] == reported["id"]:
                    variant["mall_item_code"] = reported["mall_item_code"]
        if task_type == "CREATE_INVENTORY":
            listing["status"] = "DONE"
            listing["done_at"] = now
        elif task_type == "DELETE_INVENTORY":
            listing["status"] = "ENDED"

    # ---- orders --------------------------------------------------------------------------------
    def find_order(self, ec_account_id: int, mall_order_id: str) -> dict[str, Any] | None:
        for order in self.orders.values():
            if order["ec_account_id"] == ec_account_id and order["mall_order_id"] == mall_order_id:
                return order
        return None

    def upsert_order(self, fields: dict[str, Any], ignored: list[str]) -> dict[str, Any]:
        """Create or update the order keyed by (ec_account_id, mall_order_id).

        Fields present replace the stored ones; absent fields keep their value; `goods`, when
        present, replaces the whole list."""
        now = self.now()
        order = self.find_order(fields["ec_account_id"], fields["mall_order_id"])
        if order is None:
            order = {
                "id": self.next_id("order", start=880001),
                "ec_account_id": fields["ec_account_id"],
                "mall_order_id": fields["mall_order_id"],
                "status": fields["status"],
                "created_at": now,
                "updated_at": now,
                "goods": [],
                "_upsert_count": 0,
                "_status_history": [],
                "_ignored_fields": [],
                "_tracking_number": None,
                "_carrier": None,
                "_mall_sync": None,
            }
            for key in p.ORDER_STRING_FIELDS + p.ORDER_TIME_FIELDS + p.ORDER_INT_FIELDS:
                order[key] = None
            self.orders[order["id"]] = order
        previous = order["_status_history"][-1]["status"] if order["_status_history"] else None
        for key, value in fields.items():
            if key != "goods":
                order[key] = value
        if "goods" in fields:
            order["goods"] = [
                self._make_good(order["id"], n, g) for n, g in enumerate(fields["goods"])
            ]
        order["updated_at"] = now
        order["_upsert_count"] += 1
        order["_ignored_fields"] = sorted(set(order["_ignored_fields"]) | set(ignored))
        if order["status"] != previous:
            order["_status_history"].append({"status": order["status"], "at": now, "by": "upsert"})
        if order["status"] != "CANCELED":
            self._end_sold_listings(order)
        return order

    def _make_good(self, order_id: int, n: int, good: dict[str, Any]) -> dict[str, Any]:
        listing = self._listing_for_code(good.get("mall_item_code"))
        variant = listing["variants"][0] if listing else None
        stored = {
            "id": self.next_id("goods", start=550001),
            "serial": n + 1,
            "ec_order_id": order_id,
        }
        for key in p.GOODS_STRING_FIELDS:
            stored[key] = good.get(key)
        for key in p.GOODS_INT_FIELDS:
            stored[key] = good.get(key)
        if stored["quantity"] is None:
            stored["quantity"] = 1
        stored["variant_id"] = variant["id"] if variant else None
        stored["item_id"] = variant["allocations"][0]["item_id"] if variant else None
        return stored

    def _listing_for_code(self, code: Any) -> dict[str, Any] | None:
        """The listing a sold 管理番号 belongs to: by reported mall_item_code, else 管理番号;
        with a duplicate 管理番号 the one actually listed (DONE) wins."""
        if not isinstance(code, str) or not code:
            return None
        matches = [
            lst
            for lst in self.listings.values()
            if lst["variants"][0]["mall_item_code"] == code
            or lst["mall_attributes"].get("management_number") == code
            or self.item_code(lst) == code
        ]
        matches.sort(key=lambda lst: (lst["status"] != "DONE", lst["id"]))
        return matches[0] if matches else None

    def _end_sold_listings(self, order: dict[str, Any]) -> None:
        for good in order["goods"]:
            for listing in self.listings.values():
                if listing["variants"][0]["id"] == good.get("variant_id") and listing["status"] in (
                    "WAITING",
                    "PROCESSING",
                    "DONE",
                ):
                    listing["status"] = "ENDED"
                    listing["_ended_reason"] = f"落札（受注 {order['mall_order_id']}）"
                    listing["updated_at"] = self.now()

    def get_order(self, order_id: int) -> dict[str, Any]:
        order = self.orders.get(order_id)
        if order is None:
            raise WorldError(f"受注 {order_id} が見つかりません。", 404)
        return order

    def ship_order(
        self, order_id: int, tracking_number: str | None, carrier: str
    ) -> dict[str, Any]:
        """出荷 in ReCORE: the order is 出荷済み at once; SHIP_ORDER tells the mall."""
        order = self.get_order(order_id)
        if order["status"] not in ("ORDERED", "UNSHIPPED"):
            label = p.ORDER_STATUS_LABELS.get(order["status"], order["status"])
            raise WorldError(f"この受注は出荷できません（現在の状態: {label}）。")
        now = self.now()
        order.update(status="SHIPPED", shipped_at=now, updated_at=now)
        order["_tracking_number"] = tracking_number
        order["_carrier"] = carrier
        order["_status_history"].append({"status": "SHIPPED", "at": now, "by": "staff"})
        data: dict[str, Any] = {
            "ec_order_id": order["id"],
            "mall_order_id": order["mall_order_id"],
            "tracking_number": tracking_number,
            "carrier": carrier,
        }
        return self.issue_task("SHIP_ORDER", data)

    def cancel_order(self, order_id: int, reason: str | None = None) -> dict[str, Any]:
        """キャンセル in ReCORE (whole order only: no partial cancel)."""
        order = self.get_order(order_id)
        if order["status"] in ("SHIPPED", "CANCELED"):
            label = p.ORDER_STATUS_LABELS.get(order["status"], order["status"])
            raise WorldError(f"この受注はキャンセルできません（現在の状態: {label}）。")
        now = self.now()
        order.update(status="CANCELED", updated_at=now)
        order["_status_history"].append({"status": "CANCELED", "at": now, "by": "staff"})
        data: dict[str, Any] = {"ec_order_id": order["id"], "mall_order_id": order["mall_order_id"]}
        if reason:
            data["reason"] = reason
        return self.issue_task("CANCEL_ORDER", data)

    # ---- persistence ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "counters": self.counters,
            "listings": list(self.listings.values()),
            "pending": list(self.pending.values()),
            "tasks": list(self.tasks.values()),
            "orders": list(self.orders.values()),
            "images": [{"id": k, **v} for k, v in self.images.items()],
            "items": list(self.items.values()),
            "products": list(self.products.values()),
            "categories": list(self.categories.values()),
            "grades": [{"id": k, "name": v} for k, v in self.grades.items()],
        }

    def load_json(self, data: dict[str, Any]) -> None:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported sandbox state version {data.get('version')!r}")
        self.counters = {str(k): int(v) for k, v in data["counters"].items()}
        self.listings = {int(x["id"]): x for x in data["listings"]}
        self.pending = {int(x["id"]): x for x in data["pending"]}
        self.tasks = {str(x["id"]): x for x in sorted(data["tasks"], key=lambda t: t["_seq"])}
        self.orders = {int(x["id"]): x for x in data["orders"]}
        self.images = {int(x.pop("id")): x for x in data["images"]}
        self.items = {int(x["id"]): x for x in data["items"]}
        self.products = {int(x["id"]): x for x in data["products"]}
        self.categories = {int(x["id"]): x for x in data["categories"]}
        self.grades = {int(x["id"]): str(x["name"]) for x in data["grades"]}

    def changed(self) -> None:
        """Persist after a change. Small worlds are written at once; when a write is slow (a
        benchmark world of thousands of listings) writes are coalesced to at most one a second,
        and `flush()` (called on shutdown) writes what is left."""
        if self.state_file is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.save()
            return
        if self._last_save_cost < 0.02:
            self.save()
        elif self._flush_handle is None:
            delay = max(0.0, self._last_save_at + 1.0 - time.monotonic())
            self._flush_handle = loop.call_later(delay, self.save)

    def flush(self) -> None:
        if self._flush_handle is not None:
            self.save()

    def save(self) -> None:
        """Write the state file atomically (temp file in the same directory, then rename)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self.state_file is None:
            return
        started = time.monotonic()
        path = self.state_file
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.to_json(), fh, ensure_ascii=False, separators=(",", ":"))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._last_save_at = time.monotonic()
        self._last_save_cost = self._last_save_at - started

    def load(self, upgrade: Callable[[World, dict[str, Any]], None] | None = None) -> bool:
        """Load the state file if there is one; False when there is none yet. A version-1 file
        is handed to `upgrade`; any other version is an error (never a silent reset)."""
        if self.state_file is None or not self.state_file.exists():
            return False
        data = json.loads(self.state_file.read_text(encoding="utf-8"))
        if data.get("version") == 1 and upgrade is not None:
            upgrade(self, data)  # the first sandbox's world: its stock gets items and a catalogue
            log.info("recore sandbox: upgraded %s to version %s", self.state_file, STATE_VERSION)
            return True
        self.load_json(data)
        log.info("recore sandbox: loaded state from %s", self.state_file)
        return True


def int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def format_jst(ts: int | None) -> str:
    """`2024-04-12 12:08:38` in JST: the co-api's date format, for pages and filters."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, JST).strftime("%Y-%m-%d %H:%M:%S")


def parse_jst(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=JST).timestamp())
