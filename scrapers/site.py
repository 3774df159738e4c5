"""Every fact about the Yahoo!オークション store pages the connector drives, in one place.

A real-world change (a renamed field, a new button text, another host) is a change to this file
only. Sections:

- `YahooUrls`  — where pages are: the real Yahoo hosts, or one origin for the sandbox
  (`yahoo_base_url` setting, `recore-connector sandbox yahoo`).
- `LOGIN`      — the login flow (Yahoo ID, password, business ID) and the walls it can hit.
- `ITEM_FORM`, `ITEM_CONFIRM`, `ITEM_COMPLETE`, `ITEM_LIST` — 競りナビ listing pages.

Sync and order pages get their own section (or a sibling module) in the same style: a frozen
dataclass of facts plus `required` selectors for the pre-flight check.

Rules kept here (reference: shared/reference/yahoo-auctions.md):
- fields are found by their `name` (stable on Yahoo's side), never by generated class names;
- buttons and checkboxes by role and visible text, radios by their label;
- pages are recognised by what is on them (a password field, a 確認コード field), not by URL, so a
  redirect through another host changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

# --- where pages are ------------------------------------------------------------------------------
REAL_LOGIN_ORIGIN = "https://login.yahoo.co.jp"
REAL_STORE_PRO_ORIGIN = "https://pro.store.yahoo.co.jp"
REAL_SERINAVI_ORIGIN = "https://auctions.store.yahoo.co.jp"
REAL_AUCTION_ORIGIN = "https://page.auctions.yahoo.co.jp"


@dataclass(frozen=True)
class YahooUrls:
    """Origins of the store's sites. The sandbox serves all of them from one origin."""

    login_origin: str
    store_pro_origin: str
    serinavi_origin: str
    auction_origin: str
    store_id: str | None = None

    @classmethod
    def for_base(cls, base_url: str | None, store_id: str | None = None) -> YahooUrls:
        """`base_url` empty/None → the real Yahoo sites; else one origin for everything."""
        if base_url:
            base = base_url.rstrip("/")
            return cls(base, base, base, base, store_id)
        return cls(
            REAL_LOGIN_ORIGIN,
            REAL_STORE_PRO_ORIGIN,
            REAL_SERINAVI_ORIGIN,
            REAL_AUCTION_ORIGIN,
            store_id,
        )

    @property
    def is_real(self) -> bool:
        return self.serinavi_origin == REAL_SERINAVI_ORIGIN

    def login(self, done: str | None = None) -> str:
        query = {".src": "bizmgr"}
        if done:
            query[".done"] = done
        return f"{self.login_origin}/config/login?{urlencode(query)}"

    def serinavi_top(self) -> str:
        return f"{self.serinavi_origin}/serinavi"

    def store_top(self) -> str:
        if self.store_id:
            return f"{self.store_pro_origin}/pro.{self.store_id}"
        return self.serinavi_top()

    def upload(self) -> str:
        return f"{self.serinavi_origin}{UPLOAD.path}"

    def item_create(self, folder_id: int | str = 1) -> str:
        return f"{self.serinavi_origin}/serinavi/items/create?" + urlencode(
            {"action": "create", "folder_id": folder_id}
        )

    def item_list(
        self, page: int = 1, folder_id: int | str = "", sort: str = "-update_date"
    ) -> str:
        return f"{self.serinavi_origin}/serinavi/items?" + urlencode(
            {"folder_id": folder_id, "sort": sort, "page": page}
        )

    def auction(self, auction_id: str) -> str:
        """The public auction page; the URL reported to ReCORE as `mall_url`."""
        if self.auction_origin == REAL_AUCTION_ORIGIN:
            return f"{REAL_AUCTION_ORIGIN}/jp/auction/{auction_id}"
        return f"{self.auction_origin}/jp/auction/{auction_id}"

    def absolute(self, href: str) -> str:
        """A link from a 競りナビ page made absolute (hrefs there are site-relative)."""
        if href.startswith(("http://", "https://")):
            return href
        return self.serinavi_origin + ("" if href.startswith("/") else "/") + href


