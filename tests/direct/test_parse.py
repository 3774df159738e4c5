"""The parsers and the page facts, on pages saved from the Yahoo sandbox (`save_pages.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.domain import Listing
from scrapers import parse, site
from scrapers.errors import ItemError, SessionLost
from scrapers.pages import form_values, missing_on_form, page_problem
from scrapers.parse import PageKind
from scrapers.site import YahooUrls

PAGES = Path(__file__).with_name("pages")


def page(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("login_handle.html", PageKind.LOGIN_HANDLE),
        ("login_password.html", PageKind.LOGIN_PASSWORD),
        ("login_wrong_password.html", PageKind.LOGIN_PASSWORD),
        ("login_captcha.html", PageKind.CAPTCHA),
        ("login_sms.html", PageKind.SMS),
        ("login_business.html", PageKind.BUSINESS),
        ("busy_503.html", PageKind.BUSY),
        ("store_top.html", PageKind.OTHER),
        ("item_form.html", PageKind.OTHER),
        ("item_list_p1.html", PageKind.OTHER),
        ("item_complete.html", PageKind.OTHER),
    ],
)
def test_classify(name: str, kind: PageKind) -> None:
    assert parse.classify(page(name)) == kind


def test_login_error_text() -> None:
    assert parse.error_texts(page("login_wrong_password.html"), site.LOGIN.error) == [
        "パスワードが間違っています。"
    ]


def test_form_has_everything_the_run_needs() -> None:
    assert missing_on_form(page("item_form.html")) == []


def test_changed_form_names_what_is_missing() -> None:
    missing = missing_on_form(page("item_form_layout_changed.html"))
    assert missing == ["タイトル", "「確認する」ボタン"]


def test_radio_labels_are_the_csv_values() -> None:
    f = site.ITEM_FORM
    html = page("item_form.html")
    assert parse.radio_labels(html, f.condition) == [
        "未使用", "未使用に近い", "目立った傷や汚れなし", "やや傷や汚れあり", "傷や汚れあり",
        "全体的に状態が悪い",
    ]  # fmt: skip
    assert parse.radio_labels(html, f.shipping_payer) == ["落札者", "出品者"]


def test_form_errors_in_the_pages_words() -> None:
    html = page("item_form_errors.html")
    assert parse.field_errors(html) == {
        "categoryIdInputText": ["カテゴリは半角数字のカテゴリIDで入力してください"]
    }
    problem = page_problem(html, "確認", maybe_listed=False)
    assert isinstance(problem, ItemError) and not problem.retry
    assert (
        problem.ja == "ヤフオクのエラー: カテゴリ: カテゴリは半角数字のカテゴリIDで入力してください"
    )


def test_busy_and_expired_draft_are_worth_another_try() -> None:
    busy = page_problem(page("busy_503.html"), "出品", maybe_listed=True)
    assert isinstance(busy, ItemError) and busy.retry and busy.maybe_listed
    assert "アクセスが集中しています" in busy.ja
    expired = page_problem(page("item_draft_expired.html"), "出品", maybe_listed=True)
    assert isinstance(expired, ItemError) and expired.retry
    assert "有効期限が切れました" in expired.ja


def test_login_page_after_a_step_means_the_session_is_lost() -> None:
    assert isinstance(
        page_problem(page("login_handle.html"), "確認", maybe_listed=False), SessionLost
    )


def test_confirm_page_has_the_submit_button() -> None:
    assert site.ITEM_CONFIRM.submit_button in parse.button_texts(page("item_confirm.html"))
    assert parse.parse_completion(page("item_confirm.html")) is None


def test_completion_gives_the_auction_id() -> None:
    done = parse.parse_completion(page("item_complete.html"))
    assert done == parse.Completion("x1100000041", "FX-0001")


def test_item_list_rows_and_pager() -> None:
    first = parse.parse_item_list(page("item_list_p1.html"))
    assert first.total == 101 and (first.page, first.last_page) == (1, 3)
    assert len(first.items) == 50 and first.complete
    assert first.next_href and "page=2" in first.next_href
    newest = first.items[0]
    assert newest.management_number.startswith("BULK-") and newest.item_id.isdigit()
    assert newest.auction_id and newest.auction_id.startswith("x") and newest.status == "出品中"
    numbers = {i.management_number for i in first.items}
    assert len(numbers) == 50

    last = parse.parse_item_list(page("item_list_p3.html"))
    assert (last.page, last.last_page) == (3, 3) and len(last.items) == 1 and last.next_href is None
    assert last.items[0].management_number == "DEMO-0001"
    assert last.items[0].status == "終了（落札者あり）"


def test_empty_item_list_page() -> None:
    empty = parse.parse_item_list(page("item_list_empty.html"))
    assert empty.items == [] and empty.complete


def test_renamed_row_checkbox_is_noticed_not_read_as_an_empty_store() -> None:
    changed = parse.parse_item_list(page("item_list_layout_changed.html"))
    assert changed.items == [] and changed.rows_seen > 0 and not changed.complete


def test_form_values_use_the_csv_value_mapping() -> None:
    f = site.ITEM_FORM
    listing = Listing(
        ec_inventory_id=7, management_number="A-1", title="t", description="<b>x</b>",
        category_id="23828", start_price=1000, buyout_price=None, prefecture="大阪府",
        shipping_payer="出品者", condition="未使用", end_hour=0, tax_included=False,
    )  # fmt: skip
    fv = form_values(listing)
    assert fv.values[f.prefecture] == "27"
    assert fv.values[f.buyout_price] == "0"
    assert fv.values[f.end_hour] == "0"
    assert fv.radios == {f.shipping_payer: "出品者", f.condition: "未使用"}
    assert fv.checkboxes[f.html_mode_label] is True
    assert fv.checkboxes[f.tax_included_label] is False


def test_urls_real_and_sandbox() -> None:
    real = YahooUrls.for_base(None)
    assert real.is_real
    assert real.item_create() == (
        "https://auctions.store.yahoo.co.jp/serinavi/items/create?action=create&folder_id=1"
    )
    assert real.auction("c1133337781") == "https://page.auctions.yahoo.co.jp/jp/auction/c1133337781"
    assert real.login("/serinavi").startswith("https://login.yahoo.co.jp/config/login?.src=bizmgr")
    box = YahooUrls.for_base("http://127.0.0.1:9000/")
    assert not box.is_real
    assert (
        box.item_list(2)
        == "http://127.0.0.1:9000/serinavi/items?folder_id=&sort=-update_date&page=2"
    )
    assert box.auction("x1") == "http://127.0.0.1:9000/jp/auction/x1"


def _rows(*numbers: int) -> list[parse.ListedItem]:
    return [parse.ListedItem(str(n), f"BM-{n:06d}", f"x{n}") for n in numbers]


def test_list_pages_read_while_still_give_every_row() -> None:
    pages = [
        parse.ItemListPage(_rows(5, 4), total=5, page=1, last_page=3),
        parse.ItemListPage(_rows(3, 2), total=5, page=2, last_page=3),
        parse.ItemListPage(_rows(1), total=5, page=3, last_page=3),
    ]
    assert [r.item_id for r in parse.merge_list_pages(pages) or []] == ["5", "4", "3", "2", "1"]


def test_a_list_that_moved_during_the_read_is_refused() -> None:
    # item 6 was listed after page 1 was read: page 2 (read after) starts with 4, and item 3,
    # pushed from page 2 to page 3, was on neither page as they were read
    shifted = [
        parse.ItemListPage(_rows(5, 4), total=5, page=1, last_page=3),
        parse.ItemListPage(_rows(4, 3), total=6, page=2, last_page=3),
        parse.ItemListPage(_rows(1), total=5, page=3, last_page=3),
    ]
    assert parse.merge_list_pages(shifted) is None
    # the same without a 全N件 count on the page: the row seen twice gives it away
    for p in shifted:
        p.total = None
    assert parse.merge_list_pages(shifted) is None
    # only the count changed (an item removed from a page already read)
    counted = [
        parse.ItemListPage(_rows(5, 4), total=5, page=1, last_page=2),
        parse.ItemListPage(_rows(2, 1), total=4, page=2, last_page=2),
    ]
    assert parse.merge_list_pages(counted) is None
