"""The shop's own tables, kept by the connector and edited on the options page.

| name | what | value |
|---|---|---|
| `templates` | 出品テンプレート (default + named) | `companion.listing.rules.validate_templates` |
| `grades` | ReCOREのグレード → 商品の状態 | `{"中古A": "目立った傷や汚れなし", …}` |
| `categories` | ReCOREのカテゴリ → ヤフオクのカテゴリID | `[{recore_category_id, recore_category_name, yahoo_category_id}]` |
| `task_types` | ReCOREのタスク種別 → コネクタの処理 | `{"<ReCORE's name>": "<a type the connector handles>"}` |
| `order_statuses` | ReCOREの受注ステータスの表記 | `{"保留中": "ORDERED", …}` |

The last two hold facts about co-api that are unseen (docs/recore-co-api.md): when ReCORE turns
out to name a task type or an order status otherwise, staff (or the IT person) correct the
table instead of waiting for a release. Every table is validated as a whole before it is
stored (nothing is stored when one row is wrong), and listeners hear which table changed.

HTTP (bearer token, like every route): `GET /api/v1/tables` (every table, plus the choices the
options page offers), `GET /api/v1/tables/{name}`, `PUT /api/v1/tables/{name}` (the whole table).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import select

from companion.db import Database
from companion.db.models import ConnectorTable
from companion.domain import CONDITIONS, OrderStatus
from companion.keys import TABLES
from companion.listing import rules as lr
from companion.listing import yahoo_format as yf
from companion.recore import client as rc

log = logging.getLogger(__name__)

_TASK_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,39}\Z")
_STATUS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}\Z")


def validate_task_types(raw: Any) -> dict[str, str]:
    """`{"END_LISTING": "DELETE_INVENTORY"}`: a type name ReCORE sends → the connector's type."""
    if not isinstance(raw, Mapping) or len(raw) > 100:
        raise lr.RulesInvalid(
            {"task_types": ("対応表の形式が正しくありません", "must be an object")}
        )
    errors: dict[str, tuple[str, str]] = {}
    out: dict[str, str] = {}
    for name, target in raw.items():
        shown = str(name)[:40]
        if not isinstance(name, str) or not _TASK_TYPE.match(name.strip()):
            errors[shown] = (
                "ReCOREのタスク種別は英字で始まる40文字以内の英数字（_ . : -）で入力してください",
                "task type names are 1-40 characters, starting with a letter",
            )
            continue
        if target not in rc.TASK_TYPES:
            errors[shown] = (
                f"「{name}」の処理を選んでください（{'、'.join(rc.TASK_TYPES)}）",
                f"{name!r} must map to one of {rc.TASK_TYPES}",
            )
            continue
        if name.strip() == target:
            continue  # the connector's own name needs no alias
        out[name.strip()] = target
    if errors:
        raise lr.RulesInvalid(errors)
    return out


DEFAULT_ORDER_STATUSES: dict[str, str] = {
    status.value: name for status, name in rc.ORDER_STATUS_TO_RECORE.items()
}


def validate_order_statuses(raw: Any) -> dict[str, str]:
    """`{"保留中": "ORDERED", …}`: how ReCORE spells each order status (all four, distinct)."""
    if not isinstance(raw, Mapping):
        raise lr.RulesInvalid(
            {"order_statuses": ("対応表の形式が正しくありません", "must be an object")}
        )
    errors: dict[str, tuple[str, str]] = {}
    out: dict[str, str] = {}
    for status in OrderStatus:
        value = raw.get(status.value)
        value = value.strip() if isinstance(value, str) else value
        if not isinstance(value, str) or not _STATUS_NAME.match(value):
            errors[status.value] = (
                f"「{status.value}」のReCOREでの表記を英字で始まる32文字以内の英数字で入力してください",
                f"{status.value}: a status name of letters, digits and _",
            )
            continue
        if value in out.values():
            errors[status.value] = (f"表記「{value}」が重複しています", f"duplicate {value!r}")
            continue
        out[status.value] = value
    for key in raw:
        if key not in {s.value for s in OrderStatus}:
            errors[str(key)[:40]] = ("この項目はありません", "unknown status")
    if errors:
        raise lr.RulesInvalid(errors)
    return out


@dataclass(frozen=True)
class TableSpec:
    validate: Callable[[Any], Any]
    default: Any
    label: str


TABLE_SPECS: dict[str, TableSpec] = {
    "templates": TableSpec(lr.validate_templates, lr.DEFAULT_TEMPLATES, "出品テンプレート"),
    "grades": TableSpec(lr.validate_grades, lr.DEFAULT_GRADES, "グレード → 商品の状態"),
    "categories": TableSpec(
        lr.validate_categories, lr.DEFAULT_CATEGORIES, "ReCOREカテゴリ → ヤフオクカテゴリ"
    ),
    "task_types": TableSpec(validate_task_types, {}, "タスク種別の対応表"),
    "order_statuses": TableSpec(
        validate_order_statuses, DEFAULT_ORDER_STATUSES, "受注ステータスの表記"
    ),
}
LISTING_TABLES = frozenset({"templates", "grades", "categories"})


