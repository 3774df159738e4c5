"""World next's rendered pages as saved by `save_next_pages` (what a browser shows after the
script ran): the rows can be read by text, as the evidence's parser does, and the pager's own
checkbox is told apart by its missing 管理番号."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

PAGES = Path(__file__).with_name("pages") / "next"
MN = re.compile(r"^管理番号 (\S+)$")


def page(name: str) -> HTMLParser:
    return HTMLParser((PAGES / name).read_text(encoding="utf-8"))


def rows_by_text(doc: HTMLParser) -> dict[str, list[str]]:
    """管理番号 -> the row's cell texts, for every `ul` holding a checkbox and a 管理番号."""
    out: dict[str, list[str]] = {}
    for ul in doc.css("#__next ul"):
        box = ul.css_first("input[name=itemCheckbox]")
        number = next(
            (m.group(1) for p in ul.css("p") if (m := MN.match(p.text(strip=True)))), None
        )
        if box is None or number is None:
            continue
        out[number] = [box.attributes.get("value") or ""] + [
            li.text(strip=True) for li in ul.css("li")
        ]
    return out


@pytest.mark.parametrize(
    ("name", "count", "total"),
    [("items.html", 42, 42), ("selling.html", 31, 31), ("sold.html", 10, 10)],
)
def test_rows_and_pager(name: str, count: int, total: int) -> None:
    doc = page(name)
    assert doc.css_first("#js-loadingWrapper") is None and doc.css("th") == []
    rows = rows_by_text(doc)
    assert len(rows) == count
    boxes = doc.css("input[name=itemCheckbox]")
    pager_boxes = [b for b in boxes if not b.attributes.get("value")]
    assert len(boxes) == count + 2 and len(pager_boxes) == 2  # above and below the rows
    counts = {p.text(strip=True) for p in doc.css("#__next p") if "を表示しています" in p.text()}
    assert counts == {f"1〜{count}件（全{total}件）を表示しています"}
    for cells in rows.values():
        assert cells[0].isdigit() and any(re.fullmatch(r"[\d,]+円", c) for c in cells)
        assert "編集" in cells
    assert doc.css_first("select[name=sortCondition]") is not None


def test_item_list_shows_registered_and_started() -> None:
    rows = rows_by_text(page("items.html"))
    registered, started = rows["REG-0001"], rows["REG-0002"]
    assert "未出品" in registered and not any(re.fullmatch(r"x\d{10}", c) for c in registered)
    assert "出品中" in started and any(re.fullmatch(r"x\d{10}", c) for c in started)
    doc = page("items.html")
    edit = [a.attributes["href"] for a in doc.css("#__next a") if a.text(strip=True) == "編集"][0]
    assert re.fullmatch(
        r"/serinavi/items/create\?folder_id=\d+&item_folder_id=\d+&item_id=\d+&action=edit",
        edit or "",
    )


def test_selling_and_sold_link_auctions() -> None:
    for name in ("selling.html", "sold.html"):
        links = [a.text(strip=True) for a in page(name).css("#__next a[href^='/jp/auction/']")]
        assert links and all(re.fullmatch(r"x\d{10}", t) for t in links)
    sold = rows_by_text(page("sold.html"))
    assert all("終了（落札者あり）" in cells for cells in sold.values())


def test_upload_result() -> None:
    doc = page("upload_result.html")
    assert doc.css_first("#uploadResult p").text() == (
        "ファイルを受け付けました。1件の商品を登録しました。1行はエラーのため登録されませんでした。"
    )
    assert "期間は1〜7日" in doc.css_first("#uploadErrors").text()
