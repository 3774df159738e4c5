"""Pure parsers of the store's list and order pages (selectolax), for sync.

Every function takes HTML text and returns plain dataclasses; nothing here does I/O, so each is
tested on saved sandbox pages (`tests/sync/pages/`). A page whose table or a needed header is
missing raises `LayoutChanged` naming it (Japanese for staff, English for logs): page changes are
detected, never guessed. A row with an unreadable value is skipped and reported in `problems`,
so one odd row never hides the other 4,999.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

from scrapers import sync_site as site
from scrapers.errors import ScraperError

JST = timezone(timedelta(hours=9))
T = TypeVar("T")
RowT = TypeVar("RowT")


class LayoutChanged(ScraperError):
    """A page no longer looks as `sync_site` says; the sync stops with this message."""

    def __init__(self, page: str, missing: str) -> None:
        super().__init__(
            f"ヤフオクの「{page}」の画面が変わったため読み取れません（見つからない項目: {missing}）。"
            "読み取れた分は保存しました。コネクタの更新が必要です。",
            f"page layout changed: {page}: missing {missing}",
        )
        self.page = page
        self.missing = missing


@dataclass(slots=True)
class ListPage(Generic[T]):
    rows: list[T]
    total: int | None  # 「全N件」 when shown
    page_count: int | None
    problems: list[str] = field(default_factory=list)  # English, one per skipped row
    has_next: bool = False  # a 「次」 link: used only when the page does not say 「全N件」


@dataclass(slots=True)
class SellingRow:
    auction_id: str
    management_number: str | None
    title: str | None
    price: int | None
    bids: int
    end_time: datetime | None
    watchers: int | None = None
    item_id: int | None = None  # 競りナビ item id (from the edit link), for end / edit


@dataclass(slots=True)
class ItemRow:
    item_id: int | None
    management_number: str | None
    title: str | None
    status: str  # 出品中, 終了（落札者あり）, 終了（落札者なし）, 早期終了 …
    price: int | None
    auction_id: str | None
    edit_url: str | None = None


@dataclass(slots=True)
class SoldRow:
    auction_id: str
    management_number: str | None
    title: str | None
    price: int | None
    sold_at: datetime | None
    winner: str | None = None


@dataclass(slots=True)
class OrderRow:
    order_id: str
    ordered_at: datetime | None
    order_status: str | None
    pay_status: str | None
    ship_status: str | None
    store_status: str | None
    auction_id: str | None
    management_number: str | None
    buyer_name: str | None
    total: int | None
    payment_method: str | None
    updated: str | None
    detail_url: str | None = None

    def fingerprint(self) -> str:
        """What must change on the list for the detail page to be worth reading again."""
        return "|".join(
            str(x or "")
            for x in (
                self.order_status,
                self.pay_status,
                self.ship_status,
                self.store_status,
                self.total,
                self.updated,
                self.buyer_name,
            )
        )


@dataclass(slots=True)
class OrderDetail:
    order_id: str
    ordered_at: datetime | None
    order_status: str | None
    pay_status: str | None
    ship_status: str | None
    store_status: str | None
    auction_id: str | None
    management_number: str | None
    title: str | None
    buyer_name: str | None
    buyer_kana: str | None
    postal_code: str | None
    address: str | None
    phone: str | None
    mail: str | None
    price: int | None
    shipping_fee: int | None
    total: int | None
    payment_method: str | None
    carrier: str | None
    tracking_number: str | None
    updated: str | None


# ---- small value parsers ---------------------------------------------------------------------------
def clean(text: str | None) -> str | None:
    """Whitespace collapsed; the characters themselves are kept (addresses, names)."""
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None


@functools.lru_cache(maxsize=1024)
def label(text: str | None) -> str:
    """A header or row label, compared after NFKC (（） and () are the same label)."""
    return " ".join(unicodedata.normalize("NFKC", text or "").split())


def _fragment(html: str, marker: str, end: str = "</table>") -> str:
    """Only the part of a page from `marker` to `end` (a detail page is mostly head and forms:
    parsing the table alone is several times faster). The whole page when not found, so a
    missing table is still reported by the selector check."""
    start = html.find(marker)
    if start < 0:
        return html
    start = html.rfind("<", 0, start)  # back to the start of the tag holding the marker
    if start < 0:
        return html
    stop = html.find(end, start)
    return html[start : stop + len(end)] if stop >= 0 else html[start:]


def parse_yen(text: str | None) -> int | None:
    """「1,234円」, 「￥1,234」, "1234" → 1234; blank → None; junk raises ValueError."""
    t = clean(unicodedata.normalize("NFKC", text or ""))
    if t is None:
        return None
    digits = re.sub(r"[,円¥￥\s]", "", t)
    if not digits.isdigit():
        raise ValueError(f"not a yen amount: {t!r}")
    return int(digits)


def parse_int(text: str | None, default: int | None = None) -> int | None:
    t = clean(unicodedata.normalize("NFKC", text or ""))
    if t is None:
        return default
    t = t.replace(",", "")
    if not t.isdigit():
        raise ValueError(f"not a number: {t!r}")
    return int(t)


def parse_jst(text: str | None) -> datetime | None:
    """「2026/11/22 09:00」 (JST, as the store pages show) → aware UTC datetime."""
    t = clean(unicodedata.normalize("NFKC", text or ""))
    if t is None:
        return None
    for fmt in ("%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d"):
        try:
            return datetime.strptime(t, fmt).replace(tzinfo=JST).astimezone(UTC)
        except ValueError:
            continue
    raise ValueError(f"not a date: {t!r}")


def query_int(href: str | None, key: str) -> int | None:
    if not href:
        return None
    values = parse_qs(urlsplit(href).query).get(key)
    if values and values[0].isdigit():
        return int(values[0])
    return None


# ---- page-level helpers ------------------------------------------------------------------------------
def is_login_page(html: str) -> bool:
    """The session expired: Yahoo answered with its login form instead of the page."""
    tree = HTMLParser(html)
    return any(tree.css_first(sel) is not None for sel in site.LOGIN_MARKERS)


def find_store_id(html: str) -> str | None:
    """The store id from any link to ストアクリエイターPro (`/pro.<id>/…`)."""
    tree = HTMLParser(html)
    for a in tree.css("a[href]"):
        m = site.STORE_ID_RE.search(a.attributes.get("href") or "")
        if m:
            return m.group(1)
    return None


def page_text(html: str, selector: str) -> str | None:
    """The text of the first element matching `selector` (messages and errors)."""
    node = HTMLParser(html).css_first(selector)
    return clean(node.text()) if node is not None else None


@dataclass(slots=True)
class _Cell:
    text: str | None
    href: str | None
    node: Node


def _table(html: str, facts: site.TableFacts) -> tuple[list[dict[str, _Cell]], int | None, bool]:
    tree = HTMLParser(html)
    more = tree.css_first(site.NEXT_LINK) is not None
    total = None
    count = tree.css_first(".pager .count")
    if count is not None:
        m = site.TOTAL_RE.search(count.text())
        if m:
            total = int(m.group(1).replace(",", ""))
    table = tree.css_first(facts.table)
    if table is None:
        if tree.css_first(facts.empty) is not None:
            return [], total if total is not None else 0, False
        raise LayoutChanged(facts.name, facts.table)
    header_cells = table.css("thead th") or table.css("tr:first-child th")
    headers = [label(th.text()) for th in header_cells]
    index: dict[str, int] = {}
    for key, text in facts.headers.items():
        if label(text) in headers:
            index[key] = headers.index(label(text))
        elif key not in facts.optional:
            raise LayoutChanged(facts.name, f"列「{text}」")
    rows: list[dict[str, _Cell]] = []
    body_rows = table.css("tbody tr") or table.css("tr")[1:]
    for tr in body_rows:
        cells = tr.css("td")
        if not cells:
            continue
        row: dict[str, _Cell] = {}
        for key, i in index.items():
            if i < len(cells):
                a = cells[i].css_first("a[href]") if key in facts.links else None
                row[key] = _Cell(
                    clean(cells[i].text(separator=" ")),
                    a.attributes.get("href") if a is not None else None,
                    cells[i],
                )
        row["_row"] = _Cell(None, None, tr)
        rows.append(row)
    return rows, total, more


def _text(row: dict[str, _Cell], key: str) -> str | None:
    cell = row.get(key)
    return cell.text if cell is not None else None


def _href(row: dict[str, _Cell], key: str) -> str | None:
    cell = row.get(key)
    return cell.href if cell is not None else None


def _pages(total: int | None, size: int) -> int | None:
    return None if total is None else max(1, math.ceil(total / size))


def _list_page(
    html: str, facts: Any, kind: str, build: Callable[[dict[str, _Cell]], RowT]
) -> ListPage[RowT]:
    """Rows of one list page; a row that does not parse is named in `problems`, the rest go on."""
    rows, total, more = _table(html, facts)
    out: list[RowT] = []
    problems: list[str] = []
    for n, r in enumerate(rows, 1):
        try:
            out.append(build(r))
        except ValueError as exc:
            problems.append(f"{kind} row {n}: {exc}")
    return ListPage(out, total, _pages(total, facts.page_size), problems, more)


def _auction_id(text: str | None) -> str | None:
    t = clean(text)
    return t if t and site.AUCTION_ID_RE.match(t) else None


# ---- the list pages ----------------------------------------------------------------------------------
def parse_selling(html: str) -> ListPage[SellingRow]:
    return _list_page(html, site.SELLING, "selling", _selling_row)


def _selling_row(r: dict[str, _Cell]) -> SellingRow:
    aid = _auction_id(_text(r, "auction_id"))
    if aid is None:
        raise ValueError(f"bad auction id {_text(r, 'auction_id')!r}")
    return SellingRow(
        auction_id=aid,
        management_number=_text(r, "management_number"),
        title=_text(r, "title"),
        price=parse_yen(_text(r, "price")),
        bids=parse_int(_text(r, "bids"), 0) or 0,
        end_time=parse_jst(_text(r, "end_time")),
        watchers=parse_int(_text(r, "watchers")),
        item_id=query_int(_href(r, "title"), "item_id"),
    )


_MN_RE = re.compile(r"管理番号\s*[:：]?\s*(\S+)")


def parse_items(html: str) -> ListPage[ItemRow]:
    return _list_page(html, site.ITEMS, "item", _items_row)


def _items_row(r: dict[str, _Cell]) -> ItemRow:
    cell = r["title"]
    mn_node = cell.node.css_first(".sc-mn")
    m = _MN_RE.search(label(mn_node.text() if mn_node else cell.text))
    link = cell.node.css_first("a[href]")
    item_id = query_int(link.attributes.get("href") if link else None, "item_id")
    row_id = r["_row"].node.attributes.get("data-item-id")
    if item_id is None and row_id and row_id.isdigit():
        item_id = int(row_id)
    return ItemRow(
        item_id=item_id,
        management_number=m.group(1) if m else None,
        title=clean(link.text()) if link is not None else None,
        status=_text(r, "status") or "",
        price=parse_yen(_text(r, "price")),
        auction_id=_auction_id(_text(r, "auction_id")),
        edit_url=link.attributes.get("href") if link is not None else None,
    )


def parse_sold(html: str) -> ListPage[SoldRow]:
    return _list_page(html, site.SOLD, "sold", _sold_row)


def _sold_row(r: dict[str, _Cell]) -> SoldRow:
    aid = _auction_id(_text(r, "auction_id"))
    if aid is None:
        raise ValueError(f"bad auction id {_text(r, 'auction_id')!r}")
    return SoldRow(
        auction_id=aid,
        management_number=_text(r, "management_number"),
        title=_text(r, "title"),
        price=parse_yen(_text(r, "price")),
        sold_at=parse_jst(_text(r, "sold_at")),
        winner=_text(r, "winner"),
    )


def parse_orders(html: str) -> ListPage[OrderRow]:
    return _list_page(html, site.ORDERS, "order", _orders_row)


def _orders_row(r: dict[str, _Cell]) -> OrderRow:
    oid = _text(r, "order_id")
    if not oid:
        raise ValueError("no order id")
    return OrderRow(
        order_id=oid,
        ordered_at=parse_jst(_text(r, "ordered_at")),
        order_status=_text(r, "order_status"),
        pay_status=_text(r, "pay_status"),
        ship_status=_text(r, "ship_status"),
        store_status=_text(r, "store_status"),
        auction_id=_auction_id(_text(r, "auction_id")),
        management_number=_text(r, "management_number"),
        buyer_name=_text(r, "buyer_name"),
        total=parse_yen(_text(r, "total")),
        payment_method=_text(r, "payment_method"),
        updated=_text(r, "updated"),
        detail_url=_href(r, "order_id"),
    )


def parse_order_detail(html: str) -> OrderDetail:
    facts = site.ORDER_DETAIL
    tree = HTMLParser(_fragment(html, facts.table_marker))
    table = tree.css_first(facts.table)
    if table is None:
        raise LayoutChanged("注文詳細", facts.table)
    by_label: dict[str, str | None] = {}
    for tr in table.css("tr"):
        th, td = tr.css_first("th"), tr.css_first("td")
        if th is not None and td is not None:
            by_label[label(th.text())] = clean(td.text(separator=" "))
    values: dict[str, str | None] = {}
    for key, text in facts.labels.items():
        if label(text) not in by_label and key in facts.required:
            raise LayoutChanged("注文詳細", f"項目「{text}」")
        values[key] = by_label.get(label(text))
    order_id = values["order_id"]
    if not order_id:
        raise LayoutChanged("注文詳細", "注文ID")
    return OrderDetail(
        order_id=order_id,
        ordered_at=parse_jst(values["ordered_at"]),
        order_status=values["order_status"],
        pay_status=values["pay_status"],
        ship_status=values["ship_status"],
        store_status=values["store_status"],
        auction_id=_auction_id(values["auction_id"]),
        management_number=values["management_number"],
        title=values["title"],
        buyer_name=values["buyer_name"],
        buyer_kana=values["buyer_kana"],
        postal_code=values["postal_code"],
        address=values["address"],
        phone=values["phone"],
        mail=values["mail"],
        price=parse_yen(values["price"]),
        shipping_fee=parse_yen(values["shipping_fee"]),
        total=parse_yen(values["total"]),
        payment_method=values["payment_method"],
        carrier=values["carrier"],
        tracking_number=values["tracking_number"],
        updated=values["updated"],
    )


def form_fields(html: str, selector: str = "form") -> tuple[str | None, dict[str, str]]:
    """(action, name → value) of the first form matching `selector`, as a browser would submit
    it: text/hidden inputs, checked boxes and radios, selected options, textareas."""
    tree = HTMLParser(html)
    form = tree.css_first(selector)
    if form is None:
        return None, {}
    values: dict[str, str] = {}
    for node in form.css("input[name]"):
        name = node.attributes.get("name") or ""
        kind = (node.attributes.get("type") or "text").lower()
        if kind in ("submit", "button", "file", "image", "reset"):
            continue
        if kind in ("checkbox", "radio") and "checked" not in node.attributes:
            continue
        values[name] = node.attributes.get("value") or ("on" if kind == "checkbox" else "")
    for node in form.css("textarea[name]"):
        values[node.attributes.get("name") or ""] = node.text(deep=True)
    for node in form.css("select[name]"):
        chosen = node.css_first("option[selected]") or node.css_first("option")
        if chosen is not None:
            values[node.attributes.get("name") or ""] = chosen.attributes.get("value") or ""
    return form.attributes.get("action"), values
