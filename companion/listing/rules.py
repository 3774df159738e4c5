"""The shop's own listing rules: Yahoo templates, the grade table and the category table.

ReCORE's spec shows a listing as a title, one photo and a price (no Yahoo field at all), so the
connector keeps what every Yahoo listing tool keeps for the shop:

- **templates** (`出品テンプレート`): a default template with every setting a Yahoo listing needs
  beyond the item itself (期間, 終了時間, 送料負担, 発送元, 配送グループ, 発送までの日数, 消費税,
  自動延長, 自動再出品, 最低評価, 入札者制限, 保存先フォルダ, the description's wording …), and named
  templates that override some of it for a ReCORE category (or its sub-categories) or a store;
- **grades** (`グレード → 商品の状態`): the shop's ReCORE grade names → Yahoo's 商品の状態;
- **categories** (`ReCOREカテゴリ → ヤフオクカテゴリ`): the shop's ReCORE categories → Yahoo
  category ids (a row for a parent category covers its sub-categories).

Each table is validated here when staff save it (Japanese for staff, English for logs), so a
listing built from them never fails on a template's value. `ListingRules` is the parsed form
`companion.listing.mapping` reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any

from companion.domain import CONDITIONS, ShopCategory
from companion.listing import yahoo_format as yf

NAME_MAX = 40
TEXT_MAX = 200
DESCRIPTION_MAX = 5000
MAX_NAMED = 50
MAX_ROWS = 2000

# ReCORE's spec shows one price per listing: it becomes the start price, and the buyout price
# too when the template says so (a fixed-price listing: the first bid wins).
PRICE_MODES: dict[str, str] = {
    "start_only": "ReCOREの価格を開始価格にする（即決価格なし）",
    "start_and_buyout": "ReCOREの価格を開始価格と即決価格にする（定額出品）",
}

# Words staff may put in the description template, and what each becomes.
PLACEHOLDERS: dict[str, str] = {
    "タイトル": "the listing's title",
    "管理番号": "the 管理番号",
    "状態": "Yahoo's 商品の状態",
    "グレード": "the ReCORE grade",
    "状態メモ": "ReCORE's condition note",
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

DEFAULT_DESCRIPTION = (
    "<p>{タイトル}</p><p>【商品の状態】{状態}（{グレード}）</p><p>{状態メモ}</p>"
    "<p>※店頭でも販売しているため、売り切れの際はキャンセルとさせていただく場合があります。</p>"
)


class RulesInvalid(ValueError):
    """What is wrong with a table: {path: (Japanese rule, English rule)}, path like
    `default.prefecture`, `named.1.categories` or `rows.3.yahoo_category_id`."""

    def __init__(self, fields: dict[str, tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{k}: {en}" for k, (_ja, en) in fields.items()))
        self.fields = fields


class _Bad(ValueError):
    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.ja = ja
        self.en = en


# --- one value ----------------------------------------------------------------------------------
Check = Callable[[Any], Any]


def _choice(allowed: tuple[Any, ...], shown: str) -> Check:
    def check(value: Any) -> Any:
        if isinstance(value, str) and all(isinstance(a, int) for a in allowed):
            value = int(value) if value.strip().lstrip("-").isdigit() else value
        if isinstance(value, bool) or value not in allowed:
            raise _Bad(f"{shown}から選んでください", f"must be one of {list(allowed)}")
        return value

    return check


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad("はい／いいえで指定してください", "must be true or false")
    return value


def _text(max_len: int, *, lines: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise _Bad("文字で入力してください", "must be text")
        value = value.strip()
        if len(value) > max_len:
            raise _Bad(f"{max_len}文字以内で入力してください", f"at most {max_len} characters")
        if not lines and any(ch in value for ch in "\r\n\t"):
            raise _Bad("改行を入れずに入力してください", "no newlines")
        bad = yf.cp932_bad_chars(value.replace("\r", "").replace("\n", "").replace("\t", ""))
        if bad:
            shown = "、".join(f"「{c}」(U+{ord(c):04X})" for c in bad[:5])
            raise _Bad(
                f"ヤフオクで使えない文字があります: {shown}",
                f"characters not encodable in cp932: {', '.join(hex(ord(c)) for c in bad[:5])}",
            )
        return value

    return check


def _optional_int(lo: int, hi: int) -> Check:
    def check(value: Any) -> int | None:
        if value is None or value == "":
            return None
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise _Bad(f"{lo}～{hi}の整数で入力してください", f"must be an integer {lo}..{hi}")
        return value

    return check


def _category_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = (
        str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    )
    if not (text.isascii() and text.isdigit()) or len(text) > yf.CATEGORY_MAX_DIGITS:
        raise _Bad(
            f"{yf.CATEGORY_MAX_DIGITS}桁以内の半角数字（ヤフオクのカテゴリID）で入力してください",
            f"must be a numeric Yahoo category id of at most {yf.CATEGORY_MAX_DIGITS} digits",
        )
    return text


def _description(value: Any) -> str | None:
    text = _text(DESCRIPTION_MAX, lines=True)(value)
    if text is None:
        return None
    unknown = [m for m in _PLACEHOLDER.findall(text) if m not in PLACEHOLDERS]
    if unknown:
        allowed = "、".join(f"{{{p}}}" for p in PLACEHOLDERS)
        raise _Bad(
            f"「{{{unknown[0]}}}」は使えません（使えるのは {allowed}）",
            f"unknown placeholder {{{unknown[0]}}}",
        )
    return text


@dataclass(frozen=True)
class TemplateField:
    label: str
    check: Check
    default: Any = None


# Every setting a template holds, in the order the options page shows them. The labels are the
# words of Yahoo's own upload file and form.
TEMPLATE_FIELDS: dict[str, TemplateField] = {
    "duration_days": TemplateField("期間（日）", _choice(yf.DURATION_DAYS, "1～7日"), 7),
    "end_hour": TemplateField("終了時間（時）", _choice(yf.END_HOURS, "0～23時"), 22),
    "shipping_payer": TemplateField(
        "送料負担", _choice(yf.SHIPPING_PAYERS, "落札者・出品者"), "落札者"
    ),
    "prefecture": TemplateField(
        "商品発送元の都道府県", _choice(yf.PREFECTURES, "都道府県名（例: 東京都）")
    ),
    "city": TemplateField("商品発送元の市区町村", _text(TEXT_MAX)),
    "delivery_group": TemplateField("配送グループ", _choice(yf.DELIVERY_GROUPS, "1～7"), 1),
    "lead_time_code": TemplateField(
        "発送までの日数",
        _choice(tuple(yf.LEAD_TIME_CODES), "、".join(yf.LEAD_TIME_CODES.values())),
        "2",
    ),
    "tax_rate": TemplateField("消費税設定（%）", _choice(yf.TAX_RATES, "0・8・10"), 10),
    "tax_included": TemplateField("税込み", _flag, True),
    "auto_extend": TemplateField("自動延長", _flag, True),
    "resubmit_count": TemplateField("自動再出品（回）", _choice(yf.RESUBMIT_COUNTS, "0～3回"), 0),
    "min_rating": TemplateField("最低評価", _optional_int(-99999, 99999)),
    "bad_rating_limit": TemplateField("悪い評価の割合で制限", _flag, False),
    "bidder_auth_limit": TemplateField("入札者認証制限", _flag, False),
    "folder_path": TemplateField("商品保存先フォルダ", _text(TEXT_MAX)),
    "size_class": TemplateField("重量設定", _optional_int(0, 99999)),
    "category_id": TemplateField("ヤフオクのカテゴリID（対応表にないとき）", _category_id),
    "price_mode": TemplateField(
        "価格の使い方",
        _choice(tuple(PRICE_MODES), "、".join(PRICE_MODES.values())),
        "start_only",
    ),
    "description": TemplateField("説明のひな形", _description, DEFAULT_DESCRIPTION),
}

DEFAULT_TEMPLATES: dict[str, Any] = {
    "default": {name: spec.default for name, spec in TEMPLATE_FIELDS.items()},
    "named": [],
}

# A preset for grade names many shops use; staff change it to their own names.
DEFAULT_GRADES: dict[str, str] = {
    "新品": "未使用",
    "未使用": "未使用",
    "中古S": "未使用に近い",
    "中古A": "目立った傷や汚れなし",
    "中古B": "やや傷や汚れあり",
    "中古C": "傷や汚れあり",
    "ジャンク": "全体的に状態が悪い",
}

DEFAULT_CATEGORIES: list[dict[str, Any]] = []


# --- whole tables ---------------------------------------------------------------------------------
def _fields(
    raw: Any, path: str, errors: dict[str, tuple[str, str]], *, partial: bool
) -> dict[str, Any]:
    """A template's settings, checked; `partial` (named templates) keeps only those set."""
    if not isinstance(raw, Mapping):
        errors[path] = ("設定の形式が正しくありません", "must be an object")
        return {}
    out: dict[str, Any] = {}
    for name, value in raw.items():
        spec = TEMPLATE_FIELDS.get(name) if isinstance(name, str) else None
        if spec is None:
            errors[f"{path}.{name}"] = ("この項目はありません", "unknown setting")
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            if not partial:
                out[name] = None  # left blank: a listing that needs it is held (情報不足)
            continue  # named: not set here, the default template's value applies
        try:
            out[name] = spec.check(value)
        except _Bad as exc:
            errors[f"{path}.{name}"] = (f"{spec.label}: {exc.ja}", exc.en)
    if not partial:
        for name, spec in TEMPLATE_FIELDS.items():
            if name not in raw:
                out.setdefault(name, spec.default)
    return out


