"""競りナビ 一括アップロード: every class of bad value is refused with its row and column; valid rows
of the same file are listed; no de-duplication; the spurious 通信エラー."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.yahoo.csvspec import COLUMNS
from tests.sandbox_yahoo.helpers import (
    csv_bytes,
    good_row,
    image_bytes,
    state,
    table_headers,
    table_rows,
    upload,
    zip_bytes,
)

BAD_VALUES = [
    # (column, bad value, expected words in the message)
    ("管理番号", "", "管理番号は必須です"),
    ("管理番号", "A 0001/x", "半角英数字"),
    ("カテゴリ", "家電", "カテゴリID"),
    ("タイトル", "あ" * 66, "65文字を超えています（全角1・半角0.5で数えて66文字）"),
    ("タイトル", "a" * 131, "半角0.5で数えて65.5文字"),
    ("説明", "一行目\r\n二行目", "説明に改行が含まれています"),
    ("説明", "一行目\n二行目", "説明に改行が含まれています"),
    ("説明", "", "説明は必須です"),
    ("開始価格", "0", "開始価格は1円以上"),
    ("開始価格", "1,000", "開始価格は1円以上"),
    ("開始価格", "１０００", "開始価格は1円以上"),
    ("即決価格", "500", "即決価格（500円）は開始価格（1,000円）以上"),
    ("即決価格", "abc", "即決価格は半角数字"),
    ("個数", "0", "個数は1以上"),
    ("期間", "8", "期間は1〜7日"),
    ("期間", "", "期間は必須です"),
    ("終了時間", "24", "終了時間は0〜23"),
    ("終了時間", "-1", "終了時間は0〜23"),
    ("商品発送元の都道府県", "東京", "都道府県名が正しくありません"),
    ("送料負担", "買い手", "落札者"),
    ("代金先払い、後払い", "後で", "代金先払い"),
    ("商品の状態", "新品", "商品の状態は"),
    ("悪評割合制限", "yes", "「はい」または「いいえ」"),
    ("入札者認証制限", "", "入札者認証制限は必須です"),
    ("自動延長", "true", "「はい」または「いいえ」"),
    ("税込みフラグ", "1", "「はい」または「いいえ」"),
    ("商品の自動再出品", "4", "0〜3"),
    ("自動値下げ", "x", "自動値下げ"),
    ("注目のオークション", "-20", "注目のオークションは半角数字"),
    ("重量設定", "大", "重量設定は半角数字"),
    ("消費税設定", "5", "0、8、10"),
    ("最低評価", "悪い", "最低評価は半角数字"),
    ("JANコード・ISBNコード", "12345", "JANコード"),
    ("ブランドID", "B12", "ブランドIDは半角数字"),
    ("配送グループ", "8", "配送グループは1〜7"),
    ("発送までの日数", "9", "発送までの日数のコード"),
    ("画像1", "nothere_1.jpg", "zipファイルにありません"),
    ("画像2コメント", "コメントだけ", "画像2がないのに"),
]


@pytest.mark.parametrize(("column", "value", "words"), BAD_VALUES)
async def test_bad_value_rejected_with_row_and_column(
    store: TestClient, column: str, value: str, words: str
) -> None:
    rows = [good_row("OK-0001"), good_row("BAD-0001", **{column: value}), good_row("OK-0002")]
    doc = await upload(store, "batch.csv", csv_bytes(rows))
    errors = table_rows(doc, "#uploadErrors")
    col_no = str(COLUMNS.index(column) + 1)
    matching = [e for e in errors if e[0] == "3" and e[1] == col_no and e[2] == column]
    assert matching, errors
    assert any(words in e[4] for e in matching), matching
    # the bad row is not created; the good ones are
    s = await state(store)
    assert "BAD-0001" not in s["listing_counts"] or value == ""
    assert s["listing_counts"]["OK-0001"] == 1 and s["listing_counts"]["OK-0002"] == 1
    text = doc.css_first("#uploadResult p").text()
    assert "受け付け" in text and "2件" in text and "1行はエラー" in text


async def test_error_table_headers_and_management_number(store: TestClient) -> None:
    doc = await upload(store, "b.csv", csv_bytes([good_row("X-1", 開始価格="0")]))
    assert table_headers(doc, "#uploadErrors") == ["行", "列", "項目", "管理番号", "エラー内容"]
    assert table_rows(doc, "#uploadErrors")[0][:4] == ["2", "6", "開始価格", "X-1"]
    # nothing valid: no 受け付け
    assert "受け付け" not in doc.css_first("#uploadResult").text()
    assert "エラーがあるため" in doc.css_first("#uploadResult").text()


async def test_row_with_wrong_field_count(store: TestClient) -> None:
    data = csv_bytes([good_row("A-1")]) + "A-2,123\r\n".encode("cp932")
    doc = await upload(store, "b.csv", data)
    errors = table_rows(doc, "#uploadErrors")
    assert errors == [["3", "", "", "A-2", "列数が2列です（53列必要です）"]]


async def test_half_width_title_of_65_is_fine(store: TestClient) -> None:
    doc = await upload(store, "b.csv", csv_bytes([good_row("T-1", タイトル="a" * 130)]))
    assert table_rows(doc, "#uploadErrors") == []
    assert table_rows(doc, "#uploadAccepted")[0][1] == "T-1"


@pytest.mark.parametrize(
    ("filename", "data", "words"),
    [
        ("b.csv", csv_bytes([good_row()]).decode("cp932").encode("utf-8"), "cp932"),
        ("b.csv", b"\xef\xbb\xbf" + csv_bytes([good_row()]), "BOM"),
        ("b.csv", csv_bytes([good_row()], newline="\n"), "CRLFではありません"),
        ("b.csv", csv_bytes([good_row()], header=list(COLUMNS[:52])), "列数が52列"),
        (
            "b.csv",
            csv_bytes([good_row()], header=[COLUMNS[1], COLUMNS[0], *COLUMNS[2:]]),
            "1列目は「管理番号」",
        ),
        ("出品.csv", csv_bytes([good_row()]), "全角文字"),
        ("b.zip", b"PK\x03\x04broken", "zipファイルを読み込めません"),
        ("b.zip", zip_bytes(b"", {}, csv_name="a.txt"), "CSVファイルを1つだけ"),
        ("b.txt", b"hello", "CSVファイルまたはzipファイル"),
        ("b.csv", csv_bytes([]), "データ行がありません"),
    ],
)
async def test_file_level_errors_accept_nothing(
    store: TestClient, filename: str, data: bytes, words: str
) -> None:
    before = (await state(store, brief=True))["counts"]["items"]
    doc = await upload(store, filename, data)
    text = doc.css_first("#uploadResult").text()
    assert "アップロードできませんでした" in text and words in text, text
    assert (await state(store, brief=True))["counts"]["items"] == before


async def test_zip_with_images(store: TestClient) -> None:
    jpg = image_bytes("JPEG")
    rows = [
        good_row("IMG-1", 画像1="IMG-1_1.jpg", 画像2="IMG-1_2.png"),
        good_row("IMG-2", 画像1="IMG-2_1.jpg"),  # broken image
        good_row("IMG-3", 画像1="IMG-3_1.jpg"),  # a PNG named .jpg
        good_row("IMG-4", 画像1="IMG-4_1.bmp"),  # BMP is not allowed
        good_row("IMG-5", 画像1="IMG-5_1.jpg"),  # over 5 MB
        good_row("IMG-6", 画像1="IMG-6_1.jpg"),  # 11 images in the zip
    ]
    files = {
        "IMG-1_1.jpg": jpg,
        "IMG-1_2.png": image_bytes("PNG"),
        "IMG-2_1.jpg": b"\xff\xd8\xff\xe0 not really a jpeg",
        "IMG-3_1.jpg": image_bytes("PNG"),
        "IMG-4_1.bmp": image_bytes("BMP"),
        "IMG-5_1.jpg": jpg + b"\0" * (5 * 1024 * 1024),
        **{f"IMG-6_{n}.jpg": jpg for n in range(1, 12)},
    }
    doc = await upload(store, "yahoo_upload_20261122_0001.zip", zip_bytes(csv_bytes(rows), files))
    errors = {e[3]: e for e in table_rows(doc, "#uploadErrors")}
    assert errors["IMG-2"][1] == "16" and "壊れているか" in errors["IMG-2"][4]
    assert "拡張子が画像の形式（PNG）と合っていません" in errors["IMG-3"][4]
    assert "形式（BMP）は使用できません" in errors["IMG-4"][4]
    assert "5MBを超えています" in errors["IMG-5"][4]
    assert errors["IMG-6"][2] == "画像10" and "画像は10枚までです" in errors["IMG-6"][4]
    assert "IMG-1" not in errors
    s = await state(store)
    listed = {i["management_number"]: i for i in s["listings"]}
    assert listed["IMG-1"]["image_count"] == 2
    assert not {"IMG-2", "IMG-3", "IMG-4", "IMG-5", "IMG-6"} & set(listed)


async def test_no_deduplication_and_auction_ids(store: TestClient) -> None:
    data = csv_bytes([good_row("DUP-1")])
    first = table_rows(await upload(store, "a.csv", data), "#uploadAccepted")
    second = table_rows(await upload(store, "a.csv", data), "#uploadAccepted")
    assert first[0][2] != second[0][2]
    for row in (first[0], second[0]):
        assert row[2].startswith("x") and len(row[2]) == 11 and row[2][1:].isdigit()
    s = await state(store, brief=True)
    assert s["duplicates"] == {"DUP-1": 2}


async def test_spurious_comm_error_after_success(store: TestClient) -> None:
    r = await store.post("/_sandbox/faults", json={"spurious_comm_error": 1})
    assert r.status == 200
    doc = await upload(store, "a.csv", csv_bytes([good_row("COMM-1")]))
    text = doc.css_first("#uploadResult").text()
    assert "通信エラー" in text and "受け付け" not in text
    assert (await state(store, brief=True))["listing_counts"]["COMM-1"] == 1  # it went through
    doc = await upload(store, "a.csv", csv_bytes([good_row("COMM-2")]))  # the count is used up
    assert "受け付け" in doc.css_first("#uploadResult").text()


async def test_upload_page_controls(store: TestClient) -> None:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    r = await store.get("/serinavi/upload")
    doc = HTMLParser(await r.text())
    assert doc.css_first("input#uploadFile[type=file]") is not None
    assert "決定する" in [a.text(strip=True) for a in doc.css("form#uploadForm a")]


async def test_upload_needs_login(client: TestClient) -> None:
    r = await client.get("/serinavi/upload", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/config/login?.src=bizmgr")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
            min_size=1,
            max_size=5,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_tokenizer_reads_what_csv_writes(rows: list[list[str]]) -> None:
    """Our own CSV reader (it must see line terminators) agrees with the csv module's writer."""
    import csv
    import io

    from sandbox.yahoo.csvspec import _records

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    records = _records(buf.getvalue())
    # csv writes a lone empty field as "" so it stays a field; blank-line rows do not occur
    assert [r.fields for r in records] == rows
    assert all(r.terminator == "\r\n" and not r.bad_quote for r in records)
