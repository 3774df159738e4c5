"""Checks a `Listing` against Yahoo's rules before it goes into a bulk file or the listing form.

`validate_listing` and `validate_batch` never raise: whatever they are given (wrong types, None,
huge lists, objects that are not a Listing) comes back as a list of `ListingError`s, each naming
the item (管理番号, or the ID when the 管理番号 itself is unusable), the field and the rule, in
Japanese for staff and in English for logs. Limits and allowed values come from `yahoo_format`.
`fit_for_yahoo` first makes ReCORE's text fit where the fix is mechanical (newlines in the
description → <br>, surrounding spaces); the rules still refuse what was not fitted.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Collection, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from companion.domain import CONDITIONS
from companion.listing import wording
from companion.listing import yahoo_format as yf

log = logging.getLogger(__name__)

_MAX_SHOWN = 40  # how much of a bad value is quoted back in a message


@dataclass(frozen=True, slots=True)
class ListingError:
    ec_inventory_id: Any
    management_number: str | None
    field: str  # Listing attribute name, or "image_N" for the N-th image (1-based)
    rule: str  # stable code, e.g. "title_too_long"
    message: str  # Japanese, for staff: "<item>: <problem>"
    message_en: str  # English, for logs (code points, ids and the like are here only)
    item: str = ""  # how staff know the item: 管理番号 A-0007, or its title when it has none
    problem: str = ""  # Japanese: what is wrong and what to do in ReCORE (`wording`)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- naming the item ----------------------------------------------------------------------------
def _usable_number(listing: Any) -> str | None:
    number = getattr(listing, "management_number", None)
    if isinstance(number, str) and number.strip() and number.isprintable():
        return number
    return None


def _short(value: Any) -> str:
    try:
        shown = value if isinstance(value, str) else repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not stop validation
        shown = f"<{type(value).__name__}>"
    return shown if len(shown) <= _MAX_SHOWN else shown[:_MAX_SHOWN] + "…"


def item_names(listing: Any) -> tuple[str, str]:
    """('管理番号 A-0007', 'A-0007'); when the 管理番号 is unusable, staff know the item by its
    title (「カメラ…」（管理番号なし）) and the log by its ID ('ID 101')."""
    ident = f"ID {_short(getattr(listing, 'ec_inventory_id', None))}"
    number = _usable_number(listing)
    if number is not None:
        shown = _short(number)
        return f"管理番号 {shown}", shown
    try:
        title = getattr(listing, "title", None)
    except Exception:  # noqa: BLE001 - naming the item must not raise either
        title = None
    if isinstance(title, str) and title.strip() and title.isprintable():
        shown = title.strip()
        shown = shown if len(shown) <= 20 else shown[:20] + "…"
        return f"「{shown}」（管理番号なし）", ident
    return "管理番号もタイトルもない商品", ident


def make_error(listing: Any, field: str, rule: str, ja: str, en: str) -> ListingError:
    """An error for `listing`; `ja`/`en` say what is wrong with the field (its name goes in
    front, and what to do after: `wording.problem_text`)."""
    item_ja, item_en = item_names(listing)
    problem = wording.problem_text(field, rule, ja)
    return ListingError(
        ec_inventory_id=getattr(listing, "ec_inventory_id", None),
        management_number=_usable_number(listing),
        field=field,
        rule=rule,
        message=f"{item_ja}: {problem}",
        message_en=f"{item_en}: {field}: {en}",
        item=item_ja,
        problem=problem,
    )


# --- value helpers ------------------------------------------------------------------------------
def _int(value: Any) -> int | None:
    """An int that is really an int (not a bool, not a str)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _Checker:
    """Collects errors for one listing; each rule is a method, guarded so none can raise."""

    def __init__(self, listing: Any) -> None:
        self.item = listing
        self.errors: list[ListingError] = []
        raw = getattr(listing, "unparsed", None)
        self.unparsed: dict[str, Any] = raw if isinstance(raw, dict) else {}

    def add(self, field: str, rule: str, ja: str, en: str) -> None:
        self.errors.append(make_error(self.item, field, rule, ja, en))

    def get(self, name: str) -> Any:
        return getattr(self.item, name, None)

    def skip(self, name: str) -> bool:
        """A field whose raw value did not parse is reported once, as unparsed, not again."""
        return name in self.unparsed

    def run(self) -> list[ListingError]:
        rules: list[Callable[[], None]] = [
            self.unparsed_values,
            self.management_number,
            self.title,
            self.texts,
            self.description,
            self.category,
            self.prices,
            self.quantity,
            self.duration,
            self.end_hour,
            self.condition,
            self.shipping,
            self.images,
            self.options,
            self.multi_values,
            self.codes,
            self.sales_channel,
            self.other_malls,
        ]
        for rule in rules:
            try:
                rule()
            except Exception as exc:  # noqa: BLE001 - a bug in one rule must not hide the others
                log.exception("validation rule %s failed", rule.__name__)
                self.add(
                    "ec_inventory_id",
                    "check_failed",
                    "の確認中に予期しないエラーが発生しました",
                    f"check {rule.__name__} failed unexpectedly: {type(exc).__name__}",
                )
        return self.errors

    # --- the rules ----------------------------------------------------------------------------
    def unparsed_values(self) -> None:
        for name, raw in list(self.unparsed.items())[:100]:
            field = name if isinstance(name, str) else _short(name)
            self.add(
                field,
                "unparsed_value",
                f"の値「{_short(raw)}」を読み取れません",
                f"could not parse value {_short(raw)}",
            )

    def management_number(self) -> None:
        if self.skip("management_number"):
            return
        number = self.get("management_number")
        if _missing(number):
            self.add("management_number", "management_number_missing", "がありません", "missing")
            return
        if not isinstance(number, str):
            self.add(
                "management_number",
                "management_number_invalid",
                f"が文字列ではありません（{_short(number)}）",
                f"not a string: {_short(number)}",
            )
            return
        if len(number) > yf.MANAGEMENT_NUMBER_MAX or not yf.MANAGEMENT_NUMBER_RE.match(number):
            self.add(
                "management_number",
                "management_number_invalid",
                f"「{_short(number)}」は使えません（半角英数字と - _ . のみ、先頭は英数字、"
                f"{yf.MANAGEMENT_NUMBER_MAX}文字以内。画像のファイル名になるため）",
                f"{_short(number)!r} is not usable: only ASCII letters, digits, '-', '_', '.', "
                f"starting with a letter or digit, at most {yf.MANAGEMENT_NUMBER_MAX} characters "
                "(it becomes a file name)",
            )

    def title(self) -> None:
        if self.skip("title"):
            return
        title = self.get("title")
        if _missing(title):
            self.add("title", "title_missing", "がありません", "missing")
            return
        if not isinstance(title, str):
            self.add("title", "not_text", "が文字列ではありません", f"not text: {_short(title)}")
            return
        tag = yf.TITLE_HTML_RE.search(title)
        if tag:
            self.add(
                "title",
                "title_html",
                f"にHTMLタグは使えません（「{_short(tag.group())}」）。文字だけにしてください",
                f"contains HTML ({_short(tag.group())}); titles are plain text",
            )
        width = yf.title_width(title)
        if width > yf.TITLE_MAX_WIDTH:
            shown = yf.format_width(width)
            self.add(
                "title",
                "title_too_long",
                f"が長すぎます（{yf.TITLE_MAX_WIDTH}文字まで、いま{shown}文字。"
                "半角文字は0.5文字と数えます）",
                f"longer than {yf.TITLE_MAX_WIDTH} characters ({shown} counting half-width as 0.5)",
            )

    def texts(self) -> None:
        """Every text that reaches the CSV must survive cp932 and hold no control characters."""
        for name in yf.TEXT_FIELDS:
            if self.skip(name):
                continue
            value = self.get(name)
            if value is None:
                continue
            if not isinstance(value, str):
                if name not in ("management_number", "title"):  # those rules already said so
                    self.add(
                        name, "not_text", "が文字列ではありません", f"not text: {_short(value)}"
                    )
                continue
            bad = yf.cp932_bad_chars(value)
            if bad:
                hints = [
                    f"「{ch}」→「{yf.CP932_SUBSTITUTES[ch]}」"
                    for ch in bad
                    if ch in yf.CP932_SUBSTITUTES and yf.CP932_SUBSTITUTES[ch].strip()
                ]
                hint = f"（置き換え例: {' '.join(hints[:5])}）" if hints else ""
                self.add(
                    name,
                    "text_not_cp932",
                    f"にヤフオクで使えない文字があります: {wording.chars_for_staff(bad)}{hint}",
                    "characters not encodable in cp932: "
                    + ", ".join(f"U+{ord(ch):04X}" for ch in bad[:5]),
                )
            # Newlines in 説明 have their own rule; other controls are never allowed.
            allowed = "\r\n\t" if name == "description" else ""
            controls = [ch for ch in dict.fromkeys(value) if _is_control(ch) and ch not in allowed]
            if controls:
                self.add(
                    name,
                    "control_character",
                    f"に改行や目に見えない特殊文字が入っています: {wording.chars_for_staff(controls)}",
                    "contains newline or control characters: "
                    + ", ".join(f"U+{ord(ch):04X}" for ch in controls[:5]),
                )

    def description(self) -> None:
        if self.skip("description"):
            return
        desc = self.get("description")
        if _missing(desc):
            self.add("description", "description_missing", "がありません", "missing")
            return
        if isinstance(desc, str) and len(desc) > yf.DESCRIPTION_MAX_CHARS:
            self.add(
                "description",
                "description_too_long",
                f"が長すぎます（{yf.DESCRIPTION_MAX_CHARS:,}文字まで、いま{len(desc):,}文字）",
                f"longer than {yf.DESCRIPTION_MAX_CHARS} characters ({len(desc)})",
            )
        if isinstance(desc, str) and ("\n" in desc or "\r" in desc):
            line = desc.count("\n") or desc.count("\r")
            self.add(
                "description",
                "description_newline",
                f"に改行が入っています（{line}か所）。一括出品の説明は1行で書く決まりです",
                f"contains {line} raw newline(s); use <br>",
            )

    def category(self) -> None:
        if self.skip("category_id"):
            return
        cat = self.get("category_id")
        if _int(cat) is not None:
            cat = str(cat)
        if _missing(cat):
            self.add("category_id", "category_missing", "がありません", "missing")
        elif (
            not isinstance(cat, str)
            or not (cat.isascii() and cat.isdigit())
            or len(cat) > yf.CATEGORY_MAX_DIGITS
        ):
            self.add(
                "category_id",
                "category_not_numeric",
                f"は{yf.CATEGORY_MAX_DIGITS}桁以内の半角数字のカテゴリIDにしてください（「{_short(cat)}」）",
                f"must be a numeric category id of at most {yf.CATEGORY_MAX_DIGITS} digits, "
                f"got {_short(cat)}",
            )

    def prices(self) -> None:
        start = _int(self.get("start_price"))
        if not self.skip("start_price"):
            raw = self.get("start_price")
            if raw is None:
                self.add("start_price", "start_price_missing", "がありません", "missing")
            elif start is None:
                self.add(
                    "start_price",
                    "not_integer",
                    f"は整数（円）にしてください（{_short(raw)}）",
                    f"must be an integer amount of yen, got {_short(raw)}",
                )
            elif start < 1:
                self.add(
                    "start_price",
                    "start_price_too_low",
                    f"は1円以上にしてください（{start}円）",
                    f"must be at least 1 yen, got {start}",
                )
            elif start > yf.PRICE_MAX:
                self._too_high("start_price", start)
        if self.skip("buyout_price"):
            return
        raw = self.get("buyout_price")
        buyout = _int(raw)
        if raw is None or buyout == 0:
            return  # 0 / none = no buyout price
        if buyout is None:
            self.add(
                "buyout_price",
                "not_integer",
                f"は整数（円）にしてください（{_short(raw)}）",
                f"must be an integer amount of yen, got {_short(raw)}",
            )
        elif buyout < 0 or (start is not None and start >= 1 and buyout < start):
            self.add(
                "buyout_price",
                "buyout_below_start",
                f"は0（なし）か開始価格以上にしてください（即決価格{buyout}円、開始価格{start}円）",
                f"must be 0 (none) or at least the start price (buyout {buyout}, start {start})",
            )
        elif buyout > yf.PRICE_MAX:
            self._too_high("buyout_price", buyout)

    def _too_high(self, name: str, price: int) -> None:
        self.add(
            name,
            "price_too_high",
            f"は{yf.PRICE_MAX:,}円以下にしてください（{price:,}円）。桁の打ち間違いがないか確認してください",
            f"must be at most {yf.PRICE_MAX} yen, got {price}",
        )

    def _range(
        self, name: str, allowed: Collection[int], rule: str, ja: str, en: str, required: bool
    ) -> None:
        if self.skip(name):
            return
        raw = self.get(name)
        if raw is None:
            if required:
                self.add(name, f"{rule.rsplit('_', 1)[0]}_missing", "がありません", "missing")
            return
        value = _int(raw)
        if value is None or value not in allowed:
            self.add(name, rule, f"{ja}（{_short(raw)}）", f"{en}, got {_short(raw)}")

    def quantity(self) -> None:
        if self.skip("quantity"):
            return
        raw = self.get("quantity")
        value = _int(raw)
        if raw is None:
            self.add("quantity", "quantity_missing", "がありません", "missing")
        elif value is None or value < 1:
            self.add(
                "quantity",
                "quantity_invalid",
                f"は1以上の整数にしてください（{_short(raw)}）",
                f"must be an integer of at least 1, got {_short(raw)}",
            )

    def duration(self) -> None:
        lo, hi = min(yf.DURATION_DAYS), max(yf.DURATION_DAYS)
        self._range(
            "duration_days",
            yf.DURATION_DAYS,
            "duration_invalid",
            f"は{lo}～{hi}日にしてください",
            f"must be {lo} to {hi} days",
            required=True,
        )

    def end_hour(self) -> None:
        self._range(
            "end_hour",
            yf.END_HOURS,
            "end_hour_invalid",
            "は0～23時にしてください",
            "must be an hour from 0 to 23",
            required=True,
        )

    def condition(self) -> None:
        if self.skip("condition"):
            return
        value = self.get("condition")
        if _missing(value):
            self.add("condition", "condition_missing", "がありません", "missing")
        elif value not in CONDITIONS:
            self.add(
                "condition",
                "condition_invalid",
                f"「{_short(value)}」は選べません（{'、'.join(CONDITIONS)}のどれか）",
                f"{_short(value)} is not one of the allowed conditions",
            )

    def shipping(self) -> None:
        payer = self.get("shipping_payer")
        if self.skip("shipping_payer"):
            pass
        elif _missing(payer):
            self.add("shipping_payer", "shipping_payer_missing", "がありません", "missing")
        elif payer not in yf.SHIPPING_PAYERS:
            self.add(
                "shipping_payer",
                "shipping_payer_invalid",
                f"は「落札者」か「出品者」にしてください（「{_short(payer)}」）",
                f"must be 落札者 (buyer) or 出品者 (seller), got {_short(payer)}",
            )
        pref = self.get("prefecture")
        if self.skip("prefecture"):
            pass
        elif _missing(pref):
            self.add("prefecture", "prefecture_missing", "がありません", "missing")
        elif pref not in yf.PREFECTURES:
            self.add(
                "prefecture",
                "prefecture_invalid",
                f"「{_short(pref)}」は都道府県名ではありません（例: 東京都）",
                f"{_short(pref)} is not a prefecture name",
            )

    def images(self) -> None:
        if self.skip("image_urls"):
            return
        urls = self.get("image_urls")
        if urls is None or (isinstance(urls, list | tuple) and len(urls) == 0):
            self.add("image_urls", "images_missing", "が1枚もありません", "no image")
            return
        if not isinstance(urls, list | tuple):
            self.add(
                "image_urls", "images_invalid", "の形式が不正です", f"not a list: {_short(urls)}"
            )
            return
        if len(urls) > yf.MAX_IMAGES:
            self.add(
                "image_urls",
                "too_many_images",
                f"が{yf.MAX_IMAGES}枚を超えています（{len(urls)}枚）",
                f"more than {yf.MAX_IMAGES} images ({len(urls)})",
            )
        for n, url in enumerate(urls[: yf.MAX_IMAGES], start=1):
            if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
                self.add(
                    f"image_{n}",
                    "image_url_invalid",
                    f"のURLが不正です（「{_short(url)}」）",
                    f"not an http(s) URL: {_short(url)}",
                )

    def options(self) -> None:
        self._range(
            "resubmit_count",
            yf.RESUBMIT_COUNTS,
            "resubmit_count_invalid",
            "は0～3回にしてください",
            "must be 0 to 3",
            required=False,
        )
        self._range(
            "delivery_group",
            yf.DELIVERY_GROUPS,
            "delivery_group_invalid",
            "は1～7にしてください",
            "must be 1 to 7",
            required=True,
        )
        for name in ("min_rating", "featured_amount", "size_class", "tax_rate"):
            raw = self.get(name)
            if raw is not None and not self.skip(name) and _int(raw) is None:
                self.add(
                    name,
                    "not_integer",
                    f"は整数にしてください（{_short(raw)}）",
                    f"must be an integer, got {_short(raw)}",
                )
        tax = _int(self.get("tax_rate"))
        if tax is not None and tax not in yf.TAX_RATES and not self.skip("tax_rate"):
            self.add(
                "tax_rate",
                "tax_rate_invalid",
                f"は0、8、10のどれかにしてください（{tax}）",
                f"must be 0, 8 or 10, got {tax}",
            )
        for name in ("featured_amount", "size_class"):
            value = _int(self.get(name))
            if value is not None and value < 0 and not self.skip(name):
                self.add(
                    name,
                    "negative_value",
                    f"は0以上にしてください（{value}）",
                    f"must not be negative, got {value}",
                )

    def multi_values(self) -> None:
        """決済方法 / 配送方法 are joined with 「_」, so no single value may contain it."""
        for name in ("payment_methods", "shipping_methods"):
            values = self.get(name)
            if values is None or self.skip(name):
                continue
            if not isinstance(values, list | tuple):
                self.add(name, "not_list", "の形式が不正です", f"not a list: {_short(values)}")
                continue
            for value in values[:100]:
                if not isinstance(value, str):
                    self.add(
                        name, "not_text", "が文字列ではありません", f"not text: {_short(value)}"
                    )
                    break
                if yf.MULTI_VALUE_SEPARATOR in value:
                    self.add(
                        name,
                        "multi_value_separator",
                        f"の値「{_short(value)}」に区切り文字「_」が含まれています",
                        f"value {_short(value)} contains the separator '_'",
                    )
                    break
                if yf.cp932_bad_chars(value):
                    self.add(
                        name,
                        "text_not_cp932",
                        f"の値「{_short(value)}」にヤフオクで使えない文字があります",
                        f"value {_short(value)} is not encodable in cp932",
                    )
                    break

    def codes(self) -> None:
        """発送までの日数 (a code, required), JAN/ISBN, and the numeric ID columns."""
        if not self.skip("lead_time_code"):
            raw = self.get("lead_time_code")
            code = str(raw) if _int(raw) is not None else raw
            if _missing(code):
                self.add("lead_time_code", "lead_time_missing", "がありません", "missing")
            elif not isinstance(code, str) or code not in yf.LEAD_TIME_CODES:
                allowed = "、".join(f"{k}（{v}）" for k, v in yf.LEAD_TIME_CODES.items())
                self.add(
                    "lead_time_code",
                    "lead_time_invalid",
                    f"のコード「{_short(raw)}」は使えません（{allowed}）",
                    f"unknown code {_short(raw)}; allowed: {', '.join(yf.LEAD_TIME_CODES)}",
                )
        jan = self.get("jan_code")
        if isinstance(jan, str) and jan and not yf.JAN_CODE_RE.match(jan):
            self.add(
                "jan_code",
                "jan_code_invalid",
                f"「{_short(jan)}」はJAN（8桁・13桁）かISBN（10桁・13桁）の半角数字にしてください",
                f"{_short(jan)} is not a JAN (8/13 digits) or ISBN (10/13) code",
            )
        for name in ("brand_id", "product_category_id"):
            value = self.get(name)
            if _int(value) is not None:
                value = str(value)
            if isinstance(value, str) and value and not (value.isascii() and value.isdigit()):
                self.add(
                    name,
                    "not_numeric",
                    f"は半角数字にしてください（「{_short(value)}」）",
                    f"must be digits, got {_short(value)}",
                )

    def sales_channel(self) -> None:
        channel = self.get("sales_channel")
        if channel == "店頭のみ":
            self.add(
                "sales_channel",
                "store_only",
                "が「店頭のみ」のため出品できません（併売かECのみにしてください）",
                "sales channel is store-only (店頭のみ): not for online listing",
            )

    def other_malls(self) -> None:
        malls = self.get("listed_on_other_malls")
        if not malls:
            return
        if not isinstance(malls, list | tuple | set | frozenset):
            malls = [malls]
        shown = "、".join(_short(m) for m in list(malls)[:5])
        self.add(
            "listed_on_other_malls",
            "listed_on_other_mall",
            f"あり: すでに他のモール（{shown}）に出品中のため、ヤフオクには出品できません",
            f"already listed on another mall ({shown}); cannot add Yahoo",
        )


