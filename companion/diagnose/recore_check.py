"""The ReCORE side of the diagnosis: GET only, paced as the client paces every call.

The key is accepted and the EC account answers (tasks read with only `ec_account_id`); for up to
five tasks the key tree and value types of their listing (`GET /ec/inventories/{id}`) and of the
items behind it (`GET /items?ids=`); one page of `/ec/orders` and `/ec/inventories` of every EC
account for the real status spellings; one deliberately invalid request for the error's shape.
Buyers met in the orders are handed to the redactor; only key trees and spellings are kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from companion.diagnose.redact import Redactor, key_tree
from companion.recore.client import (
    EP_INVENTORIES,
    EP_INVENTORY,
    EP_ORDERS,
    EP_TASKS,
    SCOPES,
    RecoreClient,
    RecoreError,
    RecoreRejected,
    RecoreUnauthorized,
    RecoreUnavailable,
)

log = logging.getLogger(__name__)

MAX_TASKS = 5
PAGE = 50
BUYER_KEYS = (
    "buyer_name",
    "buyer_name_kana",
    "buyer_email",
    "shipping_postal_code",
    "shipping_state_or_region",
    "shipping_city",
    "shipping_address1",
    "shipping_address2",
    "shipping_address3",
    "shipping_phone",
    "shipping_name",
    "note",
    "comment",
)


@dataclass
class RecoreReport:
    configured: bool = True
    reachable: bool = True
    works_ja: list[str] = field(default_factory=list)
    problems_ja: list[str] = field(default_factory=list)
    notes_en: list[str] = field(default_factory=list)
    endpoints: dict[str, str] = field(default_factory=dict)  # "GET /path" → ok / error text
    task_types: dict[str, int] = field(default_factory=dict)
    inventory_trees: list[Any] = field(default_factory=list)
    item_trees: list[Any] = field(default_factory=list)
    order_statuses: dict[str, int] = field(default_factory=dict)
    order_sub_statuses: dict[str, int] = field(default_factory=dict)
    inventory_statuses: dict[str, int] = field(default_factory=dict)
    order_tree: Any = None
    error_shape: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def _count(into: dict[str, int], value: Any) -> None:
    key = "null" if value is None else str(value)
    into[key] = into.get(key, 0) + 1


class RecoreDiagnosis:
    def __init__(self, client: RecoreClient, redactor: Redactor) -> None:
        self.client = client
        self.redactor = redactor
        self.report = RecoreReport()

    async def _get(self, endpoint: tuple[str, str], path: str, params: dict[str, Any]) -> Any:
        name = f"GET {endpoint[1]}"
        try:
            data, _ = await self.client.read(path, params)
        except RecoreUnauthorized as exc:
            scope = SCOPES.get(endpoint, "")
            self.report.endpoints[name] = f"refused ({exc.status}); scope {scope}"
            self.report.problems_ja.append(exc.message)
            raise
        except RecoreError as exc:
            self.report.endpoints[name] = str(exc)
            raise
        self.report.endpoints[name] = "ok"
        return data

    async def run(self) -> RecoreReport:
        r = self.report
        try:
            tasks = await self._get(
                EP_TASKS, EP_TASKS[1], {"ec_account_id": self.client.ec_account_id}
            )
        except RecoreUnavailable as exc:
            r.reachable = False
            r.problems_ja.append(exc.message)
            r.notes_en.append(str(exc))
            return r
        except RecoreError as exc:
            r.notes_en.append(str(exc))
            if not isinstance(exc, RecoreUnauthorized):
                r.problems_ja.append(
                    f"ReCOREがEC連携のタスクの読み取りを受け付けませんでした（{exc.message}）。"
                    "EC連携アカウントIDを確認してください。"
                )
            return r
        r.works_ja.append("ReCOREのAPIキーとEC連携アカウントIDで、連携タスクを読み取れます。")
        tasks = [t for t in tasks if isinstance(t, dict)] if isinstance(tasks, list) else []
        for task in tasks:
            _count(r.task_types, task.get("type"))
        await self._inventories(tasks)
        await self._lists()
        await self._invalid()
        return r

    async def _inventories(self, tasks: list[dict[str, Any]]) -> None:
        r = self.report
        ids = []
        for task in tasks:
            data = task.get("data") if isinstance(task.get("data"), dict) else {}
            if data.get("ec_inventory_id") is not None and data["ec_inventory_id"] not in ids:
                ids.append(data["ec_inventory_id"])
        item_ids: list[str] = []
        for inventory_id in ids[:MAX_TASKS]:
            try:
                inv = await self._get(EP_INVENTORY, f"/ec/inventories/{int(inventory_id)}", {})
            except (RecoreError, ValueError) as exc:
                r.notes_en.append(f"inventory {inventory_id}: {exc}")
                continue
            r.inventory_trees.append(key_tree(inv))
            for variant in inv.get("variants") or [] if isinstance(inv, dict) else []:
                for alloc in variant.get("allocations") or []:
                    if isinstance(alloc, dict) and alloc.get("item_id") is not None:
                        item_ids.append(str(alloc["item_id"]))
        if ids:
            r.works_ja.append(f"出品データ（{len(r.inventory_trees)}件）を読み取れます。")
        if item_ids:
            try:
                items = await self._get(
                    ("GET", "/items"), "/items", {"ids": ",".join(item_ids[:MAX_TASKS])}
                )
                r.item_trees = [key_tree(i) for i in items or []][:MAX_TASKS]
            except RecoreError as exc:
                r.notes_en.append(f"GET /items: {exc} (not used by the connector yet)")

    async def _lists(self) -> None:
        r = self.report
        try:
            orders = await self._get(EP_ORDERS, EP_ORDERS[1], {"limit": PAGE})
        except RecoreError as exc:
            r.notes_en.append(f"GET /ec/orders: {exc}")
            r.problems_ja.append(
                "ReCOREの受注を読み取れませんでした（APIキーの権限を確認してください）。"
            )
        else:
            for order in orders or []:
                if not isinstance(order, dict):
                    continue
                self.redactor.add_values([order.get(k) for k in BUYER_KEYS])
                self.redactor.add_ids([order.get("mall_order_id")])
                _count(r.order_statuses, order.get("status"))
                _count(r.order_sub_statuses, order.get("sub_status"))
                if r.order_tree is None:
                    r.order_tree = key_tree(order)
            r.works_ja.append("ReCOREの受注を読み取れます。")
        try:
            inventories = await self._get(EP_INVENTORIES, EP_INVENTORIES[1], {"limit": PAGE})
        except RecoreError as exc:
            r.notes_en.append(f"GET /ec/inventories: {exc}")
        else:
            for inv in inventories or []:
                if isinstance(inv, dict):
                    _count(r.inventory_statuses, inv.get("status"))

    async def _invalid(self) -> None:
        """The tasks without their required `ec_account_id`: how ReCORE says no."""
        try:
            await self.client.read(EP_TASKS[1], {})
        except RecoreRejected as exc:
            self.report.error_shape = {
                "status": exc.status,
                "code": exc.code,
                "message": exc.recore_message,
                "detail_keys": sorted(exc.detail) if isinstance(exc.detail, dict) else None,
            }
        except RecoreError as exc:
            self.report.error_shape = {"status": exc.status, "error": str(exc)}
        else:
            self.report.error_shape = {"status": 200, "note": "accepted without ec_account_id"}


async def diagnose_recore(
    client: RecoreClient | None, missing: list[str], redactor: Redactor
) -> RecoreReport:
    if client is None:
        report = RecoreReport(configured=False, reachable=False)
        report.problems_ja.append(
            "ReCOREの設定（" + "、".join(missing) + "）がありません。設定画面で入力してください。"
        )
        return report
    return await RecoreDiagnosis(client, redactor).run()