# --- login ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoginFacts:
    handle: str = "#login_handle"
    handle_next_button: str = "次へ"
    password: str = "#password"  # noqa: S105  (a selector)
    login_button: str = "ログイン"
    captcha_image: str = "#captchaImage"
    captcha_input: str = "#captcha"
    sms_code: str = "#code"
    sms_texts: tuple[str, ...] = ("SMS認証", "確認コード")
    business_id: str = "#business_id"
    business_password: str = "#business_password"  # noqa: S105  (a selector)
    business_button: str = "ログイン"
    error: str = "[role=alert], .error, #errMsg"
    # what the login pages say when the ID or a password is wrong (staff must fix the settings)
    bad_credentials_texts: tuple[str, ...] = (
        "登録されていません",
        "パスワードが間違っています",
        "ビジネスIDまたはパスワードが正しくありません",
    )


LOGIN = LoginFacts()


# --- 競りナビ item create form ---------------------------------------------------------------------
@dataclass(frozen=True)
class ItemFormFacts:
    """The item create form (`/serinavi/items/create?action=create`). Field names as on Yahoo."""

    management_number: str = "businessCommodityIdInputText"
    title: str = "titleInputText"
    category: str = "categoryIdInputText"
    description: str = "Description_plain"
    keywords: str = "storeKeywordInputText"
    start_price: str = "startPriceInputText"
    buyout_price: str = "bidOrBuyPriceInputText"
    quantity: str = "quantityInputText"
    duration: str = "durationSelect"
    end_hour: str = "endTimeSelect"
    resubmit: str = "numResubmitSelect"
    change_price_ratio: str = "changePriceRatioResubmitSelect"
    prefecture: str = "prefectureCodeSelect"  # value: JIS code (13 = 東京都)
    city: str = "cityNameInputText"
    shipping_payer: str = "chargeForShippingRadio"  # radios, chosen by label (落札者 / 出品者)
    condition: str = "istatus"  # radios, chosen by label (the CSV's 商品の状態 texts)
    delivery_group: str = "deliveryGroupSelect"
    lead_time: str = "leadTimeSelect"
    tax_rate: str = "taxRateSelect"
    image_input: str = "imageFile{n}"  # n = 1..10, file inputs
    # checkboxes carry generated names: found by their visible label
    html_mode_label: str = "HTMLタグで入力"  # the `html_tag` switch of the description
    auto_extend_label: str = "自動延長する"
    tax_included_label: str = "税込み価格で出品する"
    bad_rating_limit_label: str = "悪い評価の割合で入札を制限する"
    bidder_auth_limit_label: str = "入札者認証を制限する"
    confirm_button: str = "確認する"
    # errors the form shows next to fields or above the form
    error: str = ".error, [role=alert]"

    def by_name(self, name: str) -> str:
        return f'[name="{name}"]'

    def image(self, n: int) -> str:
        return self.by_name(self.image_input.format(n=n))

    @property
    def named_fields(self) -> dict[str, str]:
        """Every field found by name: Japanese label → CSS selector (for the pre-flight check)."""
        names = {
            "管理番号": self.management_number,
            "タイトル": self.title,
            "カテゴリ": self.category,
            "説明": self.description,
            "ストア内商品検索用キーワード": self.keywords,
            "開始価格": self.start_price,
            "即決価格": self.buyout_price,
            "個数": self.quantity,
            "期間": self.duration,
            "終了時間": self.end_hour,
            "商品の自動再出品": self.resubmit,
            "商品発送元の都道府県": self.prefecture,
            "商品発送元の市区町村": self.city,
            "送料負担": self.shipping_payer,
            "商品の状態": self.condition,
            "配送グループ": self.delivery_group,
            "発送までの日数": self.lead_time,
            "消費税設定": self.tax_rate,
            "画像1": self.image_input.format(n=1),
        }
        return {label: self.by_name(name) for label, name in names.items()}

    @property
    def checkbox_labels(self) -> dict[str, str]:
        return {
            "説明のHTML": self.html_mode_label,
            "自動延長": self.auto_extend_label,
            "税込みフラグ": self.tax_included_label,
            "悪評割合制限": self.bad_rating_limit_label,
            "入札者認証制限": self.bidder_auth_limit_label,
        }


