"""The connector's own view of a listing, neutral between ReCORE and Yahoo.

`companion.recore.client` turns ReCORE's inventory JSON into a `Listing`;
`companion.listing.yahoo_format` turns a `Listing` into Yahoo's CSV row or form values.
Neither system's field names leak past those two modules.

ReCORE's `mall_attributes` keys (our documented assumption, see docs/recore-co-api.md), all optional:
    management_number, category_id, start_price, buyout_price, quantity, duration_days, end_hour,
    prefecture, city, shipping_payer ("落札者"|"出品者"), payment_methods (list[str]),
    shipping_methods (list[str]), condition (one of CONDITIONS), keywords, auto_extend (bool),
    resubmit_count (0-3), min_rating (int), bad_rating_limit (bool), bidder_auth_limit (bool),
    featured_amount (int), size_class (int), tax_rate (int), tax_included (bool), jan_code,
    brand_id, product_category_id, folder_path, delivery_group (1-7), lead_time_code,
    sales_channel ("併売"|"ECのみ"|"店頭のみ"), listed_on_other_malls (list of mall ids)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

CONDITIONS: tuple[str, ...] = (
    "未使用",
    "未使用に近い",
    "目立った傷や汚れなし",
    "やや傷や汚れあり",
    "傷や汚れあり",
    "全体的に状態が悪い",
)

SALES_CHANNELS: tuple[str, ...] = ("併売", "ECのみ", "店頭のみ")


class ListingState(StrEnum):
    """States of a listing in ReCORE's 出品リスト, mirrored locally (HELD is the connector's own)."""

    WAITING = "waiting"  # 待機中: ReCORE asked, nothing done yet
    # 情報不足: a field Yahoo needs is missing and the shop can supply it (a template, a table
    # row, or ReCORE): kept, shown with what is missing, never reported failed for it
    HELD = "held"
    PROCESSING = "processing"  # 出品処理中: in a batch (zip downloaded or direct listing under way)
    # フォルダに登録済み（未出品）: on the store in a 競りナビ folder (a bulk upload that registers),
    # not started yet: no auction, nothing to sell; staff start it (popup 「出品開始」 or 競りナビ)
    REGISTERED = "registered"
    LISTED = "listed"  # 出品中: on Yahoo with an auction id
    ERROR = "error"  # エラー: rejected by validation, reported failed
    ENDED = "ended"  # 出品終了


STATE_LABELS: dict[ListingState, str] = {
    ListingState.WAITING: "待機中",
    ListingState.HELD: "情報不足",
    ListingState.PROCESSING: "出品処理中",
    ListingState.REGISTERED: "フォルダに登録済み（未出品）",
    ListingState.LISTED: "出品中",
    ListingState.ERROR: "エラー",
    ListingState.ENDED: "出品終了",
}


@dataclass(slots=True)
class Listing:
    """One item to list on Yahoo. Missing values are None; validation says what is wrong."""

    ec_inventory_id: int
    management_number: str | None
    title: str | None
    description: str | None = None
    keywords: str | None = None
    category_id: str | None = None
    start_price: int | None = None
    buyout_price: int | None = None
    quantity: int | None = None
    duration_days: int | None = None
    end_hour: int | None = None
    prefecture: str | None = None
    city: str | None = None
    shipping_payer: str | None = None
    payment_methods: list[str] = field(default_factory=list)
    shipping_methods: list[str] = field(default_factory=list)
    condition: str | None = None
    image_urls: list[str] = field(default_factory=list)
    auto_extend: bool = True
    resubmit_count: int = 0
    min_rating: int | None = None
    bad_rating_limit: bool = False
    bidder_auth_limit: bool = False
    featured_amount: int | None = None
    size_class: int | None = None
    tax_rate: int | None = None
    tax_included: bool = True
    jan_code: str | None = None
    brand_id: str | None = None
    product_category_id: str | None = None
    folder_path: str | None = None
    delivery_group: int | None = None
    lead_time_code: str | None = None
    sales_channel: str | None = None
    listed_on_other_malls: list[str] = field(default_factory=list)
    variant_id: int | None = None
    # Values that did not parse (e.g. "abc" for a price) are kept here by field name, so
    # validation can name the field and the rule instead of the conversion crashing.
    unparsed: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ListingRequest:
    """What ReCORE sent for one listing (`GET /ec/inventories/{id}`), in the connector's words.

    `values` holds only the Listing fields ReCORE actually sent (parsed): what it does not send
    is filled from the item, the tables and the templates (`companion.listing.mapping`)."""

    ec_inventory_id: int
    values: dict[str, Any] = field(default_factory=dict)
    unparsed: dict[str, Any] = field(default_factory=dict)  # field → raw value that did not parse
    variant_id: int | None = None
    price: int | None = None  # the variant's one price
    quantity: int | None = None  # the variant's quantity
    item_id: int | None = None  # the stock the variant allocates
    image_url: str | None = None  # the listing's one photo


@dataclass(slots=True)
class StockItem:
    """The piece of stock a listing sells (ReCORE's 在庫, `GET /items`)."""

    item_id: int | None
    code: str | None = None  # the shop's item code: the 管理番号 when ReCORE sends none
    store_id: int | None = None
    store_name: str | None = None
    grade: str | None = None  # the shop's grade name, e.g. 中古A
    condition_note: str | None = None  # plain text, often several lines
    image_urls: list[str] = field(default_factory=list)
    product_id: int | None = None
    price: int | None = None


@dataclass(slots=True)
class ShopCategory:
    """The shop's own category of an item (its catalogue entry's), with its parents root first."""

    category_id: int | None
    name: str | None = None
    ancestors: list[tuple[int | None, str | None]] = field(default_factory=list)

    def lineage(self) -> list[tuple[int | None, str | None]]:
        """This category first, then its parents nearest first (how a table row is looked up)."""
        return [(self.category_id, self.name), *reversed(self.ancestors)]


class OrderStatus(StrEnum):
    """ReCORE 受注管理 statuses; the status mapping setting maps Yahoo's store statuses onto these."""

    PENDING = "保留中"
    UNSHIPPED = "未出荷"
    SHIPPED = "出荷済み"
    CANCELED = "キャンセル済み"


@dataclass(slots=True)
class OrderLine:
    management_number: str | None
    auction_id: str | None
    unit_price: int
    quantity: int = 1
    title: str | None = None


@dataclass(slots=True)
class Order:
    """A Yahoo order as the connector forwards it to ReCORE (`companion.recore.client` maps it)."""

    mall_order_id: str
    status: OrderStatus
    store_status: str | None = None  # Yahoo's ストアステータス, e.g. 入金済み
    ordered_at: int | None = None  # Unix seconds
    shipped_at: int | None = None
    payment_total: int | None = None
    payment_method: str | None = None
    buyer_name: str | None = None
    buyer_name_kana: str | None = None
    buyer_email: str | None = None
    postal_code: str | None = None
    prefecture: str | None = None
    city: str | None = None
    address1: str | None = None
    address2: str | None = None
    address3: str | None = None
    phone: str | None = None
    shipping_name: str | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    note: str | None = None
    mall_url: str | None = None
    lines: list[OrderLine] = field(default_factory=list)
