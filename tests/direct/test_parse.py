"""The parsers and the page facts, on pages saved from the Yahoo sandbox (`save_pages.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.domain import Listing
from companion.listing.form_values import form_values
from scrapers import parse
from scrapers.errors import ItemError, LayoutChanged, SessionExpired
from scrapers.facts import FACTS, StoreUrls
from scrapers.listing import fill_spec, page_problem
from scrapers.parse import PageKind, missing_on_form

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
        ("login_sms.html", PageKind.ONE_TIME_CODE),
        ("login_business.html", PageKind.BUSINESS),
        ("busy_503.html", PageKind.BUSY),
        ("store_top.html", PageKind.LOGGED_IN),
        ("item_form.html", PageKind.LOGGED_IN),
        ("item_list_p1.html", PageKind.LOGGED_IN),
        ("item_complete.html", PageKind.LOGGED_IN),
    ],
)
def test_classify(name: str, kind: PageKind) -> None:
    assert parse.classify(page(name)) == kind


def test_login_error_text() -> None:
    assert parse.error_texts(page("login_wrong_password.html"), FACTS.login.error) == [
        "パスワードが間違っています。"
    ]


def test_form_has_everything_the_run_needs() -> None:
    assert missing_on_form(page("item_form.html")) == []


def test_changed_form_names_what_is_missing() -> None:
    missing = missing_on_form(page("item_form_layout_changed.html"))
    assert missing == ["タイトル", "「確認する」ボタン"]


def test_radio_labels_are_the_csv_values() -> None:
    choices = FACTS.form.choices
    html = page("item_form.html")
    condition, payer = choices["商品の状態"], choices["送料負担"]
    assert parse.radio_labels(html, condition.names[0]) == list(condition.options)
    assert parse.radio_labels(html, payer.names[0]) == list(payer.options)


def test_form_errors_in_the_pages_words() -> None:
    html = page("item_form_errors.html")
    assert parse.field_errors(html) == {
        "categoryIdInputText": ["カテゴリは半角数字のカテゴリIDで入力してください"]
    }
    problem = page_problem(html, "確認", maybe_listed=False, facts=FACTS)
    assert isinstance(problem, ItemError) and not problem.retry
    assert (
        problem.ja == "ヤフオクのエラー: カテゴリ: カテゴリは半角数字のカテゴリIDで入力してください"
    )


def test_busy_and_expired_draft_are_worth_another_try() -> None:
    busy = page_problem(page("busy_503.html"), "出品", maybe_listed=True, facts=FACTS)
    assert isinstance(busy, ItemError) and busy.retry and busy.maybe_listed
    assert "アクセスが集中しています" in busy.ja
    expired = page_problem(page("item_draft_expired.html"), "出品", maybe_listed=True, facts=FACTS)
    assert isinstance(expired, ItemError) and expired.retry
    assert "有効期限が切れました" in expired.ja


def test_login_page_after_a_step_means_the_session_is_lost() -> None:
    problem = page_problem(page("login_handle.html"), "確認", maybe_listed=False, facts=FACTS)
    assert isinstance(problem, SessionExpired)


def test_confirm_page_has_the_submit_button() -> None:
    assert set(FACTS.form.list_buttons) & set(parse.button_texts(page("item_confirm.html")))
    assert parse.parse_completion(page("item_confirm.html")) is None


def test_completion_gives_the_auction_id() -> None:
    done = parse.parse_completion(page("item_complete.html"))
    assert done == parse.Completion("x1100000041", "FX-0001")


ITEMS = FACTS.lists.items


def test_item_list_rows_and_pager() -> None:
    first = parse.parse_list(page("item_list_p1.html"), ITEMS)
    assert first.total == 101 and first.page_count == 3 and not first.problems
    assert len(first.rows) == 50 and first.has_next
    newest = first.rows[0]
    assert newest.management_number.startswith("BULK-") and newest.item_id.isdigit()
    assert newest.auction_id and newest.auction_id.startswith("x") and newest.status == "出品中"
    numbers = {i.management_number for i in first.rows}
    assert len(numbers) == 50

    last = parse.parse_list(page("item_list_p3.html"), ITEMS)
    assert len(last.rows) == 1 and not last.has_next
    assert last.rows[0].management_number == "DEMO-0001"
    assert last.rows[0].status == "終了（落札者あり）"


def test_empty_item_list_page() -> None:
    empty = parse.parse_list(page("item_list_empty.html"), ITEMS)
    assert empty.rows == [] and not empty.problems and not empty.shell


def test_a_renamed_row_checkbox_does_not_hide_the_rows() -> None:
    """Rows are found by what they say (管理番号, the item's edit link), not by the checkbox's
    name: the store's items are still all there."""
    changed = parse.parse_list(page("item_list_layout_changed.html"), ITEMS)
    first = parse.parse_list(page("item_list_p1.html"), ITEMS)
    assert [(r.item_id, r.management_number) for r in changed.rows] == [
        (r.item_id, r.management_number) for r in first.rows
    ]


def test_rows_that_do_not_say_their_state_mean_the_page_changed() -> None:
    html = page("item_list_p1.html").replace("<th>状態</th>", "<th>ステータス</th>")
    with pytest.raises(LayoutChanged) as err:
        parse.parse_list(html, ITEMS)
    assert "状態" in err.value.ja and "商品管理" in err.value.ja


def test_form_values_are_the_csv_values_and_the_form_takes_them_by_column() -> None:
    listing = Listing(
        ec_inventory_id=7, management_number="A-1", title="t", description="<b>x</b>",
        category_id="23828", start_price=1000, buyout_price=None, prefecture="大阪府",
        shipping_payer="出品者", condition="未使用", end_hour=0, tax_included=False,
        duration_days=5, tax_rate=10,
    )  # fmt: skip
    values = form_values(listing)
    assert values["商品発送元の都道府県"] == "大阪府" and values["即決価格"] == "0"
    # nothing filled in by the form's side: the listing (the one mapping) decides
    assert values["終了時間"] == "0" and values["期間"] == "5" and values["個数"] == ""
    spec = fill_spec(FACTS, values)
    assert spec["values"]["businessCommodityIdInputText"] == "A-1"
    assert spec["values"]["endTimeSelect"] == "0"
    choices = {c["column"]: c["label"] for c in spec["choices"]}
    assert choices == {
        "商品発送元の都道府県": "大阪府",  # the option chosen by its text
        "送料負担": "出品者",
        "商品の状態": "未使用",
        "消費税設定": "10%",
    }
    assert spec["checkboxes"]["HTMLタグで入力"] is True
    assert spec["checkboxes"]["税込み価格で出品する"] is False


def test_urls_real_and_sandbox() -> None:
    real = StoreUrls(FACTS)
    assert not real.is_sandbox
    assert real.item_create() == (
        "https://auctions.store.yahoo.co.jp/serinavi/items/create?action=create&folder_id=1"
    )
    assert real.auction("c1133337781") == "https://page.auctions.yahoo.co.jp/jp/auction/c1133337781"
    box = StoreUrls(FACTS, "http://127.0.0.1:9000/")
    assert box.is_sandbox
    assert (
        box.list_page("items", 2)
        == "http://127.0.0.1:9000/serinavi/items?folder_id=&sort=-update_date&page=2"
    )
    # a list's link found on 競りナビ wins over the fallback path
    box.nav["selling"] = "/serinavi/sellings?page=1"
    assert box.list_page("selling", 3) == "http://127.0.0.1:9000/serinavi/sellings?page=3"
    assert box.auction("x1") == "http://127.0.0.1:9000/jp/auction/x1"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://login.yahoo.co.jp/config/login?.src=bizmgr", True),
        ("https://login.bizmanager.yahoo.co.jp/yidlogin?.done=x", True),
        ("https://protect.login.yahoo.co.jp/otp/auth", True),
        ("http://login.yahoo.co.jp/config/login", False),  # not https
        ("https://login.yahoo.co.jp.example.net/config/login", False),
        ("https://example.com/login.yahoo.co.jp/config/login", False),
        ("http://127.0.0.1:9000/config/login", False),  # not the configured sandbox
    ],
)
def test_credentials_are_typed_only_on_yahoos_login_hosts(url: str, allowed: bool) -> None:
    assert StoreUrls(FACTS).may_log_in_at(url) is allowed


