"""Every protocol fact of the ReCORE co-api stand-in, in one place.

What is *seen* in ReCORE's public co-api spec and what is *assumed* is listed in
`docs/recore-co-api.md`; the values here follow that file and
`/work/shared/reference/recore-co-api.md`. A real-world difference should be a change here.
"""

from __future__ import annotations

import re
from typing import Any, Final

MALL_ID: Final = "GENERAL"  # seen: the mall id of a 「汎用」 EC account

# Scopes. `ec:gateway:task:index`, `ec:inventory:index`, `ec:order:index` are seen; the others
# are our assumption (same naming pattern).
SCOPE_TASK_INDEX: Final = "ec:gateway:task:index"
SCOPE_TASK_UPDATE: Final = "ec:gateway:task:update"
SCOPE_ORDER_UPSERT: Final = "ec:gateway:order:upsert"
SCOPE_INVENTORY_INDEX: Final = "ec:inventory:index"
SCOPE_ORDER_INDEX: Final = "ec:order:index"
SCOPE_ITEM_INDEX: Final = "item:index"  # seen: `GET /items` (在庫検索)
SCOPE_PRODUCT_INDEX: Final = "product:index"  # seen: `GET /products` (カタログ検索)
ALL_SCOPES: Final = (
    SCOPE_TASK_INDEX,
    SCOPE_TASK_UPDATE,
    SCOPE_ORDER_UPSERT,
    SCOPE_INVENTORY_INDEX,
    SCOPE_ORDER_INDEX,
    SCOPE_ITEM_INDEX,
    SCOPE_PRODUCT_INDEX,
)
# Seen: the task list's query table has only these two; the sandbox refuses anything else
# (whether ReCORE does is unseen: the connector sends nothing else either way).
TASK_QUERY_PARAMS: Final = frozenset({"ec_account_id", "type"})
# Seen: the order list's filters (no mall_order_ids, no ordered_at/shipped_at ranges): the
# sandbox refuses anything else, so a client that sends an unseen one learns to leave it out.
ORDER_QUERY_PARAMS: Final = frozenset(
    {"ids", "ids[]", "item_ids", "item_ids[]", "statuses", "statuses[]", "sub_statuses"}
    | {"ec_account_id", "page", "limit", "cursor"}
    | {f"{f}_{e}" for f in ("created_at", "updated_at") for e in ("from", "to")}
)

# Which form `GET /ec/inventories/{id}` answers in: `spec` shows only what ReCORE's spec shows
# (the list object: title, one image_url, variants); `rich` adds our earlier assumption
# (description, image_urls, mall_attributes with the Yahoo fields staff filled in).
INVENTORY_FORMS: Final = ("spec", "rich")

RATE_LIMIT_PER_SECOND: Final = 5  # seen for every list endpoint; assumed for the POSTs
PAGE_LIMIT_DEFAULT: Final = 50
PAGE_LIMIT_MAX: Final = 250

# The ten task types (assumed, only CREATE_INVENTORY and one update type are seen).
INVENTORY_TASK_TYPES: Final = (
    "CREATE_INVENTORY",
    "UPDATE_INVENTORY",
    "UPDATE_INVENTORY_PRICE",
    "UPDATE_INVENTORY_QUANTITY",
    "DELETE_INVENTORY",
)
ORDER_TASK_TYPES: Final = (
    "CONFIRM_ORDER",
    "CONFIRM_PAYMENT",
    "SHIP_ORDER",
    "CANCEL_ORDER",
    "RETURN_ORDER",
)
TASK_TYPES: Final = INVENTORY_TASK_TYPES + ORDER_TASK_TYPES
TASK_TYPE_RE: Final = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")

# EC inventory (listing) statuses. DONE is seen; the rest are assumed names for the tabs of
# ReCORE's 出品リスト.
INVENTORY_STATUS_LABELS: Final[dict[str, str]] = {
    "WAITING": "待機中",
    "PROCESSING": "出品処理中",
    "DONE": "出品中",
    "ERROR": "エラー",
    "ENDED": "出品終了",
}
INVENTORY_STATUSES: Final = tuple(INVENTORY_STATUS_LABELS)

