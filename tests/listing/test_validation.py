"""One test per rule (the Japanese message names the item, the field and the rule with the value,
in staff wording; the English one keeps the technical detail), batch rules, and a property test
that no input makes validation raise."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.domain import Listing
from companion.listing import yahoo_format as yf
from companion.listing.validation import ListingError, validate_batch, validate_listing
from tests.listing.conftest import make_listing


def test_a_valid_listing_has_no_errors() -> None:
    assert validate_listing(make_listing(1)) == []


# (overrides, field, rule, fragments the Japanese message must contain besides item and label;
# a fragment "en:…" is for the English message, which goes to the log)
RULES: list[tuple[dict[str, Any], str, str, list[str]]] = [
    ({"title": None}, "title", "title_missing", ["ありません"]),
    ({"title": "  "}, "title", "title_missing", ["ありません"]),
    ({"title": "あ" * 60 + "x" * 20}, "title", "title_too_long", ["65文字まで", "いま70文字"]),
    ({"title": "あ" * 65 + "x"}, "title", "title_too_long", ["65.5文字"]),
    ({"title": 123}, "title", "not_text", ["文字列ではありません"]),
    ({"title": "カメラ😀"}, "title", "text_not_cp932", ["「😀」", "en:U+1F600"]),
    ({"city": "豊島区〜"}, "city", "text_not_cp932", ["「〜」→「～」", "en:U+301C"]),
    ({"title": "a\tb"}, "title", "control_character", ["タブ", "en:U+0009"]),
    ({"keywords": "a\nb"}, "keywords", "control_character", ["改行", "en:U+000A"]),
    (
        {"description": "一行目\n二行目\n三行目"},
        "description",
        "description_newline",
        ["改行", "2か所"],
    ),
    ({"description": "a\x00b"}, "description", "control_character", ["特殊文字", "en:U+0000"]),
    ({"start_price": None}, "start_price", "start_price_missing", ["ありません"]),
    ({"start_price": 0}, "start_price", "start_price_too_low", ["1円以上", "0円"]),
    ({"start_price": "1000"}, "start_price", "not_integer", ["整数", "1000"]),
    ({"start_price": 12.5}, "start_price", "not_integer", ["12.5"]),
    (
        {"start_price": 1000, "buyout_price": 999},
        "buyout_price",
        "buyout_below_start",
        ["999円", "1000円"],
    ),
    ({"buyout_price": -1}, "buyout_price", "buyout_below_start", ["-1円"]),
    (
        {"start_price": 10**12, "buyout_price": 0},
        "start_price",
        "price_too_high",
        ["999,999,999円以下", "1,000,000,000,000円"],
    ),
    ({"buyout_price": 1_000_000_000}, "buyout_price", "price_too_high", ["1,000,000,000円"]),
    ({"title": "<b>限定</b> カメラ"}, "title", "title_html", ["HTMLタグ", "<b>"]),
    ({"title": "カメラ <script src=x>"}, "title", "title_html", ["<script src=x>"]),
    ({"title": "カメラ <BR>"}, "title", "title_html", ["<BR>"]),
    ({"title": "<x-tag data-a=1>カメラ"}, "title", "title_html", ["<x-tag data-a="]),
    ({"title": "<!-- x --> カメラ"}, "title", "title_html", ["<!--"]),
    ({"buyout_price": "x"}, "buyout_price", "not_integer", ["x"]),
    ({"quantity": 0}, "quantity", "quantity_invalid", ["1以上", "0"]),
    ({"quantity": None}, "quantity", "quantity_missing", ["ありません"]),
    ({"duration_days": 8}, "duration_days", "duration_invalid", ["1～7日", "8"]),
    ({"duration_days": None}, "duration_days", "duration_missing", ["ありません"]),
    ({"end_hour": 24}, "end_hour", "end_hour_invalid", ["0～23時", "24"]),
    ({"end_hour": True}, "end_hour", "end_hour_invalid", ["True"]),
    ({"condition": "新品"}, "condition", "condition_invalid", ["新品", "未使用"]),
    ({"condition": None}, "condition", "condition_missing", ["ありません"]),
    ({"image_urls": []}, "image_urls", "images_missing", ["1枚もありません"]),
    (
        {"image_urls": [f"http://x/{i}.jpg" for i in range(11)]},
        "image_urls",
        "too_many_images",
        ["10枚", "11枚"],
    ),
    ({"image_urls": ["ftp://x/1.jpg"]}, "image_1", "image_url_invalid", ["ftp://x/1.jpg"]),
    ({"category_id": None}, "category_id", "category_missing", ["ありません"]),
    ({"category_id": "カメラ"}, "category_id", "category_not_numeric", ["数字", "カメラ"]),
    ({"management_number": None}, "management_number", "management_number_missing", ["ありません"]),
    (
        {"management_number": "../etc/passwd"},
        "management_number",
        "management_number_invalid",
        ["../etc/passwd", "ファイル名"],
    ),
    ({"management_number": "A/1"}, "management_number", "management_number_invalid", ["A/1"]),
    ({"management_number": "商品1"}, "management_number", "management_number_invalid", ["商品1"]),
    ({"sales_channel": "店頭のみ"}, "sales_channel", "store_only", ["店頭のみ"]),
    (
        {"listed_on_other_malls": ["amazon"]},
        "listed_on_other_malls",
        "listed_on_other_mall",
        ["amazon"],
    ),
    (
        {"unparsed": {"start_price": "abc"}, "start_price": None},
        "start_price",
        "unparsed_value",
        ["abc", "読み取れません"],
    ),
    ({"shipping_payer": "着払い"}, "shipping_payer", "shipping_payer_invalid", ["着払い"]),
    ({"prefecture": "東京"}, "prefecture", "prefecture_invalid", ["東京"]),
    ({"resubmit_count": 4}, "resubmit_count", "resubmit_count_invalid", ["0～3回", "4"]),
    ({"delivery_group": 8}, "delivery_group", "delivery_group_invalid", ["1～7", "8"]),
    ({"tax_rate": 5}, "tax_rate", "tax_rate_invalid", ["0、8、10", "5"]),
    ({"size_class": -1}, "size_class", "negative_value", ["-1"]),
    ({"description": None}, "description", "description_missing", ["ありません"]),
    (
        {"description": "あ" * 25_001},
        "description",
        "description_too_long",
        ["25,000文字", "25,001文字"],
    ),
    ({"prefecture": None}, "prefecture", "prefecture_missing", ["ありません"]),
    ({"shipping_payer": ""}, "shipping_payer", "shipping_payer_missing", ["ありません"]),
    ({"delivery_group": None}, "delivery_group", "delivery_group_missing", ["ありません"]),
    ({"lead_time_code": None}, "lead_time_code", "lead_time_missing", ["ありません"]),
    (
        {"lead_time_code": "9"},
        "lead_time_code",
        "lead_time_invalid",
        ["「9」", "1（1～2日で発送）"],
    ),
    ({"jan_code": "12345"}, "jan_code", "jan_code_invalid", ["12345", "JAN"]),
    ({"brand_id": "B12"}, "brand_id", "not_numeric", ["B12"]),
    (
        {"category_id": "12345678901"},
        "category_id",
        "category_not_numeric",
        ["10桁", "12345678901"],
    ),
    ({"min_rating": "5"}, "min_rating", "not_integer", ["5"]),
    (
        {"payment_methods": ["銀行_振込"]},
        "payment_methods",
        "multi_value_separator",
        ["銀行_振込", "「_」"],
    ),
]


@pytest.mark.parametrize(
    ("overrides", "field", "rule", "fragments"), RULES, ids=[r[2] + "-" + r[1] for r in RULES]
)
def test_rule(overrides: dict[str, Any], field: str, rule: str, fragments: list[str]) -> None:
    item = make_listing(7, **overrides)
    errors = validate_listing(item)
    matching = [e for e in errors if e.rule == rule and e.field == field]
    assert matching, errors
    error = matching[0]
    # The item: by 管理番号, or by its title when the 管理番号 itself is the problem.
    number_ok = isinstance(item.management_number, str) and item.management_number.isprintable()
    item_name = (
        f"管理番号 {item.management_number}"
        if number_ok
        else "「テスト商品 Nikon F3 ボディ 動…」（管理番号なし）"
    )
    assert error.message.startswith(f"{item_name}: "), error.message
    assert error.message == f"{error.item}: {error.problem}"
    assert yf.field_label(field) in error.problem
    for fragment in fragments:
        if fragment.startswith("en:"):
            assert fragment[3:] in error.message_en, (fragment, error.message_en)
        else:
            assert fragment in error.message, (fragment, error.message)
    assert error.message_en and field in error.message_en
    # staff wording: no code points, internal ids, markup or encoding names; what to do in ReCORE
    for jargon in ("U+", "<br>", "cp932", "Shift_JIS"):
        assert jargon not in error.message, (jargon, error.message)
    assert not re.search(r"ID[:：]?\s*\d", error.message), error.message
    if rule != "listed_on_other_mall":
        assert "ReCOREで" in error.problem, error.problem
    assert error.ec_inventory_id == 7
    assert error.to_dict()["rule"] == rule
    # the broken field is the only complaint (one rule, one error)
    assert {e.rule for e in errors} == {rule} or rule in ("buyout_below_start",), errors


@pytest.mark.parametrize("title", ["Tシャツ <M> 綿", "1<2 の証明", "矢印 <- と ->", "<新品> 電卓"])
def test_brackets_that_are_not_html_are_allowed_in_a_title(title: str) -> None:
    assert validate_listing(make_listing(1, title=title)) == []


def test_unparsed_field_is_reported_once() -> None:
    item = make_listing(1, start_price=None, unparsed={"start_price": "abc"})
    assert [e.rule for e in validate_listing(item)] == ["unparsed_value"]


def test_item_without_usable_management_number_is_named_by_its_title() -> None:
    errors = validate_listing(make_listing(42, management_number=None, title="ニコン F3"))
    assert errors[0].message == (
        "「ニコン F3」（管理番号なし）: 管理番号がありません。ReCOREで管理番号を入力してください"
    )
    assert errors[0].message_en == "ID 42: management_number: missing"  # the log has the id
    assert errors[0].management_number is None
    (error,) = validate_listing(make_listing(43, management_number=None, title=None))[:1]
    assert error.message.startswith("管理番号もタイトルもない商品: ")


def test_error_example_from_the_api_doc() -> None:
    item = make_listing(7, title="あ" * 60 + "x" * 20)
    (error,) = validate_listing(item)
    assert error.message == (
        "管理番号 A-0007: タイトルが長すぎます（65文字まで、いま70文字。"
        "半角文字は0.5文字と数えます）。ReCOREでタイトルを短くしてください"
    )
    assert (
        error.message_en
        == "A-0007: title: longer than 65 characters (70 counting half-width as 0.5)"
    )
    assert error.to_dict() == {
        "ec_inventory_id": 7,
        "management_number": "A-0007",
        "field": "title",
        "rule": "title_too_long",
        "message": error.message,
        "message_en": error.message_en,
        "item": "管理番号 A-0007",
        "problem": error.message.removeprefix("管理番号 A-0007: "),
    }


def test_batch_rules() -> None:
    items = [make_listing(1), make_listing(2, management_number="a-0001"), make_listing(3)]
    result = validate_batch(items, already_listed=["A-0003"])
    assert set(result) == {1, 2, 3}
    assert [e.rule for e in result[1]] == ["duplicate_management_number"]
    assert "同じ管理番号が2件" in result[1][0].message and "ID" not in result[1][0].message
    assert "other ids: 2" in result[1][0].message_en
    assert [e.rule for e in result[2]] == ["duplicate_management_number"]
    assert [e.rule for e in result[3]] == ["already_listed"]
    assert result[3][0].message.startswith("管理番号 A-0003: 管理番号")


def test_batch_of_valid_items_has_empty_lists() -> None:
    assert validate_batch([make_listing(i) for i in range(1, 4)]) == {1: [], 2: [], 3: []}


class Hostile:
    """Not a Listing: attributes that blow up on use."""

    ec_inventory_id = [1]  # unhashable

    @property
    def title(self) -> str:
        raise RuntimeError("boom")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_hostile_objects_do_not_raise() -> None:
    for thing in (None, 1, "x", object(), Hostile(), {"title": "x"}):
        errors = validate_listing(thing)
        assert errors and all(isinstance(e, ListingError) for e in errors)
    assert validate_batch([None, Hostile(), Hostile()])


def test_huge_lists_are_reported_not_walked_forever() -> None:
    item = make_listing(
        1,
        image_urls=["ftp://x"] * 100_000,
        payment_methods=["a"] * 100_000,
        listed_on_other_malls=["m"] * 100_000,
        unparsed={f"f{i}": i for i in range(10_000)},
    )
    errors = validate_listing(item)
    rules = [e.rule for e in errors]
    assert "too_many_images" in rules and "listed_on_other_mall" in rules
    assert len(errors) < 200  # bounded: at most 10 image errors, 100 unparsed fields


# --- never raises, whatever comes in ----------------------------------------------------------
anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=20,
)
FIELDS = [f for f in Listing.__slots__ if f not in ("ec_inventory_id",)]  # type: ignore[attr-defined]


@st.composite
def arbitrary_listings(draw: st.DrawFn) -> Listing:
    values = {f: draw(anything) for f in draw(st.lists(st.sampled_from(FIELDS), unique=True))}
    if draw(st.booleans()):
        values["image_urls"] = draw(st.lists(anything, max_size=40))
    return (
        Listing(ec_inventory_id=draw(anything), management_number=None, title=None)
        if not values
        else (
            Listing(
                **{
                    "ec_inventory_id": draw(anything),
                    "management_number": None,
                    "title": None,
                    **values,
                }
            )
        )
    )


@settings(max_examples=150, deadline=None)
@given(items=st.lists(arbitrary_listings(), max_size=5))
def test_validation_never_raises(items: list[Listing]) -> None:
    for item in items:
        errors = validate_listing(item)
        assert isinstance(errors, list)
        for e in errors:
            assert isinstance(e.message, str) and isinstance(e.message_en, str) and e.rule
            assert e.rule != "check_failed", e  # no rule crashed either
    assert isinstance(validate_batch(items), dict)


@settings(max_examples=50, deadline=None)
@given(text=st.text(min_size=0, max_size=2000))
def test_any_text_in_any_text_field_never_raises(text: str) -> None:
    for name in yf.TEXT_FIELDS:
        errors = validate_listing(make_listing(1, **{name: text}))
        assert all(e.rule != "check_failed" for e in errors)