def test_the_configured_sandbox_origin_may_take_credentials_and_no_other() -> None:
    box = StoreUrls(FACTS, "http://127.0.0.1:9000")
    assert box.may_log_in_at("http://127.0.0.1:9000/config/login")
    assert not box.may_log_in_at("http://127.0.0.1:9001/config/login")
    assert not box.may_log_in_at("http://localhost:9000/config/login")


def _rows(*numbers: int) -> list[parse.ListRow]:
    return [parse.ListRow(str(n), f"BM-{n:06d}", f"x{n}") for n in numbers]


def test_list_pages_read_while_still_give_every_row() -> None:
    pages = [
        parse.ListPage(_rows(5, 4), total=5, page_count=3),
        parse.ListPage(_rows(3, 2), total=5, page_count=3),
        parse.ListPage(_rows(1), total=5, page_count=3),
    ]
    assert [r.item_id for r in parse.merge_list_pages(pages) or []] == ["5", "4", "3", "2", "1"]


def test_a_list_that_moved_during_the_read_is_refused() -> None:
    # item 6 was listed after page 1 was read: page 2 (read after) starts with 4, and item 3,
    # pushed from page 2 to page 3, was on neither page as they were read
    shifted = [
        parse.ListPage(_rows(5, 4), total=5, page_count=3),
        parse.ListPage(_rows(4, 3), total=6, page_count=3),
        parse.ListPage(_rows(1), total=5, page_count=3),
    ]
    assert parse.merge_list_pages(shifted) is None
    # the same without a 全N件 count on the page: the row seen twice gives it away
    for p in shifted:
        p.total = None
    assert parse.merge_list_pages(shifted) is None
    # only the count changed (an item removed from a page already read)
    counted = [
        parse.ListPage(_rows(5, 4), total=5, page_count=2),
        parse.ListPage(_rows(2, 1), total=4, page_count=2),
    ]
    assert parse.merge_list_pages(counted) is None