# Order statuses (assumed names; SHIPPED is seen) for the tabs of 受注管理.
ORDER_STATUS_LABELS: Final[dict[str, str]] = {
    "ORDERED": "保留中",
    "UNSHIPPED": "未出荷",
    "SHIPPED": "出荷済み",
    "CANCELED": "キャンセル済み",
}
ORDER_STATUSES: Final = tuple(ORDER_STATUS_LABELS)

# ReCORE's item fields that the Yahoo listing needs (same values as the connector's domain).
CONDITIONS: Final = (
    "未使用",
    "未使用に近い",
    "目立った傷や汚れなし",
    "やや傷や汚れあり",
    "傷や汚れあり",
    "全体的に状態が悪い",
)
SALES_CHANNELS: Final = ("併売", "ECのみ", "店頭のみ")  # 販路

# Carriers a SHIP_ORDER task may name (assumed codes).
CARRIERS: Final[dict[str, str]] = {
    "YAMATO": "ヤマト運輸",
    "SAGAWA": "佐川急便",
    "JAPAN_POST": "日本郵便",
    "OTHER": "その他",
}

# The fields of an `/ec/orders` object, in the order of the seen spec (minus ReCORE's own ids).
ORDER_STRING_FIELDS: Final = (
    "mall_url",
    "sub_status",
    "payment_method",
    "buyer_name",
    "buyer_name_kana",
    "buyer_email",
    "shipping_postal_code",
    "shipping_country_code",
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
ORDER_TIME_FIELDS: Final = (
    "ordered_at",
    "shipped_at",
    "earliest_delivery_at",
    "latest_delivery_at",
)
ORDER_INT_FIELDS: Final = ("payment_total",)
GOODS_INT_FIELDS: Final = (
    "unit_price",
    "unit_adjustment",
    "order_adjustment",
    "tax",
    "included_tax",
    "tax_rate",
    "quantity",
)
GOODS_STRING_FIELDS: Final = ("mall_item_id", "mall_item_code", "tax_rate_type")

# Error codes. VALIDATE_FAILED is seen; the others are assumed names.
VALIDATE_FAILED: Final = "VALIDATE_FAILED"
ERROR_MESSAGES: Final[dict[str, str]] = {
    "VALIDATE_FAILED": "入力値が不正です",  # seen, with the detail messages in English
    "UNAUTHORIZED": "認証に失敗しました。APIキー（X-Identification）を確認してください。",
    "FORBIDDEN": "このAPIキーにはこの操作の権限（スコープ）がありません。",
    "NOT_FOUND": "指定されたリソースが見つかりません。",
    "METHOD_NOT_ALLOWED": "このメソッドは使用できません。",
    "TOO_MANY_REQUESTS": "リクエストが多すぎます。しばらく待ってから再実行してください。",
    "INTERNAL_SERVER_ERROR": "サーバーでエラーが発生しました。",
    "SERVICE_UNAVAILABLE": "ただいまメンテナンス中です。しばらく待ってから再実行してください。",
}
STATUS_CODES: Final[dict[int, str]] = {
    400: "VALIDATE_FAILED",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


def error_body(
    code: str, message: str | None = None, detail: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """The co-api error envelope: `{"error": {"code", "message", "detail"}}`."""
    return {
        "error": {
            "code": code,
            "message": message or ERROR_MESSAGES.get(code, "エラーが発生しました。"),
            "detail": detail or {},
        }
    }


class Invalid(Exception):
    """Malformed input: becomes `400 VALIDATE_FAILED` with `detail` {field: [Japanese messages]}."""

    def __init__(self, detail: dict[str, list[str]]) -> None:
        super().__init__(f"validation failed: {sorted(detail)}")
        self.detail = detail


class Detail:
    """Collects per-field messages, so one response names every bad field at once."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def en(self, field: str, phrase: str) -> None:
        """A protocol message as the spec shows them: English, field first ("Pickup date can't
        be blank" for `pickup_date`)."""
        self.add(field, f"{humanize(field)} {phrase}")

    def raise_if_any(self) -> None:
        if self.fields:
            raise Invalid(self.fields)


def humanize(field: str) -> str:
    """`pickup_date` → `Pickup date`, `goods.0.unit_price` → `Goods 0 unit price` (Rails-like)."""
    words = field.removesuffix("_id").replace(".", " ").replace("_", " ").strip()
    return (words[:1].upper() + words[1:]) or "Base"
