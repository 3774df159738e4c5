"""Builders for upload files and small HTML readers shared by the Yahoo sandbox tests."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

from aiohttp.test_utils import TestClient
from PIL import Image
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from sandbox.yahoo.csvspec import COLUMNS

ACCOUNT = {
    "yahoo_id": "shop-demo",
    "password": "demo-pass-1234",
    "business_id": "biz-demo",
    "business_password": "biz-pass-1234",
    "store_id": "recore-demo",
}


def good_row(mn: str = "A-0001", **over: str) -> dict[str, str]:
    """A row every rule accepts; `over` replaces columns by name."""
    row = {c: "" for c in COLUMNS}
    row.update(
        {
            "管理番号": mn,
            "カテゴリ": "2084207680",
            "タイトル": f"テスト商品 {mn}",
            "説明": "状態の良い中古品です。<br>付属品なし。",
            "開始価格": "1000",
            "即決価格": "0",
            "個数": "1",
            "期間": "7",
            "終了時間": "22",
            "商品発送元の都道府県": "東京都",
            "商品発送元の市区町村": "豊島区",
            "送料負担": "落札者",
            "代金先払い、後払い": "代金先払い",
            "商品の状態": "目立った傷や汚れなし",
            "悪評割合制限": "いいえ",
            "入札者認証制限": "いいえ",
            "自動延長": "はい",
            "商品の自動再出品": "0",
            "消費税設定": "10",
            "税込みフラグ": "はい",
            "配送グループ": "1",
            "発送までの日数": "1",
        }
    )
    row.update(over)
    return row


def csv_bytes(
    rows: list[dict[str, str]], header: list[str] | None = None, newline: str = "\r\n"
) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    header = list(COLUMNS) if header is None else header
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(c, "") for c in header])
    return buf.getvalue().encode("cp932")


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (32, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buf, fmt)
    return buf.getvalue()


def zip_bytes(csv_data: bytes, files: dict[str, bytes], csv_name: str = "items.csv") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(csv_name, csv_data)
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


async def login(client: TestClient, done: str = "/pro.recore-demo") -> str:
    """The whole login (ID, password, business ID); returns the final page's HTML."""
    r = await client.post("/config/login", data={"handle": ACCOUNT["yahoo_id"], ".done": done})
    assert r.status == 200
    r = await client.post(
        "/config/login",
        data={"handle": ACCOUNT["yahoo_id"], "passwd": ACCOUNT["password"], ".done": done},
    )
    assert r.status == 200 and r.url.path == "/bizmgr/login", r.url
    r = await client.post(
        "/bizmgr/login",
        data={
            "business_id": ACCOUNT["business_id"],
            "business_password": ACCOUNT["business_password"],
            ".done": done,
        },
    )
    assert r.status == 200
    return await r.text()


async def upload(client: TestClient, filename: str, data: bytes) -> HTMLParser:
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("uploadFile", data, filename=filename, content_type="application/octet-stream")
    r = await client.post("/serinavi/upload", data=form)
    assert r.status == 200
    return HTMLParser(await r.text())


def table_rows(doc: HTMLParser, selector: str) -> list[list[str]]:
    """The body rows of a table as lists of cell texts."""
    table = doc.css_first(selector)
    if table is None:
        return []
    return [[td.text(strip=True) for td in tr.css("td")] for tr in table.css("tbody tr")]


def table_headers(doc: HTMLParser, selector: str) -> list[str]:
    table = doc.css_first(selector)
    assert table is not None, selector
    return [th.text(strip=True) for th in table.css("thead th")]


def link_texts(doc: HTMLParser) -> list[str]:
    return [a.text(strip=True) for a in doc.css("a")]


async def state(client: TestClient, brief: bool = False) -> dict[str, Any]:
    r = await client.get("/_sandbox/state" + ("?brief=1" if brief else ""))
    assert r.status == 200
    return await r.json()


# --- world next ------------------------------------------------------------------------------------
async def login_next(client: TestClient, done: str = "/pro.recore-demo") -> str:
    """World next's login over HTTP: the 「次へ」 check, the password, the business ID step (found
    by label text); returns the final page's HTML."""
    r = await client.post("/config/login/check", data={"handle": ACCOUNT["yahoo_id"]})
    assert (await r.json())["exists"] is True
    r = await client.post(
        "/config/login",
        data={"handle": ACCOUNT["yahoo_id"], "passwd": ACCOUNT["password"], ".done": done},
    )
    assert r.status == 200 and r.url.path == "/bizlogin", r.url
    doc = HTMLParser(await r.text())
    r = await client.post(
        "/bizlogin",
        data={
            field_by_label(doc, "ビジネスID"): ACCOUNT["business_id"],
            field_by_label(doc, "パスワード"): ACCOUNT["business_password"],
            ".done": done,
        },
    )
    assert r.status == 200
    return await r.text()


def field_by_label(doc: HTMLParser, text: str) -> str:
    """The name of the input a `<label for>` with exactly this text points at."""
    for label in doc.css("label[for]"):
        if label.text(strip=True) == text:
            el = doc.css_first(f"#{label.attributes['for']}")
            assert el is not None, text
            return el.attributes["name"] or ""
    raise AssertionError(f"no label {text}")


def choice_by_label(doc: HTMLParser, text: str) -> tuple[str, str]:
    """(name, value) of the radio or checkbox whose wrapping label reads exactly `text`."""
    for label in doc.css("label"):
        box = label.css_first("input[type=radio], input[type=checkbox]")
        if box is not None and label.text(strip=True) == text:
            return box.attributes["name"] or "", box.attributes["value"] or ""
    raise AssertionError(f"no radio or checkbox labelled {text}")
