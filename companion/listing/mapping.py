"""One mapping from what ReCORE holds to a complete Yahoo listing, for the zip and the form alike.

    (ReCORE's listing, its item, the item's category, the shop's templates and tables)
        → a `Listing` with every field Yahoo needs, or the fields still missing (情報不足)

What ReCORE sends wins over a template; a template wins over nothing:

- 管理番号: the listing's own (`mall_attributes`), else the item's `code`;
- title: the listing's;
- prices and quantity: the listing's own, else its first variant's price (start price, and the
  buyout price too when the template says so) and quantity (1 when there is none);
- photos: the listing's list, else the item's `image_urls`, else the listing's one `image_url`;
- 商品の状態: the listing's own, else the grade table's entry for the item's grade;
- category: the listing's own, else the category table's row for the item's ReCORE category
  (or its nearest listed parent), else the template's category id;
- description: the listing's, else the template's wording with the item's condition note;
- everything else (期間, 終了時間, 送料負担, 発送元 …): the listing's own, else the template chosen
  for the item's category or store (`ListingRules.template_for`).

Text is then made fit for Yahoo where that is mechanical and loses nothing (newlines in the
description become <br>, surrounding spaces go: `validation.fit_for_yahoo`). A field that is
still missing is a *hold*: an error naming the field and where staff can fill it. `build_listing`
never raises; `companion.listing.yahoo_format` writes the result as a CSV row and
`form_values` as the store form's values, so both paths list the same thing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from companion.domain import Listing, ListingRequest, ShopCategory, StockItem
from companion.listing.rules import TEMPLATE_FIELDS, ListingRules, render_description
from companion.listing.validation import (
    ListingError,
    fit_for_yahoo,
    make_error,
    validate_listing,
)

log = logging.getLogger(__name__)

# Template settings that are Listing fields (the others steer the mapping itself).
_TEMPLATE_LISTING_FIELDS: tuple[str, ...] = tuple(
    name for name in TEMPLATE_FIELDS if name not in ("category_id", "price_mode", "description")
)
# What Yahoo cannot list without (a template can supply those marked by the template).
REQUIRED: tuple[str, ...] = (
    "management_number",
    "title",
    "category_id",
    "start_price",
    "quantity",
    "condition",
    "image_urls",
    "description",
    "duration_days",
    "end_hour",
    "prefecture",
    "shipping_payer",
    "delivery_group",
    "lead_time_code",
    "tax_rate",  # the store form has no blank 消費税設定
)
HOLD_RULE = "missing_for_yahoo"  # every hold carries this rule (plus `field`)
OPTIONS_PAGE = "コネクタの設定画面"


@dataclass(frozen=True)
class ListingSources:
    """What the connector knows of one listing from ReCORE (see `companion.recore.client`)."""

    request: ListingRequest
    item: StockItem | None = None
    category: ShopCategory | None = None
    # why the item or its category could not be read ({"item": …, "category": …}, Japanese)
    notes: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Built:
    listing: Listing
    template: str  # the name of the template used
    holds: list[ListingError] = field(default_factory=list)  # missing: 情報不足
    errors: list[ListingError] = field(default_factory=list)  # Yahoo's rules broken
    fixes: list[str] = field(default_factory=list)  # what was made fit (English, for the log)


def build_listing(sources: ListingSources, rules: ListingRules) -> Built:
    """The complete listing, or what is missing. Never raises."""
    try:
        return _build(sources, rules)
    except Exception as exc:  # noqa: BLE001 - last guard: bad data must not stop a batch
        log.exception("mapping of listing %s failed", sources.request.ec_inventory_id)
        listing = Listing(
            ec_inventory_id=sources.request.ec_inventory_id, management_number=None, title=None
        )
        error = make_error(
            listing,
            "ec_inventory_id",
            "check_failed",
            f"の確認中に予期しないエラーが発生しました（{type(exc).__name__}）",
            f"mapping failed unexpectedly: {type(exc).__name__}",
        )
        return Built(listing, "標準", errors=[error])


def _build(sources: ListingSources, rules: ListingRules) -> Built:
    request, item, category = sources.request, sources.item, sources.category
    sent: dict[str, Any] = dict(request.values)
    chosen = rules.template_for(category, item.store_id if item else None)
    template = chosen.fields
    listing = Listing(ec_inventory_id=request.ec_inventory_id, management_number=None, title=None)
    listing.unparsed = dict(request.unparsed)
    listing.variant_id = request.variant_id
    for name, value in sent.items():
        setattr(listing, name, value)

    # 管理番号: the listing's own, else the shop's item code
    if not listing.management_number and item is not None and item.code:
        listing.management_number = item.code
    # prices and quantity from the variant when the listing has none of its own
    if "start_price" not in sent and request.price is not None:
        listing.start_price = request.price
        if "buyout_price" not in sent and template.get("price_mode") == "start_and_buyout":
            listing.buyout_price = request.price
    if "quantity" not in sent:
        listing.quantity = request.quantity if request.quantity is not None else 1
    # photos
    if not listing.image_urls:
        if item is not None and item.image_urls:
            listing.image_urls = list(item.image_urls)
        elif request.image_url:
            listing.image_urls = [request.image_url]
    # 商品の状態 from the grade
    if not listing.condition:
        listing.condition = rules.condition_for(item.grade if item else None)
    # category
    if not listing.category_id:
        listing.category_id = rules.yahoo_category_for(category) or template.get("category_id")
    # the template's settings where ReCORE sent nothing
    for name in _TEMPLATE_LISTING_FIELDS:
        value = template.get(name)
        if name not in sent and value is not None:
            setattr(listing, name, value)
    # description: the listing's, else the template's wording with the item's condition note
    if not listing.description and template.get("description"):
        listing.description = render_description(
            template["description"],
            {
                "タイトル": listing.title,
                "管理番号": listing.management_number,
                "状態": listing.condition,
                "グレード": item.grade if item else None,
                "状態メモ": item.condition_note if item else None,
            },
        )
    built = Built(listing, chosen.name)
    built.fixes = fit_for_yahoo(listing)
    built.holds = _holds(listing, sources, rules, chosen.name)
    held = {h.field for h in built.holds}
    for error in validate_listing(listing):
        if error.field in held:
            continue
        if error.rule.endswith("_missing"):
            built.holds.append(error)  # a missing value the shop can supply: hold, not refuse
        else:
            built.errors.append(error)
    return built


def _missing(value: Any) -> bool:
    return (
        value is None
        or value == ""
        or value == []
        or (isinstance(value, str) and not value.strip())
    )


def _holds(
    listing: Listing, sources: ListingSources, rules: ListingRules, template: str
) -> list[ListingError]:
    """One hold per required field still missing, saying where staff can fill it."""
    holds = []
    for name in REQUIRED:
        if name in listing.unparsed or not _missing(getattr(listing, name, None)):
            continue
        where, where_en = _where(name, sources, template)
        holds.append(
            make_error(
                listing, name, HOLD_RULE, f"がありません（{where}）", f"missing ({where_en})"
            )
        )
    return holds


def _where(name: str, sources: ListingSources, template: str) -> tuple[str, str]:
    """Where staff can supply a missing field: ReCORE, a table or a template (Japanese, English)."""
    item, category, notes = sources.item, sources.category, sources.notes
    if name in _TEMPLATE_LISTING_FIELDS:
        label = TEMPLATE_FIELDS[name].label
        return (
            f"{OPTIONS_PAGE}の出品テンプレート「{template}」で「{label}」を入力してください",
            f"set {name} in the template {template!r}",
        )
    if name == "management_number":
        if item is None:
            return _item_unread(notes, "ReCOREの在庫コードを管理番号に使えません")
        return (
            "ReCOREの在庫にコードがありません。ReCOREで在庫コードを確認してください",
            "the item has no code",
        )
    if name == "title":
        return "ReCOREで出品のタイトルを入力してください", "no title in ReCORE"
    if name in ("start_price", "quantity"):
        return "ReCOREで出品の価格を入力してください", "no price in ReCORE"
    if name == "image_urls":
        if item is None:
            return _item_unread(notes, "写真を取得できません")
        return "ReCOREで在庫に写真を登録してください", "no photo in ReCORE"
    if name == "condition":
        if item is None:
            return _item_unread(notes, "グレードを取得できません")
        if not item.grade:
            return (
                "ReCOREで在庫のグレードを設定してください",
                "the item has no grade",
            )
        return (
            f"ReCOREのグレード「{item.grade}」がグレード対応表にありません。"
            f"{OPTIONS_PAGE}の「グレード → 商品の状態」に追加してください",
            f"grade {item.grade!r} is not in the grade table",
        )
    if name == "category_id":
        if category is None and item is None:
            return _item_unread(notes, "カテゴリを取得できません")
        if category is None or category.category_id is None:
            why = notes.get("category") or "ReCOREの商品にカテゴリがありません"
            return (
                f"{why}。{OPTIONS_PAGE}の出品テンプレート「{template}」でヤフオクのカテゴリIDを"
                "入力するか、ReCOREで商品のカテゴリを設定してください",
                "no ReCORE category to look up, and no category id in the template",
            )
        shown = (
            f"「{category.name}」（ID {category.category_id}）"
            if category.name
            else (f"ID {category.category_id}")
        )
        return (
            f"ReCOREのカテゴリ{shown}がカテゴリ対応表にありません。"
            f"{OPTIONS_PAGE}の「ReCOREカテゴリ → ヤフオクカテゴリ」に追加してください",
            f"ReCORE category {category.category_id} is not in the category table",
        )
    if name == "description":
        return (
            f"ReCOREで説明を入力するか、出品テンプレート「{template}」の「説明のひな形」を入力してください",
            "no description in ReCORE and no description template",
        )
    return f"{OPTIONS_PAGE}で設定してください", "not set"


def _item_unread(notes: Mapping[str, str], what: str) -> tuple[str, str]:
    why = notes.get("item") or "ReCOREの在庫情報を取得できませんでした"
    return f"{why}（{what}）", "the item could not be read"


__all__ = ["HOLD_RULE", "REQUIRED", "Built", "ListingSources", "build_listing"]
