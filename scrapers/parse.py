"""Parsing of the store pages: pure functions over HTML (selectolax), tested on saved pages.

Nothing here touches a browser or the network; the page objects hand their HTML in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scrapers import site


def _doc(html: str) -> LexborHTMLParser:
    return LexborHTMLParser(html)


def _text(node: LexborNode | None) -> str:
    if node is None:
        return ""
    return re.sub(r"\s+", " ", node.text(deep=True, separator=" ")).strip()


# --- what kind of page is this ------------------------------------------------------------------
class PageKind(StrEnum):
    LOGIN_HANDLE = "login_handle"  # Yahoo ID step
    LOGIN_PASSWORD = "login_password"  # noqa: S105  (a page kind, not a password)
    CAPTCHA = "captcha"  # the password step asks for the captcha's characters
    SMS = "sms"  # SMS認証: a code sent to the store's phone
    BUSINESS = "business"  # the business ID step
    BUSY = "busy"  # a 5xx "アクセスが集中しています" page
    OTHER = "other"  # anything else: a store page


def classify(html: str) -> PageKind:
    """Which login step (or wall) a page is, by what is on it."""
    doc = _doc(html)
    login = site.LOGIN
    if doc.css_first(login.sms_code) is not None and any(t in html for t in login.sms_texts):
        return PageKind.SMS
    if doc.css_first(login.business_id) is not None:
        return PageKind.BUSINESS
    if doc.css_first(login.password) is not None:
        if doc.css_first(login.captcha_input) is not None:
            return PageKind.CAPTCHA
        return PageKind.LOGIN_PASSWORD
    handle = doc.css_first(login.handle)
    if handle is not None and (handle.attributes.get("type") or "text") != "hidden":
        return PageKind.LOGIN_HANDLE
    if any(t in _text(doc.body) for t in site.BUSY_TEXTS):
        return PageKind.BUSY
    return PageKind.OTHER


def error_texts(html: str, selector: str = "[role=alert], .error") -> list[str]:
    """The page's own error messages, in page order, without duplicates (nested boxes)."""
    doc = _doc(html)
    out: list[str] = []
    for node in doc.css(selector):
        # a box that only wraps other error nodes would repeat them: take the leaves' text
        text = _text(node)
        if text and not any(text in seen or seen in text for seen in out):
            out.append(text)
        elif text:
            # keep the longer, more specific text when one contains the other
            for i, seen in enumerate(out):
                if seen in text and len(text) > len(seen):
                    out[i] = text
    return out


def field_errors(html: str) -> dict[str, list[str]]:
    """Errors the form shows next to fields: field name → messages."""
    out: dict[str, list[str]] = {}
    for node in _doc(html).css("[data-error-for]"):
        name = node.attributes.get("data-error-for") or ""
        text = _text(node)
        if text:
            out.setdefault(name, []).append(text)
    return out


# --- pre-flight ---------------------------------------------------------------------------------
def missing_selectors(html: str, selectors: dict[str, str]) -> list[str]:
    """Labels whose CSS selector matches nothing on the page."""
    doc = _doc(html)
    return [label for label, css in selectors.items() if doc.css_first(css) is None]


def label_texts(html: str) -> list[str]:
    return [_text(n) for n in _doc(html).css("label")]


def missing_labels(html: str, labels: dict[str, str]) -> list[str]:
    """Names whose visible label text (a checkbox or radio's <label>) is not on the page."""
    present = set(label_texts(html))
    return [name for name, text in labels.items() if text not in present]


def button_texts(html: str) -> list[str]:
    doc = _doc(html)
    texts = [_text(n) for n in doc.css("button")]
    texts += [
        (n.attributes.get("value") or "").strip()
        for n in doc.css('input[type="submit"], input[type="button"]')
    ]
    return [t for t in texts if t]


def radio_labels(html: str, name: str) -> list[str]:
    """The labels of the radios called `name`, in page order."""
    out = []
    for label in _doc(html).css("label"):
        radio = label.css_first(f'input[type="radio"][name="{name}"]')
        if radio is not None:
            out.append(_text(label))
    return out


# --- completion page ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Completion:
    auction_id: str
    management_number: str | None


def _dl_value(doc: LexborHTMLParser, label: str) -> LexborNode | None:
    for dt in doc.css("dt, th"):
        if _text(dt) == label:
            node = dt.next
            while node is not None and node.tag not in ("dd", "td"):
                node = node.next
            return node
    return None


