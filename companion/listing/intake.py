"""Each listing's sources from ReCORE, its assessment, and 情報不足 (held) listings.

A listing the connector takes in keeps what ReCORE holds for it: the listing object, the item it
allocates (`GET /items`) and that item's catalogue entry with its category (`GET /products`).
`build_for` maps them with the shop's current tables (`companion.listing.mapping`):

- a field Yahoo needs is still missing → **held** (`ListingState.HELD`, 「情報不足」): kept with the
  missing fields and where to fill them, never reported `failed` to ReCORE for it;
- otherwise it waits in 新規の出品待ち; Yahoo's rules (title length …) are checked when a batch
  is made, and only a broken rule is reported failed.

`recheck` runs whenever the templates or tables change (and when the ReCORE settings do): held
listings whose fields can now be filled go back to 新規の出品待ち, waiting ones that now lack
something are held, without any new task from ReCORE. Items not read yet (ReCORE was
unreachable, or the API key lacked a scope) are read again first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select

from companion.db import Database
from companion.db.models import ListingRecord
from companion.domain import ListingState
from companion.listing.mapping import Built, ListingSources, build_listing
from companion.listing.rules import ListingRules
from companion.recore import client as rc

log = logging.getLogger(__name__)


@dataclass
class Sources:
    """What was fetched for one listing besides its inventory object."""

    item: dict[str, Any] | None = None
    product: dict[str, Any] | None = None
    notes: dict[str, str] = field(default_factory=dict)


def sources_of(record: ListingRecord) -> ListingSources:
    return sources_from(record.inventory, record.item, record.product, record.source_notes)


def sources_from(
    inventory: Any, item: Any = None, product: Any = None, notes: Mapping[str, Any] | None = None
) -> ListingSources:
    return ListingSources(
        request=rc.read_inventory(inventory or {}),
        item=rc.read_item(item) if item else None,
        category=rc.read_category(product) if product else None,
        notes={k: str(v) for k, v in (notes or {}).items()},
    )


def build_for(record: ListingRecord, rules: ListingRules) -> Built:
    return build_listing(sources_of(record), rules)


def _scope_note(exc: rc.RecoreError, what: str, scope: str) -> str:
    if isinstance(exc, rc.RecoreUnauthorized):
        return (
            f"ReCOREの{what}を読めません（APIキーに「{scope}」の権限がないか、店舗IDが合いません。"
            "APIキーの権限を確認してください）"
        )
    return f"ReCOREの{what}を読めません（{exc.message}）"


async def fetch_sources(
    client: rc.RecoreClient, inventories: Mapping[Any, Any]
) -> dict[Any, Sources]:
    """The item and catalogue entry of each inventory, read together (one request per 250).

    ReCORE unreachable: raises `RecoreUnavailable` (try again later). A refusal (no scope, a
    bad id) is kept as a note for staff: it matters only if a field must come from there."""
    out = {key: Sources() for key in inventories}
    item_of = {key: rc.read_inventory(raw).item_id for key, raw in inventories.items()}
    wanted = sorted({i for i in item_of.values() if i is not None})
    items: dict[int, dict[str, Any]] = {}
    item_note = None
    if wanted:
        try:
            items = await client.get_items(wanted)
        except (rc.RecoreUnauthorized, rc.RecoreRejected) as exc:
            item_note = _scope_note(exc, "在庫情報（在庫コード・グレード・写真）", "item:index")
            log.warning("items could not be read: %s", exc.message_en)
    product_ids = sorted({p for raw in items.values() if (p := _product_id(raw)) is not None})
    products: dict[int, dict[str, Any]] = {}
    product_note = None
    if product_ids:
        try:
            products = await client.get_products(product_ids)
        except (rc.RecoreUnauthorized, rc.RecoreRejected) as exc:
            product_note = _scope_note(exc, "商品カタログ（カテゴリ）", "product:index")
            log.warning("products could not be read: %s", exc.message_en)
    for key, item_id in item_of.items():
        found = out[key]
        if item_id is None:
            found.notes["item"] = "ReCOREの出品に在庫（item）の割り当てがありません"
            continue
        found.item = items.get(item_id)
        if found.item is None:
            found.notes["item"] = item_note or f"ReCOREに在庫 {item_id} が見つかりません"
            continue
        product_id = _product_id(found.item)
        found.product = products.get(product_id) if product_id is not None else None
        if found.product is None:
            found.notes["category"] = (
                product_note or "ReCOREの在庫にカタログ（カテゴリ）がありません"
            )
    return out


def _product_id(raw: Any) -> int | None:
    item = rc.read_item(raw)
    return item.product_id if item is not None else None


def keep_sources(record: ListingRecord, inventory: Any, sources: Sources | None) -> None:
    record.inventory = inventory
    if sources is not None:
        record.item = sources.item
        record.product = sources.product
        record.source_notes = dict(sources.notes)


def hold_or_release(record: ListingRecord, built: Built) -> None:
    """A waiting (unbatched) or held listing becomes held or waiting by what is missing."""
    if built.holds:
        record.state = ListingState.HELD
        record.errors = [h.to_dict() for h in built.holds]
        record.last_attempt_error = "\n".join(h.message for h in built.holds)
    elif record.state == ListingState.HELD:
        record.state = ListingState.WAITING
        record.errors = []
        record.last_attempt_error = None
    if built.listing.management_number:
        record.management_number = built.listing.management_number


CHECKED_STATES = (ListingState.WAITING, ListingState.HELD)


@dataclass
class Recheck:
    checked: int = 0
    released: int = 0  # held → 新規の出品待ち
    held: int = 0  # now held (newly or still)
    refetched: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "checked": self.checked,
            "released": self.released,
            "held": self.held,
            "refetched": self.refetched,
        }


async def recheck(
    db: Database, rules: ListingRules, client: rc.RecoreClient | None = None
) -> Recheck:
    """Re-assess every held listing and every unbatched waiting one with the current tables."""
    result = Recheck()
    async with db.session() as s:
        rows = (
            await s.scalars(
                select(ListingRecord)
                .where(
                    or_(
                        ListingRecord.state == ListingState.HELD,
                        (ListingRecord.state == ListingState.WAITING)
                        & ListingRecord.batch_id.is_(None),
                    )
                )
                .order_by(ListingRecord.id)
            )
        ).all()
    fetched: dict[int, Sources] = {}
    unread = {r.id: r.inventory for r in rows if r.item is None and r.state == ListingState.HELD}
    if client is not None and unread:
        try:
            fetched = await fetch_sources(client, unread)
        except rc.RecoreError as exc:
            log.info("recheck: items not read again: %s", exc.message_en)
    for chunk in _chunks([r.id for r in rows], 200):
        async with db.session() as s, s.begin():
            records = (
                await s.scalars(select(ListingRecord).where(ListingRecord.id.in_(chunk)))
            ).all()
            for record in records:
                if record.state not in CHECKED_STATES or (
                    record.state == ListingState.WAITING and record.batch_id is not None
                ):
                    continue  # a batch or a task took it meanwhile
                if record.id in fetched:
                    keep_sources(record, record.inventory, fetched[record.id])
                    result.refetched += 1
                before = record.state
                hold_or_release(record, build_for(record, rules))
                result.checked += 1
                if record.state == ListingState.HELD:
                    result.held += 1
                elif before == ListingState.HELD:
                    result.released += 1
    if result.released or result.held:
        log.info("recheck of listings: %s", result.to_dict())
    return result


def _chunks(ids: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