class TablesStore:
    """The tables in the database (`connector_tables`); defaults until staff save one."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._listeners: list[Callable[[str], Awaitable[Any]]] = []

    def on_change(self, listener: Callable[[str], Awaitable[Any]]) -> None:
        """`listener(name)` is awaited after a table changed (in the saving request)."""
        self._listeners.append(listener)

    async def get(self, name: str) -> Any:
        spec = TABLE_SPECS[name]
        async with self._db.session() as s:
            row = await s.get(ConnectorTable, name)
        return spec.default if row is None else row.data

    async def all(self) -> dict[str, Any]:
        async with self._db.session() as s:
            rows = {r.name: r.data for r in (await s.scalars(select(ConnectorTable))).all()}
        return {name: rows.get(name, spec.default) for name, spec in TABLE_SPECS.items()}

    async def saved(self) -> set[str]:
        """Names of the tables staff have saved (the others are at their defaults)."""
        async with self._db.session() as s:
            return set((await s.scalars(select(ConnectorTable.name))).all())

    async def put(self, name: str, value: Any) -> tuple[Any, list[Any]]:
        """Validate and store a whole table; returns it cleaned, and what the listeners said.
        Raises `RulesInvalid` (nothing stored) or KeyError for an unknown table."""
        clean = TABLE_SPECS[name].validate(value)
        async with self._db.session() as s, s.begin():
            row = await s.get(ConnectorTable, name)
            if row is not None and row.data == clean:
                return clean, []
            if row is None:
                s.add(ConnectorTable(name=name, data=clean))
            else:
                row.data = clean
        log.info("table %s changed", name)
        results = []
        for listener in self._listeners:
            results.append(await listener(name))
        return clean, results

    async def listing_rules(self) -> lr.ListingRules:
        tables = await self.all()
        return lr.ListingRules(
            templates=tables["templates"], grades=tables["grades"], categories=tables["categories"]
        )

    async def task_aliases(self) -> dict[str, str]:
        return dict(await self.get("task_types"))

    async def order_status_names(self) -> dict[OrderStatus, str]:
        names = await self.get("order_statuses")
        return {
            status: names.get(status.value, rc.ORDER_STATUS_TO_RECORE[status])
            for status in OrderStatus
        }


def choices() -> dict[str, Any]:
    """What the options page offers in its selects and shows as labels."""
    return {
        "template_fields": {
            name: {"label": spec.label, "default": spec.default}
            for name, spec in lr.TEMPLATE_FIELDS.items()
        },
        "duration_days": list(yf.DURATION_DAYS),
        "end_hours": list(yf.END_HOURS),
        "shipping_payers": list(yf.SHIPPING_PAYERS),
        "prefectures": list(yf.PREFECTURES),
        "delivery_groups": list(yf.DELIVERY_GROUPS),
        "lead_time_codes": dict(yf.LEAD_TIME_CODES),
        "tax_rates": list(yf.TAX_RATES),
        "resubmit_counts": list(yf.RESUBMIT_COUNTS),
        "price_modes": dict(lr.PRICE_MODES),
        "placeholders": list(lr.PLACEHOLDERS),
        "conditions": list(CONDITIONS),
        "task_types": list(rc.TASK_TYPES),
        "order_statuses": [s.value for s in OrderStatus],
        "labels": {name: spec.label for name, spec in TABLE_SPECS.items()},
    }


# --- HTTP -----------------------------------------------------------------------------------------
routes = web.RouteTableDef()


def _store(request: web.Request) -> TablesStore:
    return request.app[TABLES]


@routes.get("/api/v1/tables")
async def get_tables(request: web.Request) -> web.Response:
    return web.json_response({"tables": await _store(request).all(), "choices": choices()})


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if name not in TABLE_SPECS:
        raise web.HTTPNotFound(
            text='{"error": {"code": "NOT_FOUND", "message": "その表はありません", '
            '"message_en": "no such table"}}',
            content_type="application/json",
        )
    return name


@routes.get("/api/v1/tables/{name}")
async def get_table(request: web.Request) -> web.Response:
    name = _name(request)
    return web.json_response({"name": name, "table": await _store(request).get(name)})


@routes.put("/api/v1/tables/{name}")
async def put_table(request: web.Request) -> web.Response:
    from companion.middlewares import error_response
    from companion.routes import read_json

    name = _name(request)
    body = await read_json(request)
    try:
        clean, results = await _store(request).put(name, body)
    except lr.RulesInvalid as exc:
        return error_response(
            400,
            "VALIDATION_FAILED",
            f"{TABLE_SPECS[name].label}に誤りがあります",
            f"invalid table {name}: {exc}",
            fields={k: ja for k, (ja, _en) in exc.fields.items()},
            fields_en={k: en for k, (_ja, en) in exc.fields.items()},
        )
    recheck = next((r for r in results if isinstance(r, dict)), None)
    return web.json_response({"name": name, "table": clean, "recheck": recheck})


def setup(app: web.Application) -> None:
    """Routes only: the store itself is made with the database (`companion.app.storage_ctx`)."""
    app.add_routes(routes)


__all__ = ["LISTING_TABLES", "TABLE_SPECS", "TablesStore", "choices", "setup"]
