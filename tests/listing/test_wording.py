"""The refused-items list staff read: one entry per item with all of its problems, sorted by
管理番号, in words a shop employee understands (the technical detail stays in the English)."""

from __future__ import annotations

from companion.listing.validation import validate_batch
from companion.listing.wording import char_for_staff, refused_items, refused_text
from tests.listing.conftest import make_listing


def test_one_entry_per_item_sorted_by_management_number_with_every_problem() -> None:
    items = [
        make_listing(5026, management_number="B-10", title="カメラ😀" + "あ" * 70),
        make_listing(2, management_number="B-2", start_price=1000, buyout_price=999),
        make_listing(3, management_number="A-1", description="一行目\n二行目"),
        make_listing(4, management_number="B-2", title="同じ管理番号のもう一つ"),
        make_listing(6, management_number=None, title="管理番号を入れ忘れた商品"),
    ]
    errors = [e.to_dict() for errs in validate_batch(items).values() for e in errs]
    refused = refused_items(errors)

    assert [entry["label"] for entry in refused] == [
        "管理番号 A-1",
        "管理番号 B-2",  # before B-10: numbers in a 管理番号 count as numbers
        "管理番号 B-10",
        "「管理番号を入れ忘れた商品」（管理番号なし）",  # no 管理番号: last
    ]
    by_label = {entry["label"]: entry for entry in refused}
    # both listings that share B-2 are one entry; the duplicate is said once, with the price
    b2 = by_label["管理番号 B-2"]
    assert sorted(b2["listing_ids"]) == [2, 4]
    assert [p["rule"] for p in b2["problems"]] == [
        "buyout_below_start",
        "duplicate_management_number",
    ]
    # the long title and the emoji of one item are one entry with two problems
    b10 = by_label["管理番号 B-10"]
    assert {p["field_label"] for p in b10["problems"]} == {"タイトル"}
    assert {p["rule"] for p in b10["problems"]} == {"title_too_long", "text_not_cp932"}
    text = "\n".join(refused_text(entry) for entry in refused)
    for jargon in ("U+", "<br>", "cp932", "Shift_JIS", "ほかのID", "5026"):
        assert jargon not in text, (jargon, text)
    assert "「😀」" in text
    # …while the log keeps the technical detail
    assert any("U+1F600" in e["message_en"] for e in errors)
    assert any("5026" in e["message_en"] or "other ids" in e["message_en"] for e in errors)


def test_rows_stored_before_the_item_and_problem_keys_still_group() -> None:
    old = [
        {
            "ec_inventory_id": 7,
            "management_number": "A-7",
            "field": "title",
            "rule": "title_too_long",
            "message": "管理番号 A-7: タイトルが65文字を超えています",
            "message_en": "A-7: title: too long",
        }
    ]
    (entry,) = refused_items(old)
    assert entry["label"] == "管理番号 A-7"
    assert entry["problems"][0]["message"] == "タイトルが65文字を超えています"


def test_invisible_characters_are_named_not_numbered() -> None:
    assert char_for_staff("\n") == "改行"
    assert char_for_staff("\t") == "タブ"
    assert char_for_staff("\x00") == "目に見えない特殊文字"
    assert char_for_staff("😀") == "「😀」"
