"""Every fact about Yahoo!オークション store's bulk upload file (競りナビ 一括アップロード) lives here.

What is known and what is assumed is in ../shared/reference/yahoo-auctions.md; in short:
- the CSV has a header row, 53 columns in a fixed order, cp932, CRLF, minimal quoting;
- our zip holds that CSV plus the images, flat. How 競りナビ ties a CSV row to its images is not
  public: ASSUMPTION (kept only here) — each image is a file in the zip named
  ``<管理番号>_<n>.<ext>`` (n = 1..10, ext ``jpg`` for JPEG, ``gif``/``png`` for those formats, so
  normally ``<管理番号>_<n>.jpg``) and 画像N holds that file name;
- the zip's own name is ASCII (Japanese names are refused): ``yahoo_upload_YYYYMMDD_NNNN.zip``.

The column list is data (`Profile`), so another profile (the older, wider store format, or the
オークタウン formats) can be added next to `SERINAVI_53` without touching the writer.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

from companion.domain import CONDITIONS, Listing

ENCODING = "cp932"
LINE_TERMINATOR = "\r\n"

# --- limits and allowed values (used by validation and by the writer) -------------------------
TITLE_MAX_WIDTH = 65  # counted by `title_width`
MAX_IMAGES = 10
IMAGE_MAX_BYTES = 5 * 1024 * 1024  # third-party figure: 5 MB per image
IMAGE_FORMATS: dict[str, str] = {"JPEG": "jpg", "GIF": "gif", "PNG": "png"}  # Pillow format → ext
# 期間: the store form offers whole days; Yahoo's auctions run 1 to 7 days (shorter "hours" durations
# exist only for some accounts, and the CSV column takes days). Assumption: 1..7.
DURATION_DAYS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)
END_HOURS: tuple[int, ...] = tuple(range(24))
SHIPPING_PAYERS: tuple[str, ...] = ("落札者", "出品者")
RESUBMIT_COUNTS: tuple[int, ...] = (0, 1, 2, 3)
DELIVERY_GROUPS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)
TAX_RATES: tuple[int, ...] = (0, 8, 10)
DESCRIPTION_MAX_CHARS = 25_000  # ASSUMPTION (the same figure the Yahoo sandbox enforces)
# ASSUMPTION: 開始価格 and 即決価格 take at most nine digits (999,999,999 yen); no public source
# states the store's limit. A figure past it is a typing slip (10^12 was once accepted and listed).
PRICE_MAX = 999_999_999
# Titles are plain text on Yahoo (HTML only in 説明): an HTML element, a comment or a tag with
# attributes is refused; a size in brackets such as 「<M>」 is not HTML and stays allowed.
_HTML_TAGS = (
    "a|b|big|blink|br|center|div|em|embed|font|form|h[1-6]|hr|i|iframe|img|input|li|link|marquee"
    "|meta|object|ol|p|s|script|small|span|strike|strong|style|sub|sup|table|td|th|tr|u|ul"
)
TITLE_HTML_RE = re.compile(
    rf"<\s*/?\s*(?:{_HTML_TAGS})\b[^>]*>|<!--|<\s*[A-Za-z][\w-]*\s+[\w-]+\s*=", re.IGNORECASE
)
CATEGORY_MAX_DIGITS = 10
# ASSUMPTION: 発送までの日数 codes (the reference only says "code (e.g. 1)"); the sandbox agrees.
LEAD_TIME_CODES: dict[str, str] = {
    "1": "1～2日で発送",
    "2": "2～3日で発送",
    "3": "3～7日で発送",
    "4": "8～14日で発送",
}
# JAN (8 or 13 digits) or ISBN (10 with a possible X check digit, or 13).
JAN_CODE_RE = re.compile(r"(?:[0-9]{8}|[0-9]{13}|[0-9]{9}[0-9X])\Z")
# Columns Yahoo refuses when blank (on top of 管理番号, タイトル, カテゴリ, prices, 期間…).
REQUIRED_TEXT_FIELDS: tuple[str, ...] = ("description", "prefecture", "shipping_payer")
PAYMENT_TIMING = "代金先払い"  # store auctions are paid before shipping: column 14 is constant
YES, NO = "はい", "いいえ"
MULTI_VALUE_SEPARATOR = (
    "_"  # the seed's multi-value form fields (決済方法, 配送方法) join with 「_」
)
MANAGEMENT_NUMBER_MAX = 64  # ours, not Yahoo's: it becomes part of a file name
# 管理番号 becomes a file name inside the zip: ASCII letters, digits, '-', '_', '.'; no leading dot.
MANAGEMENT_NUMBER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")

PREFECTURES: tuple[str, ...] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
    "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県",
    "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府",
    "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
    "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
    "鹿児島県", "沖縄県",
)  # fmt: skip

# Japanese labels of the Listing fields, for staff-facing messages (the CSV column names).
FIELD_LABELS: dict[str, str] = {
    "ec_inventory_id": "ID",
    "management_number": "管理番号",
    "category_id": "カテゴリ",
    "title": "タイトル",
    "description": "説明",
    "keywords": "ストア内商品検索用キーワード",
    "start_price": "開始価格",
    "buyout_price": "即決価格",
    "quantity": "個数",
    "duration_days": "期間",
    "end_hour": "終了時間",
    "prefecture": "商品発送元の都道府県",
    "city": "商品発送元の市区町村",
    "shipping_payer": "送料負担",
    "payment_methods": "決済方法",
    "shipping_methods": "配送方法",
    "condition": "商品の状態",
    "image_urls": "画像",
    "min_rating": "最低評価",
    "bad_rating_limit": "悪評割合制限",
    "bidder_auth_limit": "入札者認証制限",
    "auto_extend": "自動延長",
    "resubmit_count": "商品の自動再出品",
    "featured_amount": "注目のオークション",
    "size_class": "重量設定",
    "tax_rate": "消費税設定",
    "tax_included": "税込みフラグ",
    "jan_code": "JANコード・ISBNコード",
    "brand_id": "ブランドID",
    "product_category_id": "商品分類ID",
    "folder_path": "商品保存先フォルダパス",
    "delivery_group": "配送グループ",
    "lead_time_code": "発送までの日数",
    "sales_channel": "販路",
    "listed_on_other_malls": "他モールでの出品",
    "variant_id": "バリエーションID",
}

# Listing fields written to the CSV as free text: each must be cp932-encodable.
TEXT_FIELDS: tuple[str, ...] = (
    "management_number", "category_id", "title", "description", "keywords", "prefecture", "city",
    "shipping_payer", "condition", "jan_code", "brand_id", "product_category_id", "folder_path",
    "lead_time_code",
)  # fmt: skip


def field_label(name: str) -> str:
    """Japanese label of a Listing field, or of ``image_N`` (画像N)."""
    if name.startswith("image_") and name[6:].isdigit():
        return f"画像{name[6:]}"
    return FIELD_LABELS.get(name, name)


# --- title width --------------------------------------------------------------------------------
def char_width(ch: str) -> float:
    """Yahoo counts full-width as 1 and half-width as 0.5.

    Half-width here means Unicode East Asian Width ``Na`` (narrow: ASCII, etc.) or ``H`` (half-width
    katakana ｱ, ﾞ…). Everything else — ``F``, ``W``, and ``A`` (ambiguous: ○, ×, Greek, Cyrillic,
    which cp932 renders full-width) and ``N`` (neutral) — counts 1, the safe side of the limit.
    """
    return 0.5 if unicodedata.east_asian_width(ch) in ("Na", "H") else 1.0


def title_width(text: str) -> float:
    return sum(char_width(ch) for ch in text)


def format_width(width: float) -> str:
    """70.0 → '70', 65.5 → '65.5'."""
    return str(int(width)) if width == int(width) else f"{width:.1f}"


# --- cp932 --------------------------------------------------------------------------------------
# Characters staff often type that cp932 cannot hold, with the cp932 look-alike to use instead.
CP932_SUBSTITUTES: dict[str, str] = {
    "\u301c": "\uff5e",  # 〜 WAVE DASH → ～
    "\u2212": "\uff0d",  # − MINUS SIGN → －
    "\u2014": "\u2015",  # — EM DASH → ―
    "\u2016": "\u2225",  # ‖ → ∥
    "\u00a2": "\uffe0",  # ¢ → ￠
    "\u00a3": "\uffe1",  # £ → ￡
    "\u00ac": "\uffe2",  # ¬ → ￢
    "\u00a0": " ",  # no-break space → space
}


def cp932_bad_chars(text: str) -> list[str]:
    """Distinct characters of `text` that do not survive cp932 encoding and decoding, in order."""
    bad: list[str] = []
    for ch in dict.fromkeys(text):
        try:
            ok = ch.encode(ENCODING).decode(ENCODING) == ch
        except UnicodeError:
            ok = False
        if not ok:
            bad.append(ch)
    return bad


# --- value mapping ------------------------------------------------------------------------------
def yes_no(value: Any) -> str:
    return YES if bool(value) else NO


def text(value: Any) -> str:
    """None → ''; everything else as str (ints as plain digits)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def multi_value(values: Iterable[Any]) -> str:
    """The seed's multi-value form fields (決済方法, 配送方法・送料): values joined by 「_」."""
    return MULTI_VALUE_SEPARATOR.join(text(v) for v in values if text(v))