def parse_completion(html: str) -> Completion | None:
    """The new auction's id from the completion page; None when this is not that page."""
    facts = site.ITEM_COMPLETE
    doc = _doc(html)
    if not any(t in _text(doc.body) for t in facts.success_texts):
        return None
    auction_id = ""
    node = _dl_value(doc, facts.auction_id_label)
    if node is not None:
        link = node.css_first("a[href]")
        href = link.attributes.get("href") if link is not None else None
        m = facts.auction_link_re.search(href or "")
        auction_id = m.group(1) if m else _text(node)
    if not auction_id:
        for link in doc.css("a[href]"):
            m = facts.auction_link_re.search(link.attributes.get("href") or "")
            if m:
                auction_id = m.group(1)
                break
    if not auction_id or not re.fullmatch(r"[A-Za-z0-9]+", auction_id):
        return None
    mn_node = _dl_value(doc, facts.management_number_label)
    return Completion(auction_id, _text(mn_node) or None)


# --- item list ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ListedItem:
    item_id: str
    management_number: str
    auction_id: str | None
    status: str | None = None


@dataclass
class ItemListPage:
    items: list[ListedItem] = field(default_factory=list)
    total: int | None = None  # 全N件
    page: int = 1
    last_page: int = 1
    next_href: str | None = None
    loading: bool = False
    rows_seen: int = 0  # table rows on the page, parsed or not

    @property
    def complete(self) -> bool:
        """Every row of the page was understood (a renamed checkbox would leave rows out)."""
        return len(self.items) == self.rows_seen and not (
            self.total and self.rows_seen == 0 and self.page <= self.last_page
        )


def merge_list_pages(pages: list[ItemListPage]) -> list[ListedItem] | None:
    """The rows of a list read page by page, or None when the list moved during the read.

    The pages are read one after another (or a few at once) while the store keeps working: an
    item listed or updated meanwhile moves to the top and pushes every row down one place. A row
    can then slip past a page boundary unseen, and the same shift shows a row on two pages, or
    changes the 全N件 count. Either sign means: read again.
    """
    seen: set[str] = set()
    rows: list[ListedItem] = []
    for page in pages:
        for item in page.items:
            if item.item_id in seen:
                return None
            seen.add(item.item_id)
            rows.append(item)
    if len({p.total for p in pages if p.total is not None}) > 1:
        return None
    return rows


def _header_index(table: LexborNode, header: str) -> int | None:
    for i, th in enumerate(table.css("thead th")):
        if _text(th) == header:
            return i
    return None


def parse_item_list(html: str) -> ItemListPage:
    """One page of the 競りナビ item list: each row's item id, 管理番号, auction id and state."""
    facts = site.ITEM_LIST
    doc = _doc(html)
    out = ItemListPage()
    body_text = _text(doc.body)
    out.loading = facts.loading_text in body_text
    m = facts.total_re.search(body_text)
    if m:
        out.total = int(m.group(1).replace(",", ""))
    m = facts.pages_re.search(body_text)
    if m:
        out.page, out.last_page = int(m.group(1)), int(m.group(2))
    for link in doc.css("a[href]"):
        if _text(link) == facts.next_link_text or link.attributes.get("rel") == "next":
            out.next_href = link.attributes.get("href")
            break
    for table in doc.css("table"):
        aid_col = _header_index(table, facts.auction_id_header)
        status_col = _header_index(table, facts.status_header)
        if aid_col is None:
            continue
        for row in table.css("tbody tr"):
            out.rows_seen += 1
            box = row.css_first(f'input[type="checkbox"][name="{facts.row_checkbox}"]')
            mn = facts.management_number_re.search(_text(row))
            if box is None or mn is None:
                continue
            cells = row.css("td")
            auction_id = _text(cells[aid_col]) if aid_col < len(cells) else ""
            status = (
                _text(cells[status_col])
                if status_col is not None and status_col < len(cells)
                else ""
            )
            out.items.append(
                ListedItem(
                    item_id=(box.attributes.get("value") or "").strip(),
                    management_number=mn.group(1),
                    auction_id=auction_id if re.fullmatch(r"[A-Za-z0-9]+", auction_id) else None,
                    status=status or None,
                )
            )
    return out
