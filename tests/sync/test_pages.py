"""The pure page parsers on pages saved from the Yahoo sandbox (tests/sync/pages/)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from scrapers import parse as p
from scrapers.errors import LayoutChanged
from scrapers.facts import FACTS
from scrapers.reader import cookie_header
from tests.sync.conftest import PAGES

SELLING, SOLD, ITEMS = FACTS.lists.selling, FACTS.lists.sold, FACTS.lists.items


def page(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


def test_selling_list() -> None:
    got = p.parse_list(page("selling_p1.html"), SELLING)
    assert got.total == 30 and got.page_count == 1 and not got.problems
    assert len(got.rows) == 30
    first = got.rows[0]
    assert first.auction_id == "x1100000019"
    assert first.management_number == "DEMO-0019"
    assert first.price == 3500 and first.bids == 0
    assert first.item_id == "5000019"
    # 2026/11/23 17:00 JST on the page → 08:00 UTC
    assert first.end_time == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert sum(1 for r in got.rows if r.bids > 0) == 8


def test_item_list() -> None:
    got = p.parse_list(page("items_p1.html"), ITEMS)
    assert got.total == 40 and len(got.rows) == 40
    row = got.rows[0]
    assert row.management_number == "DEMO-0040"
    assert row.item_id == "5000040"
    assert row.status == "出品中"
    assert row.edit_url and "action=edit" in row.edit_url
    statuses = {r.status for r in got.rows}
    assert "終了（落札者あり）" in statuses


def test_sold_list() -> None:
    got = p.parse_list(page("sold_p1.html"), SOLD)
    assert got.total == 10 and len(got.rows) == 10
    row = got.rows[0]
    assert row.auction_id == "x1100000010" and row.management_number == "DEMO-0010"
    assert row.price == 23000 and row.winner


def test_orders_list_and_fingerprint() -> None:
    got = p.parse_orders(page("orders_p1.html"))
    assert got.total == 10 and len(got.rows) == 10
    by_status = {r.store_status for r in got.rows}
    assert by_status == {"未処理", "入金済み", "発送済み", "対応終了", "キャンセル"}
    row = got.rows[0]
    assert row.order_id.startswith("recore-demo-") and row.detail_url
    assert row.total is not None and row.total > 0
    # the fingerprint changes with the statuses, not with the row's position
    other = dataclasses.replace(row, store_status="対応終了")
    assert other.fingerprint() != row.fingerprint()


def test_order_detail_full_address_and_tracking() -> None:
    d = p.parse_order_detail(page("order_detail_shipped.html"))
    assert d.store_status == "発送済み" and d.ship_status == "出荷済み"
    assert d.buyer_name == "渡辺 陽菜"
    assert d.buyer_kana == "ワタナベ ヒナ"  # label （フリガナ） matched across full/half width
    assert d.postal_code == "060-0001"
    assert d.address == "北海道札幌市中央区北1条西2-1"
    assert d.phone == "090-2006-7514"
    assert d.tracking_number == "4000-0006-0001" and d.carrier == "ヤマト運輸"
    assert (d.price, d.shipping_fee, d.total) == (16500, 800, 17300)


def test_empty_list_is_not_a_layout_change() -> None:
    got = p.parse_list(page("empty_sold.html"), SOLD)
    assert got.rows == [] and got.total == 10  # page 9 of a 10-row list


def test_login_page_store_id_and_the_lists_links() -> None:
    assert p.classify(page("login_redirect.html")) in p.LOGIN_KINDS
    assert p.classify(page("selling_p1.html")) == p.PageKind.LOGGED_IN
    assert p.find_store_id(page("serinavi_top.html")) == "recore-demo"
    assert p.navigation(page("serinavi_top.html")) == {
        "items": "/serinavi/items?folder_id=&sort=-update_date&page=1",
        "selling": "/serinavi/selling?page=1",
        "sold": "/serinavi/sold-list?page=1",
        "orders": "/pro.recore-demo/order/manage/index",
    }


def test_missing_header_names_the_column() -> None:
    html = page("selling_p1.html").replace("<th>入札</th>", "<th>入札数</th>")
    with pytest.raises(LayoutChanged) as err:
        p.parse_list(html, SELLING)
    assert "入札" in err.value.ja and "出品中一覧" in err.value.ja


def test_orders_without_their_id_column_are_a_layout_change() -> None:
    html = page("orders_p1.html").replace("<th>注文ID</th>", "<th>受注番号</th>")
    with pytest.raises(LayoutChanged) as err:
        p.parse_orders(html)
    assert "注文ID" in err.value.ja


def test_reordered_columns_still_parse() -> None:
    html = page("selling_p1.html")
    got = p.parse_list(html, SELLING)
    # swap two header cells: values follow their headers, not positions
    swapped = html.replace("<th>入札</th><th>ウォッチ</th>", "<th>ウォッチ</th><th>入札</th>")
    again = p.parse_list(swapped, SELLING)
    assert [r.bids for r in again.rows] == [r.watchers for r in got.rows]
    assert [r.watchers for r in again.rows] == [r.bids for r in got.rows]
    assert any(r.bids != r.watchers for r in got.rows)


def test_a_bad_row_is_skipped_and_reported() -> None:
    html = page("selling_p1.html").replace("2026/11/23 17:00", "そのうち", 1)
    got = p.parse_list(html, SELLING)
    assert len(got.rows) == 29
    assert got.problems and "not a date" in got.problems[0]


def test_order_detail_without_address_row_is_a_layout_change() -> None:
    html = page("order_detail_shipped.html").replace("<th>住所</th>", "<th>お届け先</th>")
    with pytest.raises(LayoutChanged) as err:
        p.parse_order_detail(html)
    assert "住所" in err.value.ja


@pytest.mark.parametrize(
    ("text", "value"),
    [("1,234円", 1234), ("￥1,234", 1234), ("１２３４円", 1234), ("", None), (None, None)],
)
def test_parse_yen(text: str | None, value: int | None) -> None:
    assert p.parse_yen(text) == value


def test_parse_yen_rejects_junk() -> None:
    with pytest.raises(ValueError):
        p.parse_yen("お問い合わせ")


def test_form_fields_reads_like_a_browser() -> None:
    html = page("order_detail_shipped.html")
    action, fields = p.form_fields(html, 'form[action$="/ship-info"]')
    assert action and action.endswith("/ship-info")
    assert fields["ShipCompanyCode"] == p.option_value(html, "ShipCompanyCode", "ヤマト運輸")
    assert fields["ShipInvoiceNumber1"] == "4000-0006-0001"


def test_cookie_header_matches_domain_and_path() -> None:
    cookies = [
        {"name": "T", "value": "a", "domain": ".yahoo.co.jp", "path": "/"},
        {"name": "X", "value": "b", "domain": "other.example", "path": "/"},
        {
            "name": "S",
            "value": "c",
            "domain": "pro.store.yahoo.co.jp",
            "path": "/pro.x",
            "secure": True,
        },
    ]
    assert cookie_header(cookies, "https://auctions.store.yahoo.co.jp/serinavi") == "T=a"
    assert cookie_header(cookies, "https://pro.store.yahoo.co.jp/pro.x/order") == "T=a; S=c"
    assert cookie_header(cookies, "http://pro.store.yahoo.co.jp/pro.x/order") == "T=a"


def test_without_a_total_the_next_link_is_followed() -> None:
    html = page("selling_p1.html").replace("全30件中", "")
    got = p.parse_list(html, SELLING)
    assert got.total is None and got.page_count is None
    assert not got.has_next  # one page only: no 「次」 link
    more = html.replace(
        '<span class="page">',
        '<a href="/serinavi/selling?page=2" rel="next">次</a><span class="page">',
        1,
    )
    assert p.parse_list(more, SELLING).has_next


def test_duplicated_rows_are_read_once() -> None:
    from companion.sync.engine import unique

    rows = p.parse_list(page("selling_p1.html"), SELLING).rows
    assert len(unique(rows + rows[:5], lambda r: r.auction_id)) == len(rows)