def _id_list(raw: Any, path: str, errors: dict[str, tuple[str, str]], label: str) -> list[int]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        raw = [part for part in re.split(r"[,、\s]+", raw) if part]
    if not isinstance(raw, list) or len(raw) > MAX_ROWS:
        errors[path] = (f"{label}は数字のリストで入力してください", "must be a list of ids")
        return []
    out: list[int] = []
    for value in raw:
        number = int(value) if isinstance(value, str) and value.strip().isdigit() else value
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            errors[path] = (
                f"{label}は数字（ID）で入力してください（「{value}」）",
                f"bad id {value!r}",
            )
            return []
        if number not in out:
            out.append(number)
    return out


def validate_templates(raw: Any) -> dict[str, Any]:
    """`{"default": {…every setting…}, "named": [{"name", "categories", "stores", "fields"}]}`."""
    errors: dict[str, tuple[str, str]] = {}
    if not isinstance(raw, Mapping):
        raise RulesInvalid(
            {"templates": ("テンプレートの形式が正しくありません", "must be an object")}
        )
    default = _fields(raw.get("default", {}), "default", errors, partial=False)
    named_raw = raw.get("named", [])
    named: list[dict[str, Any]] = []
    if not isinstance(named_raw, list) or len(named_raw) > MAX_NAMED:
        errors["named"] = (
            f"名前付きテンプレートは{MAX_NAMED}件までのリストにしてください",
            f"named must be a list of at most {MAX_NAMED}",
        )
        named_raw = []
    names: set[str] = set()
    for n, entry in enumerate(named_raw):
        path = f"named.{n}"
        if not isinstance(entry, Mapping):
            errors[path] = ("テンプレートの形式が正しくありません", "must be an object")
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
            errors[f"{path}.name"] = (
                f"テンプレート名を{NAME_MAX}文字以内で入力してください",
                f"name is required, at most {NAME_MAX} characters",
            )
            name = ""
        name = name.strip()
        if name and name in names:
            errors[f"{path}.name"] = (f"テンプレート名「{name}」が重複しています", "duplicate name")
        names.add(name)
        categories = _id_list(entry.get("categories"), f"{path}.categories", errors, "カテゴリID")
        stores = _id_list(entry.get("stores"), f"{path}.stores", errors, "店舗ID")
        if not categories and not stores:
            errors[f"{path}.categories"] = (
                f"「{name or n + 1}」を使うReCOREのカテゴリIDか店舗IDを入力してください",
                "a named template needs categories or stores to apply to",
            )
        fields = _fields(entry.get("fields", {}), f"{path}.fields", errors, partial=True)
        named.append({"name": name, "categories": categories, "stores": stores, "fields": fields})
    if errors:
        raise RulesInvalid(errors)
    return {"default": default, "named": named}


