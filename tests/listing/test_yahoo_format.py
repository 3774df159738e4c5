"""The 競りナビ CSV: columns, encoding, line endings, value mapping, and a round trip."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from companion.domain import CONDITIONS, Listing
from companion.listing import yahoo_format as yf
from companion.listing.validation import validate_listing
from tests.listing.conftest import make_listing


def test_profile_has_the_53_columns_in_order() -> None:
    headers = yf.SERINAVI_53.headers
    assert len(headers) == 53
    assert headers[:3] == ["管理番号", "カテゴリ", "タイトル"]
    assert headers[13] == "代金先払い、後払い"
    assert headers[15:19] == ["画像1", "画像1コメント", "画像2", "画像2コメント"]
    assert headers[33:35] == ["画像10", "画像10コメント"]
    assert headers[35] == "最低評価"
    assert headers[-3:] == ["商品保存先フォルダパス", "配送グループ", "発送までの日数"]
    assert len(set(headers)) == 53


def test_csv_is_cp932_crlf_with_header_and_minimal_quoting() -> None:
    item = make_listing(1, title='タイトル "引用", カンマ', description="<b>説明</b>")
    data = yf.csv_bytes([item])
    assert data.count(b"\r\n") == 2 and b"\n" not in data.replace(b"\r\n", b"")
    header, row = data.decode("cp932").split("\r\n")[:2]
    assert header.split(",") == yf.SERINAVI_53.headers  # plain headers need no quotes
    assert row.startswith('A-0001,2084207680,"タイトル ""引用"", カンマ",<b>説明</b>,')
    assert "タイトル".encode("cp932") in data  # not UTF-8


def test_value_mapping() -> None:
    item = make_listing(
        3,
        buyout_price=None,
        auto_extend=True,
        bad_rating_limit=False,
        bidder_auth_limit=True,
        tax_included=True,
        min_rating=-5,
        featured_amount=None,
    )
    ctx = yf.RowContext(image_names=["A-0003_1.jpg", "A-0003_2.png"], image_comments=["正面"])
    row = dict(zip(yf.SERINAVI_53.headers, yf.SERINAVI_53.row(item, ctx), strict=True))
    assert row["即決価格"] == "0"  # 0 = no buyout
    assert row["代金先払い、後払い"] == "代金先払い"
    assert row["送料負担"] == "落札者"
    assert (row["自動延長"], row["悪評割合制限"], row["入札者認証制限"]) == (
        "はい",
        "いいえ",
        "はい",
    )
    assert row["税込みフラグ"] == "はい"
    assert row["画像1"] == "A-0003_1.jpg" and row["画像1コメント"] == "正面"
    assert row["画像2"] == "A-0003_2.png" and row["画像3"] == ""
    assert row["最低評価"] == "-5" and row["注目のオークション"] == "0"
    assert row["商品保存先フォルダパス"] == "カメラ"
    assert row["開始価格"] == "1000" and row["個数"] == "1" and row["期間"] == "7"


def test_names() -> None:
    assert yf.image_file_name("A-0001", 3) == "A-0001_3.jpg"
    assert yf.image_file_name("A-0001", 10, "png") == "A-0001_10.png"
    name = yf.upload_zip_name(date(2026, 11, 22), 1)
    assert name == "yahoo_upload_20261122_0001.zip" and name.isascii()
    assert yf.UPLOAD_ZIP_RE.match(name)
    with pytest.raises(ValueError):
        yf.upload_zip_name(date(2026, 11, 22), 10000)
    assert yf.multi_value(["クレジットカード", "", None, "銀行振込"]) == "クレジットカード_銀行振込"


@pytest.mark.parametrize(
    ("text", "width"),
    [("abc", 1.5), ("あいう", 3), ("ｱｲｳ", 1.5), ("ＡＢ", 2), ("○×", 2), ("", 0), ("Nikon F3", 4)],
)
def test_title_width(text: str, width: float) -> None:
    assert yf.title_width(text) == width


def test_description_html_replaces_every_kind_of_newline() -> None:
    assert yf.description_html("a\r\nb\nc\rd") == "a<br>b<br>c<br>d"
    item = make_listing(1, description=yf.description_html("一行目\n二行目"))
    assert validate_listing(item) == []


def test_streaming_writer_matches_csv_bytes() -> None:
    items = [make_listing(i) for i in range(1, 6)]
    buf = io.BytesIO()
    assert yf.write_csv(buf, ((x, yf.RowContext()) for x in items)) == 5
    assert buf.getvalue() == yf.csv_bytes(items)
    assert not buf.closed  # the writer does not close the caller's stream


# --- round trip: any valid listing survives writing and cp932 decoding, field for field --------
def _ok_char(ch: str) -> bool:
    return not yf.cp932_bad_chars(ch) and ch.isprintable()


cp932_text = st.text(
    alphabet=st.characters(codec="cp932", exclude_characters="¢£¬‖−〜").filter(_ok_char),
    max_size=30,
)
digits = st.text(alphabet="0123456789", min_size=1, max_size=10)
small_int = st.integers(min_value=0, max_value=10**9)


@st.composite
def valid_listings(draw: st.DrawFn) -> Listing:
    start = draw(st.integers(min_value=1, max_value=10**9))
    number = draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True))
    return Listing(
        ec_inventory_id=draw(st.integers(min_value=1, max_value=2**31)),
        management_number=number,
        title=draw(cp932_text.filter(lambda t: t.strip() and yf.title_width(t) <= 65)),
        description=draw(cp932_text.filter(str.strip)),
        keywords=draw(st.none() | cp932_text),
        category_id=draw(digits),
        start_price=start,
        buyout_price=draw(st.sampled_from([None, 0]) | st.integers(start, 2 * 10**9)),
        quantity=draw(st.integers(1, 999)),
        duration_days=draw(st.sampled_from(yf.DURATION_DAYS)),
        end_hour=draw(st.sampled_from(yf.END_HOURS)),
        prefecture=draw(st.sampled_from(yf.PREFECTURES)),
        city=draw(st.none() | cp932_text),
        shipping_payer=draw(st.sampled_from(yf.SHIPPING_PAYERS)),
        condition=draw(st.sampled_from(CONDITIONS)),
        image_urls=[f"http://127.0.0.1/{i}.jpg" for i in range(draw(st.integers(1, 10)))],
        auto_extend=draw(st.booleans()),
        resubmit_count=draw(st.sampled_from(yf.RESUBMIT_COUNTS)),
        min_rating=draw(st.none() | st.integers(-100, 100)),
        bad_rating_limit=draw(st.booleans()),
        bidder_auth_limit=draw(st.booleans()),
        featured_amount=draw(st.none() | small_int),
        size_class=draw(st.none() | small_int),
        tax_rate=draw(st.none() | st.sampled_from(yf.TAX_RATES)),
        tax_included=draw(st.booleans()),
        jan_code=draw(st.none() | st.from_regex(yf.JAN_CODE_RE.pattern, fullmatch=True)),
        brand_id=draw(st.none() | digits),
        product_category_id=draw(st.none() | digits),
        folder_path=draw(st.none() | cp932_text),
        delivery_group=draw(st.sampled_from(yf.DELIVERY_GROUPS)),
        lead_time_code=draw(st.sampled_from(list(yf.LEAD_TIME_CODES))),
        sales_channel=draw(st.sampled_from(["併売", "ECのみ", None])),
    )


def _yn(value: str) -> bool:
    assert value in (yf.YES, yf.NO)
    return value == yf.YES


def _opt_int(value: str) -> int | None:
    return int(value) if value else None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(valid_listings(), min_size=1, max_size=3))
def test_valid_listings_round_trip_through_csv(items: list[Listing]) -> None:
    for item in items:
        assume(validate_listing(item) == [])
    contexts = [
        yf.RowContext(
            image_names=[
                yf.image_file_name(x.management_number, n) for n in range(1, 1 + len(x.image_urls))
            ]
        )
        for x in items
    ]
    data = yf.csv_bytes(list(zip(items, contexts, strict=True)))
    rows = list(csv.reader(io.StringIO(data.decode("cp932"), newline="")))
    assert rows[0] == yf.SERINAVI_53.headers
    assert len(rows) == len(items) + 1
    for item, ctx, values in zip(items, contexts, rows[1:], strict=True):
        row = dict(zip(rows[0], values, strict=True))
        assert row["管理番号"] == item.management_number
        assert row["カテゴリ"] == item.category_id
        assert row["タイトル"] == item.title
        assert row["説明"] == (item.description or "")
        assert row["ストア内商品検索用キーワード"] == (item.keywords or "")
        assert int(row["開始価格"]) == item.start_price
        assert int(row["即決価格"]) == (item.buyout_price or 0)
        assert int(row["個数"]) == item.quantity
        assert int(row["期間"]) == item.duration_days
        assert int(row["終了時間"]) == item.end_hour
        assert row["商品発送元の都道府県"] == (item.prefecture or "")
        assert row["商品発送元の市区町村"] == (item.city or "")
        assert row["送料負担"] == (item.shipping_payer or "")
        assert row["商品の状態"] == item.condition
        for n in range(1, 11):
            expected = ctx.image_names[n - 1] if n <= len(ctx.image_names) else ""
            assert row[f"画像{n}"] == expected
        assert _opt_int(row["最低評価"]) == item.min_rating
        assert _yn(row["悪評割合制限"]) == item.bad_rating_limit
        assert _yn(row["入札者認証制限"]) == item.bidder_auth_limit
        assert _yn(row["自動延長"]) == item.auto_extend
        assert int(row["商品の自動再出品"]) == item.resubmit_count
        assert int(row["注目のオークション"]) == (item.featured_amount or 0)
        assert _opt_int(row["重量設定"]) == item.size_class
        assert _opt_int(row["消費税設定"]) == item.tax_rate
        assert _yn(row["税込みフラグ"]) == item.tax_included
        assert row["JANコード・ISBNコード"] == (item.jan_code or "")
        assert row["商品保存先フォルダパス"] == (item.folder_path or "")
        assert _opt_int(row["配送グループ"]) == item.delivery_group
        assert row["発送までの日数"] == (item.lead_time_code or "")