ITEM_FORM = ItemFormFacts()


@dataclass(frozen=True)
class ItemConfirmFacts:
    submit_button: str = "出品する"
    back_button: str = "修正する"
    heading_texts: tuple[str, ...] = ("確認",)


ITEM_CONFIRM = ItemConfirmFacts()


@dataclass(frozen=True)
class ItemCompleteFacts:
    """The completion page after 出品する: the new auction's id is on it."""

    success_texts: tuple[str, ...] = ("出品が完了しました",)
    # <dt>オークションID</dt><dd><a href="/jp/auction/x1100000041">x1100000041</a></dd>
    auction_id_label: str = "オークションID"
    management_number_label: str = "管理番号"
    auction_link_re: re.Pattern[str] = field(
        default_factory=lambda: re.compile(r"/jp/auction/([A-Za-z0-9]+)")
    )
    # ASSUMPTION of the sandbox, seen on Yahoo too: a letter and digits (c1133337781)
    auction_id_re: re.Pattern[str] = field(default_factory=lambda: re.compile(r"\b([a-z]\d{7,})\b"))


ITEM_COMPLETE = ItemCompleteFacts()


@dataclass(frozen=True)
class ItemListFacts:
    """The item folder list (`/serinavi/items`), 50 rows a page, newest updates first."""

    page_size: int = 50
    row_checkbox: str = "itemCheckbox"  # name; value = item id
    management_number_re: re.Pattern[str] = field(
        default_factory=lambda: re.compile(r"管理番号\s*[:：]?\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
    )
    # column headers of the list table
    auction_id_header: str = "オークションID"
    status_header: str = "状態"
    # pager: 「全123件中 1〜50件目」「1 / 3ページ」「次」
    total_re: re.Pattern[str] = field(default_factory=lambda: re.compile(r"全\s*([\d,]+)\s*件"))
    pages_re: re.Pattern[str] = field(
        default_factory=lambda: re.compile(r"(\d+)\s*/\s*(\d+)\s*ページ")
    )
    next_link_text: str = "次"
    loading_text: str = "読み込み中"
    # 状態 texts of an item that is no longer on sale (終了（落札者あり/なし）, 早期終了, 取消): such a
    # row does not block listing the 管理番号 again. Anything else (出品中, 予約, unknown) does.
    ended_status_markers: tuple[str, ...] = ("終了", "取消", "取り消し")

    def is_live(self, status: str | None) -> bool:
        return not status or not any(m in status for m in self.ended_status_markers)


ITEM_LIST = ItemListFacts()


@dataclass(frozen=True)
class UploadFacts:
    """競りナビ 一括アップロード (`/serinavi/upload`). The page can say 通信エラー although the upload
    went through, and it never de-duplicates 管理番号: read the item list before any retry."""

    path: str = "/serinavi/upload"
    file_input: str = "#uploadFile"
    submit_text: str = "決定する"  # a link, found by role and text: its classes are generated
    result: str = "#uploadResult"
    accepted_table: str = "#uploadAccepted"
    errors_table: str = "#uploadErrors"
    accepted_text: str = "受け付け"
    comm_error_text: str = "通信エラー"


UPLOAD = UploadFacts()


# --- common texts ---------------------------------------------------------------------------------
# A busy or broken Yahoo answers with a page like this (HTTP 5xx); the item can be tried again.
BUSY_TEXTS: tuple[str, ...] = (
    "アクセスが集中しています",
    "しばらくしてから再度アクセスしてください",
    "通信エラー",
)
# The confirm page's draft expired (the form must be filled again).
DRAFT_EXPIRED_TEXTS: tuple[str, ...] = ("有効期限が切れました",)