def validate_grades(raw: Any) -> dict[str, str]:
    """`{"中古A": "目立った傷や汚れなし", …}`: each grade name → one of Yahoo's conditions."""
    if not isinstance(raw, Mapping) or len(raw) > MAX_ROWS:
        raise RulesInvalid({"grades": ("対応表の形式が正しくありません", "must be an object")})
    errors: dict[str, tuple[str, str]] = {}
    out: dict[str, str] = {}
    for grade, condition in raw.items():
        name = grade.strip() if isinstance(grade, str) else ""
        if not name or len(name) > NAME_MAX:
            errors[str(grade)] = (
                f"グレード名を{NAME_MAX}文字以内で入力してください",
                "grade name is required",
            )
            continue
        if condition not in CONDITIONS:
            errors[name] = (
                f"「{name}」の商品の状態を選んでください（{'、'.join(CONDITIONS)}）",
                f"{name!r} must map to one of Yahoo's conditions",
            )
            continue
        out[name] = condition
    if errors:
        raise RulesInvalid(errors)
    return out


def validate_categories(raw: Any) -> list[dict[str, Any]]:
    """`[{"recore_category_id", "recore_category_name", "yahoo_category_id"}]`, one row per
    ReCORE category (the name is for staff only)."""
    if not isinstance(raw, list) or len(raw) > MAX_ROWS:
        raise RulesInvalid({"rows": ("対応表の形式が正しくありません", "must be a list of rows")})
    errors: dict[str, tuple[str, str]] = {}
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for n, row in enumerate(raw):
        path = f"rows.{n}"
        if not isinstance(row, Mapping):
            errors[path] = ("行の形式が正しくありません", "must be an object")
            continue
        ids = _id_list(
            [row.get("recore_category_id")],
            f"{path}.recore_category_id",
            errors,
            "ReCOREのカテゴリID",
        )
        try:
            yahoo = _category_id(row.get("yahoo_category_id"))
            if yahoo is None:
                raise _Bad(
                    "ヤフオクのカテゴリIDを入力してください", "yahoo_category_id is required"
                )
        except _Bad as exc:
            errors[f"{path}.yahoo_category_id"] = (exc.ja, exc.en)
            yahoo = None
        try:
            name = _text(NAME_MAX * 2)(row.get("recore_category_name"))
        except _Bad as exc:
            errors[f"{path}.recore_category_name"] = (exc.ja, exc.en)
            name = None
        if not ids or yahoo is None:
            continue
        if ids[0] in seen:
            errors[f"{path}.recore_category_id"] = (
                f"ReCOREのカテゴリID {ids[0]} が重複しています",
                f"duplicate ReCORE category {ids[0]}",
            )
            continue
        seen.add(ids[0])
        out.append(
            {"recore_category_id": ids[0], "recore_category_name": name, "yahoo_category_id": yahoo}
        )
    if errors:
        raise RulesInvalid(errors)
    return out