# Text whose surrounding spaces (ASCII or full-width) carry nothing and are trimmed.
_TRIMMED: tuple[str, ...] = (
    "management_number",
    "title",
    "description",
    "keywords",
    "city",
    "folder_path",
    "category_id",
    "jan_code",
)


def fit_for_yahoo(listing: Any) -> list[str]:
    """Make text fit for Yahoo where the fix is mechanical and loses nothing (in place):

    - a newline in the description becomes ``<br>``: the upload file keeps a description on
      one line, and ReCORE's descriptions and condition notes are full of newlines;
    - surrounding spaces are trimmed.

    What cannot be fixed without changing the meaning (a title too long, a character cp932
    lacks) is left for `validate_listing` to refuse. Returns what changed, in English for the
    log. Never raises."""
    fixes: list[str] = []
    for name in _TRIMMED:
        value = getattr(listing, name, None)
        if not isinstance(value, str):
            continue
        fitted = value.strip()
        if name == "description":
            fitted = yf.description_html(fitted)
        if fitted != value:
            try:
                setattr(listing, name, fitted)
            except (AttributeError, TypeError):  # not a Listing: validation will say so
                continue
            fixes.append(f"{name}: newlines to <br> and surrounding spaces trimmed")
    return fixes


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")


def validate_listing(listing: Any) -> list[ListingError]:
    """All rule violations of one listing; empty when it may be listed. Never raises."""
    try:
        return _Checker(listing).run()
    except Exception as exc:  # noqa: BLE001 - last guard: validation must never raise
        log.exception("validation failed")
        return [
            make_error(
                listing,
                "ec_inventory_id",
                "check_failed",
                "の確認中に予期しないエラーが発生しました",
                f"validation failed unexpectedly: {type(exc).__name__}",
            )
        ]