_NEWLINES = re.compile(r"\r\n|\r|\n")


def description_html(text: str) -> str:
    """説明 takes HTML but no raw newlines: turn each line break into ``<br>``.

    Validation rejects raw newlines rather than silently rewriting staff's text; a caller that
    prefers to convert (e.g. plain-text descriptions from ReCORE) uses this first.
    """
    return _NEWLINES.sub("<br>", text)


def image_file_name(management_number: str, n: int, ext: str = "jpg") -> str:
    """ASSUMPTION (see module doc): image n (1-based) of an item is ``<管理番号>_<n>.<ext>``."""
    return f"{management_number}_{n}.{ext}"


def upload_zip_name(day: date, seq: int) -> str:
    """``yahoo_upload_YYYYMMDD_NNNN.zip`` — ASCII only (競りナビ refuses Japanese file names)."""
    if not 0 <= seq <= 9999:
        raise ValueError(f"sequence out of range 0..9999: {seq}")
    return f"yahoo_upload_{day:%Y%m%d}_{seq:04d}.zip"


UPLOAD_ZIP_RE = re.compile(r"yahoo_upload_(\d{8})_(\d{4})\.zip\Z")


@dataclass(frozen=True, slots=True)
class RowContext:
    """What a row needs beyond the Listing: the file names the images got in the zip."""

    image_names: Sequence[str] = ()
    image_comments: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    value: Callable[[Listing, RowContext], str]
    field: str | None = None  # the Listing field it comes from, if one


