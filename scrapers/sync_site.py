"""Yahoo page facts for SYNC: 出品中 (selling), 商品管理 (item list), 落札分 (sold), 注文管理.

Kept beside `scrapers.site` (the listing engineer's file) in the same style, so a real-world change
to these pages is a change here only. URLs are built on `scrapers.site.YahooUrls`.

Tables are found by id and their columns by header TEXT (never by position), so a reordered or
added column changes nothing; a missing table or header stops the sync with a message naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from scrapers.site import YahooUrls


@dataclass(frozen=True)
class TableFacts:
    """One paged list page: its table, the headers the sync needs, the empty-list marker."""

    name: str  # Japanese page name for messages (出品中一覧 …)
    table: str  # CSS selector of the table
    empty: str  # CSS selector shown instead of the table when the list is empty
    page_size: int
    # logical column -> header text on the page
    headers: dict[str, str]
    # columns that may be absent without stopping the sync
    optional: frozenset[str] = frozenset()
    # columns whose link (href) the sync uses
    links: frozenset[str] = frozenset()


SELLING = TableFacts(
    name="出品中一覧",
    table="table#sellingList",
    empty="#noItems",
    page_size=50,
    headers={
        "auction_id": "オークションID",
        "management_number": "管理番号",
        "title": "タイトル",
        "price": "現在価格",
        "bids": "入札",
        "watchers": "ウォッチ",
        "end_time": "終了日時",
    },
    optional=frozenset({"watchers", "title"}),
    links=frozenset({"title"}),  # the edit link carries the 競りナビ item id
)

ITEMS = TableFacts(
    name="商品管理（商品一覧）",
    table="table#itemList",
    empty="#noItems",
    page_size=50,
    headers={
        "title": "管理番号・タイトル",
        "start_price": "開始価格",
        "price": "現在価格",
        "status": "状態",
        "auction_id": "オークションID",
        "updated": "更新日時",
    },
    optional=frozenset({"start_price", "updated"}),
)

SOLD = TableFacts(
    name="落札分一覧",
    table="table#soldList",
    empty="#noItems",
    page_size=100,
    headers={
        "management_number": "管理番号",
        "title": "タイトル",
        "price": "落札価格",
        "sold_at": "落札日時",
        "auction_id": "オークションID",
        "winner": "落札者",
    },
    optional=frozenset({"title", "winner"}),
)

ORDERS = TableFacts(
    name="注文管理（注文処理状況）",
    table="table#orderList",
    empty="#noOrders",
    page_size=50,
    headers={
        "order_id": "注文ID",
        "ordered_at": "注文日時",
        "order_status": "注文ステータス",
        "pay_status": "入金ステータス",
        "ship_status": "出荷ステータス",
        "store_status": "ストアステータス",
        "auction_id": "オークションID",
        "management_number": "管理番号",
        "buyer_name": "氏名",
        "total": "合計金額",
        "payment_method": "お支払い方法",
        "updated": "更新日時",
    },
    optional=frozenset({"payment_method", "updated", "pay_status", "ship_status"}),
    links=frozenset({"order_id"}),  # the detail page
)


@dataclass(frozen=True)
class OrderDetailFacts:
    """注文詳細: a two-column table of label → value, and the action forms."""

    table: str = "table#orderDetail"
    table_marker: str = 'id="orderDetail"'  # where the table starts in the page's HTML
    # logical field -> row label
    labels: dict[str, str] = field(
        default_factory=lambda: {
            "order_id": "注文ID",
            "ordered_at": "注文日時",
            "order_status": "注文ステータス",
            "pay_status": "入金ステータス",
            "ship_status": "出荷ステータス",
            "store_status": "ストアステータス",
            "auction_id": "オークションID",
            "management_number": "管理番号",
            "title": "商品名",
            "buyer_name": "注文者氏名",
            "buyer_kana": "注文者氏名（フリガナ）",
            "postal_code": "郵便番号",
            "address": "住所",
            "phone": "電話番号",
            "mail": "メールアドレス",
            "price": "商品代金",
            "shipping_fee": "送料",
            "total": "合計金額",
            "payment_method": "お支払い方法",
            "carrier": "配送会社",
            "tracking_number": "発送伝票番号",
            "updated": "更新日時",
        }
    )
    required: tuple[str, ...] = ("order_id", "store_status", "buyer_name", "address")
    message: str = ".message, [role=status]"
    error: str = ".error, [role=alert]"
    # action forms: found by their action path's last segment
    ship_info_form: str = "form#shipInfoForm"
    carrier_field: str = "ShipCompanyCode"
    tracking_field: str = "ShipInvoiceNumber1"
    action_ship: str = "ship"
    action_cancel: str = "cancel"
    action_complete: str = "complete"
    action_ship_info: str = "ship-info"
    # 配送会社: ReCORE carrier code (assumed) -> Yahoo's option value
    carriers: dict[str, str] = field(
        default_factory=lambda: {
            "YAMATO": "yamato",
            "SAGAWA": "sagawa",
            "JAPAN_POST": "jp",
            "SEINO": "seino",
            "OTHER": "other",
        }
    )
    # texts of answers that mean "already in that state" (the action is then a success)
    already_shipped_texts: tuple[str, ...] = ("すでに出荷済み",)
    already_cancelled_texts: tuple[str, ...] = ("すでにキャンセル",)


ORDER_DETAIL = OrderDetailFacts()


@dataclass(frozen=True)
class ItemEditFacts:
    """The 競りナビ edit form and 早期終了 (end early) form."""

    form: str = "form"
    end_path: str = "/serinavi/items/end"
    end_item_field: str = "item_id"
    title_field: str = "titleInputText"
    description_field: str = "Description_plain"
    start_price_field: str = "startPriceInputText"
    buyout_price_field: str = "bidOrBuyPriceInputText"
    save_button: str = "フォルダに保存する"
    end_button: str = "オークションを早期終了する"
    saved_texts: tuple[str, ...] = ("保存しました", "更新しました")
    ended_texts: tuple[str, ...] = ("早期終了しました", "終了しました")
    status_selector: str = "#itemStatus"
    error: str = ".error, [role=alert], .sc-err-x1"
    cannot_end_with_bids_texts: tuple[str, ...] = ("入札があるため",)


ITEM_EDIT = ItemEditFacts()

# Item statuses on 商品管理 (状態 column).
ITEM_STATUS_SELLING = "出品中"
ITEM_STATUS_SOLD = "終了（落札者あり）"
ITEM_STATUS_UNSOLD = "終了（落札者なし）"
ITEM_STATUS_ENDED_EARLY = "早期終了"

# 注文ステータス (official) labels; used when a store status is missing from the mapping.
ORDER_STATUS_CANCELLED = "キャンセル"
ORDER_STATUS_DONE = "完了"

NEXT_LINK = '.pager a[rel="next"]'
# 「全5,000件中 1〜50件目」
TOTAL_RE = re.compile(r"全\s*([\d,]+)\s*件")
AUCTION_ID_RE = re.compile(r"^[a-z]?\d{7,}$")
STORE_ID_RE = re.compile(r"/pro\.([A-Za-z0-9_.-]+?)(?:/|$|\?)")
# Pages that mean "log in again": the login form's fields.
LOGIN_MARKERS: tuple[str, ...] = ("#login_handle", "#password", "#business_id")


@dataclass(frozen=True)
class SyncUrls:
    """Sync page URLs on top of `YahooUrls` (the store id is needed for 注文管理)."""

    base: YahooUrls

    def selling(self, page: int = 1) -> str:
        return f"{self.base.serinavi_origin}/serinavi/selling?" + urlencode({"page": page})

    def items(self, page: int = 1, keyword: str | None = None) -> str:
        query: dict[str, str | int] = {"folder_id": "", "sort": "-update_date", "page": page}
        if keyword:
            query["keyword"] = keyword
        return f"{self.base.serinavi_origin}/serinavi/items?" + urlencode(query)

    def sold(self, page: int = 1) -> str:
        return f"{self.base.serinavi_origin}/serinavi/sold-list?" + urlencode({"page": page})

    def orders(self, page: int = 1, **filters: str) -> str:
        query: dict[str, str | int] = {k: v for k, v in filters.items() if v}
        query["page"] = page
        return f"{self._pro()}/order/manage/index?" + urlencode(query)

    def order_detail(self, order_id: str) -> str:
        return f"{self._pro()}/order/manage/detail/{order_id}"

    def order_action(self, order_id: str, action: str) -> str:
        return f"{self.order_detail(order_id)}/{action}"

    def item_end(self) -> str:
        return f"{self.base.serinavi_origin}{ITEM_EDIT.end_path}"

    def absolute(self, href: str) -> str:
        return self.base.absolute(href)

    def _pro(self) -> str:
        if not self.base.store_id:
            raise ValueError("store id unknown: read it from the store top first")
        return f"{self.base.store_pro_origin}/pro.{self.base.store_id}"