# What Excel (and other spreadsheets) take for the start of a formula in a CSV cell.
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@")


def listing_warnings(listing: Any) -> list[ListingError]:
    """Notices that do not stop a listing. A title that starts like a spreadsheet formula goes
    to Yahoo unchanged (it is right there), but Excel would run it as a formula if staff opened
    the CSV in it. Never raises."""
    title = getattr(listing, "title", None)
    if not isinstance(title, str) or not title.startswith(FORMULA_STARTS):
        return []
    first = title[0]
    return [
        make_error(
            listing,
            "title",
            "formula_like_title",
            f"が「{first}」で始まっています。ヤフオクにはこのまま出品されますが、CSVをExcelで開くと"
            "数式として扱われることがあります。CSVはExcelで開かずにアップロードしてください",
            f"starts with {first!r}: listed on Yahoo as it is, but Excel may run it as a formula "
            "if the CSV is opened there",
        )
    ]


def _key(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return _short(value)
    return value


def validate_batch(
    listings: Iterable[Any], already_listed: Collection[str] = ()
) -> dict[Any, list[ListingError]]:
    """Errors of every listing by ec_inventory_id (an empty list = valid), plus batch rules:

    - the same 管理番号 twice in a batch (compared case-insensitively: Windows file names are);
    - a 管理番号 in `already_listed` (known to be on Yahoo: never list one 管理番号 twice).
    """
    items = list(listings)
    result: dict[Any, list[ListingError]] = {}
    seen: dict[str, list[Any]] = {}
    listed = {n.casefold() for n in already_listed if isinstance(n, str)}
    for item in items:
        key = _key(getattr(item, "ec_inventory_id", None))
        result.setdefault(key, []).extend(validate_listing(item))
        number = _usable_number(item)
        if number is not None:
            seen.setdefault(number.casefold(), []).append(item)
    for group in seen.values():
        for item in group:
            number = _usable_number(item) or ""
            errors = result[_key(getattr(item, "ec_inventory_id", None))]
            if len(group) > 1:
                others = "、".join(
                    _short(getattr(o, "ec_inventory_id", None)) for o in group if o is not item
                )
                errors.append(
                    make_error(
                        item,
                        "management_number",
                        "duplicate_management_number",
                        f"「{_short(number)}」が、同時に出品するほかの商品と同じです"
                        f"（同じ管理番号が{len(group)}件）",
                        f"{_short(number)!r} appears more than once in the batch (other ids: {others})",
                    )
                )
            if number.casefold() in listed:
                errors.append(
                    make_error(
                        item,
                        "management_number",
                        "already_listed",
                        f"「{_short(number)}」はすでにヤフオクに出品されています（二重出品を防ぐため除外）",
                        f"{_short(number)!r} is already listed on Yahoo (never listed twice)",
                    )
                )
    return result
