"""What shop staff read about a listing that cannot go to Yahoo: the one place that turns a
validation error into staff wording, and groups a batch's refused items for the popup.

A rule (validation, images) says what is wrong with a field in plain words. Here the field's
Japanese name goes in front and what to do in ReCORE goes after. Staff never see code points,
internal ids, markup or encoding names: those stay in the English `message_en`, which goes to
the log.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from companion.listing import yahoo_format as yf

# What to do, by rule; a rule not named here gets "ReCOREで<field>を直してください".
_FIXES: dict[str, str] = {
    "title_too_long": "ReCOREで{label}を短くしてください",
    "description_too_long": "ReCOREで{label}を短くしてください",
    "text_not_cp932": "ReCOREでその文字を消すか、ほかの文字に置き換えてください",
    "control_character": "ReCOREでその文字を消してください",
    "description_newline": "ReCOREで{label}の改行を消して、1行にしてください",
    # a hold (情報不足): the message itself says where to fill it (the connector's tables)
    "missing_for_yahoo": "",
    "duplicate_management_number": "ReCOREでどちらかの{label}を変えてください",
    "already_listed": "",  # nothing to fix: it is on Yahoo already
    "store_only": "ReCOREで販路を「併売」か「ECのみ」にしてください",
    "listed_on_other_mall": "",
    "formula_like_title": "",  # a warning: right for Yahoo, nothing to change in ReCORE
    "images_missing": "ReCOREで画像を登録してください",
    "too_many_images": "ReCOREで画像を減らしてください",
    "image_fetch_failed": "ReCOREで画像を確認し、登録し直してください",
    "image_broken": "ReCOREで画像を登録し直してください",
    "image_too_large": "ReCOREで小さい画像に差し替えてください",
    "image_url_invalid": "ReCOREで画像を登録し直してください",
    "check_failed": "もう一度お試しください。続くときは管理者に連絡してください",
}


def field_name(field: str) -> str:
    """The field as staff know it; a problem with the item as a whole is about its 出品データ."""
    return "出品データ" if field in ("", "ec_inventory_id") else yf.field_label(field)


def _fix(field: str, rule: str) -> str:
    label = field_name(field)
    if rule in _FIXES:
        return _FIXES[rule].format(label=label)
    if rule.endswith("_missing"):
        return f"ReCOREで{label}を入力してください"
    return f"ReCOREで{label}を直してください"


def problem_text(field: str, rule: str, what: str) -> str:
    """「タイトルが長すぎます（65文字まで、いま70文字）。ReCOREでタイトルを短くしてください」

    `what` continues the field's name (「が長すぎます…」, 「の値…」, 「は…にしてください」)."""
    fix = _fix(field, rule)
    text = f"{field_name(field)}{what}"
    return f"{text}。{fix}" if fix else text


_INVISIBLE_NAMES = {"\n": "改行", "\r": "改行", "\t": "タブ", "\u3000": "全角スペース"}


def char_for_staff(ch: str) -> str:
    """A character as staff can find it in ReCORE: 「😀」, or a name for what cannot be seen."""
    if ch in _INVISIBLE_NAMES:
        return _INVISIBLE_NAMES[ch]
    if ch.isprintable() and not ch.isspace():
        return f"「{ch}」"
    if ch.isspace():
        return "特殊な空白"
    return "目に見えない特殊文字"


def chars_for_staff(chars: Iterable[str], limit: int = 5) -> str:
    """「😀」、改行 … (each name once, at most `limit`, then ほかN種)."""
    names = list(dict.fromkeys(char_for_staff(ch) for ch in chars))
    shown = "、".join(names[:limit])
    return shown + (f" ほか{len(names) - limit}種" if len(names) > limit else "")


# --- grouping ------------------------------------------------------------------------------------
def _natural(text: str) -> list[Any]:
    """A-2 before A-10: digit runs compare as numbers."""
    return [
        (0, int(part)) if part.isdigit() else (1, part.casefold())
        for part in re.split(r"(\d+)", unicodedata.normalize("NFKC", text))
        if part
    ]


def _problem_of(error: dict[str, Any]) -> str:
    """The problem without the item's name (rows stored before `problem` existed have it only
    inside `message`, after 「管理番号 A-1: 」)."""
    problem = error.get("problem")
    if isinstance(problem, str) and problem:
        return problem
    message = str(error.get("message") or "")
    number = error.get("management_number")
    prefix = f"管理番号 {number}: " if number else ""
    return message.removeprefix(prefix) if prefix else message


def item_label(error: dict[str, Any]) -> str:
    """How staff know the item: its 管理番号, else its title (`ListingError.item`)."""
    item = error.get("item")
    if isinstance(item, str) and item:
        return item
    number = error.get("management_number")
    if isinstance(number, str) and number:
        return f"管理番号 {number}"
    return "管理番号のない商品"


def refused_items(errors: Iterable[Any]) -> list[dict[str, Any]]:
    """One entry per item (all of its problems, each once), sorted by 管理番号; items without a
    usable 管理番号 come last. `errors` are `ListingError.to_dict()` rows."""
    entries: dict[str, dict[str, Any]] = {}
    for error in errors:
        if not isinstance(error, dict):
            continue
        number = error.get("management_number")
        number = number if isinstance(number, str) and number else None
        label = item_label(error)
        key = f"n:{number}" if number else f"l:{label}"
        entry = entries.setdefault(
            key,
            {"management_number": number, "label": label, "listing_ids": [], "problems": []},
        )
        listing_id = error.get("listing_id", error.get("ec_inventory_id"))
        if listing_id is not None and listing_id not in entry["listing_ids"]:
            entry["listing_ids"].append(listing_id)
        field = str(error.get("field") or "")
        problem = {
            "field": field,
            "field_label": field_name(field),
            "rule": error.get("rule"),
            "message": _problem_of(error),
            # the English UI's words (the log's: it names the field by its attribute)
            "message_en": str(error.get("message_en") or "").partition(": ")[2]
            or str(error.get("message_en") or ""),
        }
        if all(p["message"] != problem["message"] for p in entry["problems"]):
            entry["problems"].append(problem)
    return sorted(
        entries.values(),
        key=lambda e: (
            e["management_number"] is None,
            _natural(e["management_number"] or e["label"]),
        ),
    )


def refused_text(entry: dict[str, Any]) -> str:
    """One line for a job item or a log: 「管理番号 A-1: 問題1 / 問題2」."""
    return f"{entry['label']}: " + " / ".join(p["message"] for p in entry["problems"])