# --- the parsed rules -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ChosenTemplate:
    name: str  # 「標準」 for the default template
    fields: dict[str, Any]


@dataclass(frozen=True)
class ListingRules:
    """The three tables as the mapping reads them (already validated)."""

    templates: dict[str, Any] = field(default_factory=lambda: DEFAULT_TEMPLATES)
    grades: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_GRADES))
    categories: list[dict[str, Any]] = field(default_factory=list)

    def template_for(self, category: ShopCategory | None, store_id: int | None) -> ChosenTemplate:
        """The named template for the item's category (nearest first: the category, then its
        parents) or, failing that, its store; over the default template. None matching: the
        default template alone."""
        default = dict(self.templates.get("default") or DEFAULT_TEMPLATES["default"])
        named = self.templates.get("named") or []
        lineage = [cid for cid, _ in category.lineage()] if category is not None else []
        chosen = None
        for cid in lineage:
            chosen = next((t for t in named if cid is not None and cid in t["categories"]), None)
            if chosen is not None:
                break
        if chosen is None and store_id is not None:
            chosen = next((t for t in named if store_id in t["stores"]), None)
        if chosen is None:
            return ChosenTemplate("標準", default)
        return ChosenTemplate(chosen["name"], default | chosen["fields"])

    def condition_for(self, grade: str | None) -> str | None:
        return self.grades.get(grade.strip()) if grade else None

    def yahoo_category_for(self, category: ShopCategory | None) -> str | None:
        """The Yahoo category of the item's ReCORE category, or of its nearest listed parent."""
        if category is None:
            return None
        rows = {row["recore_category_id"]: row["yahoo_category_id"] for row in self.categories}
        for cid, _name in category.lineage():
            if cid in rows:
                return rows[cid]
        return None


def render_description(template: str, values: Mapping[str, str | None]) -> str:
    """The description template with its placeholders filled (values HTML-escaped: they are
    ReCORE's plain text inside Yahoo's HTML description)."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return escape(value, quote=False) if value else ""

    return _PLACEHOLDER.sub(fill, template)