def _attr(name: str) -> Callable[[Listing, RowContext], str]:
    return lambda item, _ctx: text(getattr(item, name, None))


def _flag(name: str) -> Callable[[Listing, RowContext], str]:
    return lambda item, _ctx: yes_no(getattr(item, name, False))


def _image(n: int) -> Callable[[Listing, RowContext], str]:
    return lambda _item, ctx: ctx.image_names[n - 1] if n <= len(ctx.image_names) else ""


def _image_comment(n: int) -> Callable[[Listing, RowContext], str]:
    return lambda _item, ctx: ctx.image_comments[n - 1] if n <= len(ctx.image_comments) else ""


def _blank(_item: Listing, _ctx: RowContext) -> str:
    return ""


def _buyout(item: Listing, _ctx: RowContext) -> str:
    return text(item.buyout_price) if item.buyout_price else "0"  # 0 = no buyout


def _col(header: str, name: str) -> Column:
    return Column(header, _attr(name), name)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    columns: tuple[Column, ...]
    max_images: int = MAX_IMAGES

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def row(self, item: Listing, ctx: RowContext | None = None) -> list[str]:
        ctx = ctx or RowContext()
        return [c.value(item, ctx) for c in self.columns]


_IMAGE_COLUMNS: list[Column] = []
for _n in range(1, MAX_IMAGES + 1):
    _IMAGE_COLUMNS.append(Column(f"画像{_n}", _image(_n), f"image_{_n}"))
    _IMAGE_COLUMNS.append(Column(f"画像{_n}コメント", _image_comment(_n)))

SERINAVI_53 = Profile(
    name="serinavi_53",
    columns=(
        _col("管理番号", "management_number"),
        _col("カテゴリ", "category_id"),
        _col("タイトル", "title"),
        _col("説明", "description"),
        _col("ストア内商品検索用キーワード", "keywords"),
        _col("開始価格", "start_price"),
        Column("即決価格", _buyout, "buyout_price"),
        _col("個数", "quantity"),
        _col("期間", "duration_days"),
        _col("終了時間", "end_hour"),
        _col("商品発送元の都道府県", "prefecture"),
        _col("商品発送元の市区町村", "city"),
        _col("送料負担", "shipping_payer"),
        Column("代金先払い、後払い", lambda _i, _c: PAYMENT_TIMING),
        _col("商品の状態", "condition"),
        *_IMAGE_COLUMNS,
        _col("最低評価", "min_rating"),
        Column("悪評割合制限", _flag("bad_rating_limit"), "bad_rating_limit"),
        Column("入札者認証制限", _flag("bidder_auth_limit"), "bidder_auth_limit"),
        Column("自動延長", _flag("auto_extend"), "auto_extend"),
        _col("商品の自動再出品", "resubmit_count"),
        Column("自動値下げ", _blank),  # not in the Listing model: never set
        Column("注目のオークション", lambda i, _c: text(i.featured_amount or 0), "featured_amount"),
        _col("重量設定", "size_class"),
        _col("消費税設定", "tax_rate"),
        Column("税込みフラグ", _flag("tax_included"), "tax_included"),
        _col("JANコード・ISBNコード", "jan_code"),
        _col("ブランドID", "brand_id"),
        Column("商品スペックサイズ種別", _blank),
        Column("商品スペックサイズID", _blank),
        _col("商品分類ID", "product_category_id"),
        _col("商品保存先フォルダパス", "folder_path"),
        _col("配送グループ", "delivery_group"),
        _col("発送までの日数", "lead_time_code"),
    ),
)
assert len(SERINAVI_53.columns) == 53, len(SERINAVI_53.columns)

PROFILES: dict[str, Profile] = {SERINAVI_53.name: SERINAVI_53}
DEFAULT_PROFILE = SERINAVI_53

# Conditions are a domain fact shared with the model; re-exported for the format's readers.
CONDITION_VALUES: tuple[str, ...] = CONDITIONS


# --- writing ------------------------------------------------------------------------------------
@dataclass
class CsvWriter:
    """Streams rows to a binary file: header first, cp932, CRLF, minimal quoting.

    Encoding is strict: a value cp932 cannot hold raises UnicodeEncodeError (validation reports
    those per item before anything is written).
    """

    stream: IO[bytes]
    profile: Profile = DEFAULT_PROFILE
    _text: io.TextIOWrapper = field(init=False, repr=False)
    _csv: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._text = io.TextIOWrapper(
            self.stream, encoding=ENCODING, errors="strict", newline="", write_through=True
        )
        self._csv = csv.writer(
            self._text, lineterminator=LINE_TERMINATOR, quoting=csv.QUOTE_MINIMAL
        )
        self._csv.writerow(self.profile.headers)

    def write(self, item: Listing, ctx: RowContext | None = None) -> None:
        self._csv.writerow(self.profile.row(item, ctx))

    def close(self) -> None:
        """Flush and let go of the stream without closing it (the caller owns it)."""
        self._text.flush()
        self._text.detach()


def write_csv(
    stream: IO[bytes],
    rows: Iterable[tuple[Listing, RowContext]],
    profile: Profile = DEFAULT_PROFILE,
) -> int:
    """Write the header and one row per (listing, context); returns the number of rows."""
    writer = CsvWriter(stream, profile)
    count = 0
    try:
        for item, ctx in rows:
            writer.write(item, ctx)
            count += 1
    finally:
        writer.close()
    return count


def csv_bytes(
    rows: Iterable[Listing | tuple[Listing, RowContext]], profile: Profile = DEFAULT_PROFILE
) -> bytes:
    """The whole CSV in memory — for small batches and tests; use `write_csv` to stream."""
    buf = io.BytesIO()
    write_csv(buf, _with_context(rows), profile)
    return buf.getvalue()


def _with_context(
    rows: Iterable[Listing | tuple[Listing, RowContext]],
) -> Iterator[tuple[Listing, RowContext]]:
    for row in rows:
        yield row if isinstance(row, tuple) else (row, RowContext())


def read_csv(data: bytes) -> list[dict[str, str]]:
    """Parse a CSV we wrote (cp932) back into dicts by header — for tests and the sandbox."""
    reader = csv.DictReader(io.StringIO(data.decode(ENCODING), newline=""))
    return list(reader)
