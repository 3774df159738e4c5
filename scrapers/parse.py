"""What the store's pages say, as data: pure functions over HTML (selectolax) and JSON.

Nothing here touches a browser or the network; every function is tested on saved pages of both
sandbox worlds (`tests/sandbox_yahoo/pages/`, `tests/direct/pages/`, `tests/sync/pages/`).

- `classify`: which kind of page this is (a login step, a wall, a busy page, a store page);
- `parse_list`: the rows of a 競りナビ list (商品管理, 出品中, 落札分), whether the page is a table
  with headers or repeated `ul`/`li` blocks, found by what each row says; `list_from_json` reads
  the JSON a rendered list loads, when the facts know its keys;
- `parse_orders`, `parse_order_detail`: ストアクリエイターPro 注文管理;
- the item form (`missing_on_form`, `field_errors`), its answers (`parse_completion`), the bulk
  upload's answer (`parse_upload_result`), forms as a browser submits them (`form_fields`).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scrapers.errors import LayoutChanged
from scrapers.facts import FACTS, Facts, ListFacts

JST = timezone(timedelta(hours=9))


# --- small value parsers -------------------------------------------------------------------------
def doc(html: str) -> LexborHTMLParser:
    return LexborHTMLParser(html)


def node_text(node: LexborNode | None) -> str:
    if node is None:
        return ""
    return " ".join(node.text(deep=True, separator=" ").split())


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
    """「3」, 「3件」, "1,000" → int; blank → `default`; junk raises ValueError."""
    t = clean(unicodedata.normalize("NFKC", text or ""))
    if t is None:
        return default
    t = t.replace(",", "").removesuffix("件").strip()
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


def query_value(href: str | None, key: str) -> str | None:
    if not href:
        return None
    values = parse_qs(urlsplit(href).query).get(key)
    return values[0] if values and values[0] else None


def _fragment(html: str, marker: str, end: str = "</table>") -> str:
    """Only the part of a page from `marker` to `end` (a detail page is mostly head and forms:
    parsing the table alone is several times faster). The whole page when not found."""
    start = html.find(marker)
    if start < 0:
        return html
    start = html.rfind("<", 0, start)
    if start < 0:
        return html
    stop = html.find(end, start)
    return html[start : stop + len(end)] if stop >= 0 else html[start:]


# --- what a page shows ---------------------------------------------------------------------------
def error_texts(html: str, selector: str = "[role=alert], .error") -> list[str]:
    """The page's own error messages, in page order, without duplicates (nested boxes)."""
    out: list[str] = []
    for node in doc(html).css(selector):
        if _hidden(node):
            continue
        text = node_text(node)
        if text and not any(text in seen or seen in text for seen in out):
            out.append(text)
        elif text:
            # keep the longer, more specific text when one contains the other
            for i, seen in enumerate(out):
                if seen in text and len(text) > len(seen):
                    out[i] = text
    return out


def page_text(html: str, selector: str) -> str | None:
    """The text of the first element matching `selector` (messages and errors)."""
    node = doc(html).css_first(selector)
    return clean(node_text(node)) if node is not None else None


def field_errors(html: str, facts: Facts = FACTS) -> dict[str, list[str]]:
    """Errors the form shows next to fields: field name → messages."""
    attr = facts.form.field_error_attribute
    out: dict[str, list[str]] = {}
    for node in doc(html).css(f"[{attr}]"):
        name = node.attributes.get(attr) or ""
        text = node_text(node)
        if text:
            out.setdefault(name, []).append(text)
    return out


def label_texts(html: str) -> list[str]:
    return [node_text(n) for n in doc(html).css("label")]


def button_texts(html: str) -> list[str]:
    tree = doc(html)
    texts = [node_text(n) for n in tree.css("button, [role=button]")]
    texts += [
        (n.attributes.get("value") or "").strip()
        for n in tree.css('input[type="submit"], input[type="button"]')
    ]
    return [t for t in texts if t]


def radio_labels(html: str, name: str) -> list[str]:
    """The labels of the radios called `name`, in page order."""
    out = []
    for lab in doc(html).css("label"):
        if lab.css_first(f'input[type="radio"][name="{name}"]') is not None:
            out.append(node_text(lab))
    return out


def form_fields(html: str, selector: str = "form") -> tuple[str | None, dict[str, str]]:
    """(action, name → value) of the first form matching `selector`, as a browser would submit
    it: text/hidden inputs, checked boxes and radios, selected options, textareas."""
    form = doc(html).css_first(selector)
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


def option_value(html: str, select_name: str, option_label: str) -> str | None:
    """The value of the option labelled `option_label` in the select called `select_name`."""
    select = doc(html).css_first(f'select[name="{select_name}"]')
    if select is None:
        return None
    for option in select.css("option"):
        if node_text(option) == option_label:
            return option.attributes.get("value") or ""
    return None


def find_store_id(html: str, facts: Facts = FACTS) -> str | None:
    """The store id from any link to ストアクリエイターPro (`/pro.<id>/…`)."""
    for a in doc(html).css("a[href]"):
        m = facts.paths.store_id_pattern.search(a.attributes.get("href") or "")
        if m:
            return m.group(1)
    return None


NAV_KEYS = ("items", "selling", "sold", "orders")  # the lists a 競りナビ page links to


def navigation(html: str, facts: Facts = FACTS) -> dict[str, str]:
    """The lists' links on a 競りナビ page, by their text: list key → href."""
    links = [(node_text(a), a.attributes.get("href") or "") for a in doc(html).css("a[href]")]
    out: dict[str, str] = {}
    for key in NAV_KEYS:
        texts = getattr(facts.navigation, key).texts
        href = next((h for t, h in links if t in texts and h and h != "#"), None)
        if href:
            out[key] = href
    return out


# --- which page is this --------------------------------------------------------------------------
class PageKind(StrEnum):
    LOGGED_IN = "logged_in"  # a store page
    CHOOSER = "chooser"  # the bridge's 「Yahoo! JAPAN IDでログイン」 choice
    LOGIN_HANDLE = "login_handle"  # the Yahoo ID step
    LOGIN_PASSWORD = "login_password"  # noqa: S105  (a page kind, not a password)
    CAPTCHA = "captcha"  # the password step asks for an image's characters
    ONE_TIME_CODE = "one_time_code"  # SMS認証: a code sent to the store's phone
    BUSINESS = "business"  # the business ID step
    BUSY = "busy"  # a 5xx "アクセスが集中しています" page
    LOGIN_CHANGED = "login_changed"  # a login page we do not recognise (its layout changed)


LOGIN_KINDS = frozenset(PageKind) - {PageKind.LOGGED_IN, PageKind.BUSY}


def _hidden(node: LexborNode) -> bool:
    """Not shown: the node or an ancestor is `hidden`, `display:none`, or a hidden input."""
    current: LexborNode | None = node
    while current is not None and current.tag not in ("html", "-undef"):
        attrs = current.attributes
        if "hidden" in attrs or (attrs.get("aria-hidden") == "true"):
            return True
        if current.tag == "input" and (attrs.get("type") or "").lower() == "hidden":
            return True
        style = (attrs.get("style") or "").replace(" ", "").lower()
        if "display:none" in style:
            return True
        current = current.parent
    return False


def find(tree: LexborHTMLParser, candidates: tuple[str, ...]) -> LexborNode | None:
    """The first visible element among `candidates` (CSS, or `label:テキスト` for the input that
    label names)."""
    for candidate in candidates:
        if candidate.startswith("label:"):
            wanted = candidate.removeprefix("label:")
            for lab in tree.css("label"):
                if node_text(lab) != wanted:
                    continue
                target = lab.css_first("input, textarea, select")
                if target is None and lab.attributes.get("for"):
                    target = tree.css_first(f'[id="{lab.attributes["for"]}"]')
                if target is not None and not _hidden(target):
                    return target
            continue
        for node in tree.css(candidate):
            if not _hidden(node):
                return node
    return None


def _markers(candidates: tuple[str, ...]) -> list[str]:
    """Cheap substrings that must be in a page for a candidate to match (a fast first check)."""
    out = []
    for c in candidates:
        if c.startswith("label:"):
            out.append(c.removeprefix("label:"))
        else:
            m = re.search(r"[#.]([\w-]+)|name=\"?([\w-]+)", c)
            out.append(next(g for g in m.groups() if g) if m else c)
    return out


_MARKERS: dict[int, tuple[str, ...]] = {}


def _login_markers(facts: Facts) -> tuple[str, ...]:
    if id(facts) in _MARKERS:
        return _MARKERS[id(facts)]
    login = facts.login
    found: list[str] = [login.chooser_link]
    for group in (
        login.handle,
        login.password,
        login.captcha,
        login.one_time_code,
        login.business_id,
    ):
        found += _markers(group)
    _MARKERS[id(facts)] = tuple(dict.fromkeys(found))
    return _MARKERS[id(facts)]


def classify(html: str, url: str = "", facts: Facts = FACTS) -> PageKind:
    """Which login step, wall or store page this is, by what is on it (and, for login hosts and
    paths, by where it is: such a page is never taken for a logged-in store page)."""
    login = facts.login
    on_login_address = bool(url) and login.is_login_address(url)
    if not on_login_address and not any(m in html for m in _login_markers(facts)):
        # the common case (every list page of a sync): no parse needed
        if any(t in html for t in facts.texts.busy):
            return PageKind.BUSY
        return PageKind.LOGGED_IN
    tree = doc(html)
    code = find(tree, login.one_time_code)
    if code is not None and any(t in html for t in login.one_time_code_texts):
        return PageKind.ONE_TIME_CODE
    if find(tree, login.business_id) is not None:
        return PageKind.BUSINESS
    if find(tree, login.password) is not None:
        if find(tree, login.captcha) is not None:
            return PageKind.CAPTCHA
        return PageKind.LOGIN_PASSWORD
    handle = find(tree, login.handle)
    if handle is not None and "readonly" not in handle.attributes:
        return PageKind.LOGIN_HANDLE
    if any(node_text(a) == login.chooser_link for a in tree.css("a, button")):
        return PageKind.CHOOSER
    body = node_text(tree.body)
    if any(t in body for t in facts.texts.busy):
        return PageKind.BUSY
    if on_login_address:
        return PageKind.LOGIN_CHANGED
    return PageKind.LOGGED_IN


# --- 競りナビ lists ----------------------------------------------------------------------------------
@dataclass(slots=True)
class ListRow:
    """One row of 商品管理, 出品中 or 落札分: what the row says (None: it does not say)."""

    item_id: str | None = None  # 競りナビ's item id (the row checkbox's value)
    management_number: str | None = None
    auction_id: str | None = None  # None while an item is only registered in a folder
    title: str | None = None
    price: int | None = None  # current price (出品中, 商品管理) or winning price (落札分)
    start_price: int | None = None
    status: str | None = None  # 未出品, 出品中, 終了（落札者あり）…
    bids: int = 0
    watchers: int | None = None
    end_time: datetime | None = None
    sold_at: datetime | None = None
    winner: str | None = None
    edit_url: str | None = None
    updated: str | None = None


R = TypeVar("R")


@dataclass(slots=True)
class ListPage(Generic[R]):
    """One page of a list (or a whole list, read): its rows and what the pager says."""

    rows: list[R]
    total: int | None  # 「全N件」 when shown
    page_count: int | None
    problems: list[str] = field(default_factory=list)  # English, one per skipped row
    has_next: bool = False  # a 「次」 link: used only when the page does not say 「全N件」
    shell: bool = False  # the rows come by script: read this page in a browser (or its JSON)


def merge_list_pages(pages: list[ListPage[ListRow]], key: str = "item_id") -> list[ListRow] | None:
    """The rows of a list read page by page, or None when the list moved during the read.

    The pages are read one after another (or a few at once) while the store keeps working: an
    item listed or updated meanwhile moves to the top and pushes every row down one place. A row
    can then slip past a page boundary unseen, and the same shift shows a row on two pages, or
    changes the 全N件 count. Either sign means: read again.
    """
    seen: set[str] = set()
    rows: list[ListRow] = []
    for page in pages:
        for row in page.rows:
            value = getattr(row, key)
            if value is not None and value in seen:
                return None
            if value is not None:
                seen.add(value)
            rows.append(row)
    if len({p.total for p in pages if p.total is not None}) > 1:
        return None
    return rows


@dataclass(slots=True)
class _Cell:
    said: str  # the cell's text, preceded by its column's header when it does not start with it
    node: LexborNode


def _children(node: LexborNode, tag: str) -> list[LexborNode]:
    out = []
    child = node.child
    while child is not None:
        if child.tag == tag:
            out.append(child)
        child = child.next
    return out


def _headers(tr: LexborNode, cache: dict[int, list[str]]) -> list[str]:
    table = tr.parent
    while table is not None and table.tag != "table":
        table = table.parent
    if table is None:
        return []
    key = table.mem_id
    if key not in cache:
        head = table.css_first("thead tr")
        if head is None:  # a header row: th cells only (a th|td row is a form's line)
            head = next(
                (r for r in table.css("tr") if _children(r, "th") and not _children(r, "td")),
                None,
            )
        cache[key] = [label(node_text(th)) for th in head.css("th")] if head is not None else []
    return cache[key]


def _blocks(tree: LexborHTMLParser) -> Iterator[tuple[LexborNode, list[_Cell]]]:
    """Every row-like block: a table row (cells labelled by their column's header) or a `ul`
    of `li`s (cells that label themselves: 「入札 3件」)."""
    cache: dict[int, list[str]] = {}
    for tr in tree.css("tr"):
        tds = _children(tr, "td")
        if not tds or _children(tr, "th"):
            continue
        headers = _headers(tr, cache)
        cells = []
        for i, td in enumerate(tds):
            text = node_text(td)
            header = headers[i] if i < len(headers) else ""
            said = f"{header} {text}" if header and text and not text.startswith(header) else text
            cells.append(_Cell(said, td))
        yield tr, cells
    for ul in tree.css("ul"):
        lis = _children(ul, "li")
        if lis:
            yield ul, [_Cell(node_text(li), li) for li in lis]


def _list_row(
    block: LexborNode, cells: list[_Cell], facts: Facts
) -> tuple[ListRow, set[str]] | None:
    """What one block says (the row, and the fields it says), or None when it is not a row (a
    pager, a menu, a block holding several rows)."""
    lists, texts = facts.lists, facts.texts
    boxes = [
        (b.attributes.get("value") or "").strip()
        for b in block.css(f'input[name="{lists.row_checkbox}"]')
    ]
    boxes = [b for b in boxes if b]
    links = [a.attributes.get("href") or "" for a in block.css("a[href]")]
    auction_links = {m.group(1) for h in links if (m := texts.auction_link_pattern.search(h))}
    if len(boxes) > 1 or len(auction_links) > 1:
        return None  # a block holding several rows
    said: dict[str, str] = {}
    bare: list[str] = []
    for cell in cells:
        m = lists.label_re.match(cell.said)
        if m:
            said.setdefault(lists.field_of_label[m.group(1)], m.group(2).strip())
        elif cell.said:
            bare.append(cell.said)
    number_match = None
    if "management_number" in said:
        number_match = texts.management_number_value.match(said["management_number"])
    if number_match is None:
        for cell in cells:
            m = texts.management_number_pattern.search(cell.said)
            if m is not None:
                said["management_number"] = cell.said[m.start(1) :]
                number_match = texts.management_number_value.match(said["management_number"])
                break
    if not (boxes or auction_links or number_match or "auction_id" in said):
        return None
    row = ListRow()
    if number_match is not None:
        row.management_number = number_match.group(0)
        rest = said["management_number"][number_match.end() :].strip()
        row.title = rest or None
    edit = next((h for h in links if lists.edit_link_marker in h), None)
    row.edit_url = edit
    row.item_id = boxes[0] if boxes else query_value(edit, "item_id")
    if auction_links:
        row.auction_id = next(iter(auction_links))
    elif "auction_id" in said and said["auction_id"]:
        if not texts.auction_id_pattern.fullmatch(said["auction_id"]):
            raise ValueError(f"bad auction id {said['auction_id']!r}")
        row.auction_id = said["auction_id"]
    statuses = facts.items.statuses
    for text in bare:
        if row.price is None and "price" not in said and texts.yen_pattern.fullmatch(text):
            row.price = parse_yen(text)
        elif row.status is None and "status" not in said and text in statuses:
            row.status = text
        elif row.auction_id is None and texts.bare_auction_id_pattern.fullmatch(text):
            row.auction_id = text
    link = next((a for a in block.css("a[href]") if a.attributes.get("href") == edit), None)
    link_text = node_text(link)
    if "title" in said:
        row.title = said["title"] or None
    elif link_text and link_text != lists.edit_link_text:
        row.title = link_text
    if "price" in said:
        row.price = parse_yen(said["price"])
    if "start_price" in said:
        row.start_price = parse_yen(said["start_price"])
    if "status" in said:
        row.status = said["status"] or None
    if "bids" in said:
        row.bids = parse_int(said["bids"], 0) or 0
    if "watchers" in said:
        row.watchers = parse_int(said["watchers"])
    if "end_time" in said:
        row.end_time = parse_jst(said["end_time"])
    if "sold_at" in said:
        row.sold_at = parse_jst(said["sold_at"])
    if "winner" in said:
        row.winner = said["winner"] or None
    if "updated" in said:
        row.updated = said["updated"] or None
    present = set(said) | {
        name for name in ListRow.__slots__ if name != "bids" and getattr(row, name) is not None
    }
    return row, present


def parse_list(html: str, lst: ListFacts, facts: Facts = FACTS) -> ListPage[ListRow]:
    """One page of a 競りナビ list: its rows, 「全N件」, the 「次」 link, whether it is a shell."""
    lists = facts.lists
    tree = doc(html)
    body = tree.body
    body_text = node_text(body)
    total = None
    m = lists.total_pattern.search(body_text)
    if m:
        total = int(m.group(1).replace(",", ""))
    has_next = any(node_text(a) in lists.next_link_texts for a in tree.css("a[href]"))
    rows: list[ListRow] = []
    problems: list[str] = []
    missing: dict[str, int] = {}
    for n, (block, cells) in enumerate(_blocks(tree), 1):
        try:
            found = _list_row(block, cells, facts)
        except ValueError as exc:
            problems.append(f"{lst.key} row {n}: {exc}")
            continue
        if found is None:
            continue
        row, present = found
        lacking = [f for f in lst.required if getattr(row, f) is None]
        if lacking:
            problems.append(f"{lst.key} row {n}: no {', '.join(lacking)}")
            continue
        for name in lst.expected:
            if name not in present:
                missing[name] = missing.get(name, 0) + 1
        rows.append(row)
    if missing:
        raise LayoutChanged(
            lst.name,
            [
                "または".join(f"「{t}」" for t in lists.labels.get(name, (name,)))
                for name in missing
            ],
        )
    if problems and not rows:
        # not one row of the page could be read: the page changed, it is not "empty"
        raise LayoutChanged(lst.name, "一覧の行")
    loading = any(tree.css_first(sel) is not None for sel in lists.loading) or any(
        t in body_text for t in lists.loading_texts
    )
    shell = not rows and loading
    if not rows and not shell and not problems:
        empty = any(t in body_text for t in lists.empty_texts)
        if total and not empty:
            raise LayoutChanged(lst.name, "一覧の行")
    pages = None if total is None else max(1, math.ceil(total / lst.page_size))
    return ListPage(rows, total, pages, problems, has_next, shell)


def list_from_json(data: Any, lst: ListFacts, facts: Facts = FACTS) -> ListPage[ListRow] | None:
    """A list page from the JSON its page loads; None unless every key the facts name for the
    rows this list needs is there (an unknown shape is read from the rendered page instead)."""
    spec = facts.lists.json
    keys = facts.lists.json_keys(lst)
    if not isinstance(data, dict) or not isinstance(data.get(spec.rows), list):
        return None
    total = data.get(spec.total)
    if not isinstance(total, int):
        return None
    needed = [keys[f] for f in (*lst.required, *lst.expected) if f in keys]
    if len(needed) < len(set(lst.required) | set(lst.expected)):
        return None
    rows: list[ListRow] = []
    problems: list[str] = []
    for n, item in enumerate(data[spec.rows], 1):
        if not isinstance(item, dict) or any(k not in item for k in needed):
            return None
        try:
            rows.append(_json_row(item, keys, facts))
        except (TypeError, ValueError) as exc:
            problems.append(f"{lst.key} row {n}: {exc}")
    pages = max(1, math.ceil(total / lst.page_size))
    return ListPage(rows, total, pages, problems, bool(data.get(spec.has_next)))


def _json_row(item: dict[str, Any], keys: dict[str, str], facts: Facts) -> ListRow:
    def get(name: str) -> Any:
        value = item.get(keys[name]) if name in keys else None
        return None if value in ("", None) else value

    def text(name: str) -> str | None:
        value = get(name)
        return None if value is None else str(value)

    def number(name: str) -> int | None:
        value = get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"not a number: {value!r}")
        return parse_int(str(value))

    auction_id = text("auction_id")
    if auction_id is not None and not facts.texts.auction_id_pattern.fullmatch(auction_id):
        raise ValueError(f"bad auction id {auction_id!r}")
    return ListRow(
        item_id=text("item_id"),
        management_number=text("management_number"),
        auction_id=auction_id,
        title=text("title"),
        price=number("price"),
        start_price=number("start_price"),
        status=text("status"),
        bids=number("bids") or 0,
        watchers=number("watchers"),
        end_time=parse_jst(text("end_time")),
        sold_at=parse_jst(text("sold_at")),
        winner=text("winner"),
        edit_url=text("edit_url"),
        updated=text("updated"),
    )


# --- 注文管理 -----------------------------------------------------------------------------------------
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


def _auction_id(text: str | None, facts: Facts) -> str | None:
    t = clean(text)
    return t if t and facts.texts.auction_id_pattern.fullmatch(t) else None


def parse_orders(html: str, facts: Facts = FACTS) -> ListPage[OrderRow]:
    """One page of the 注文管理 list: columns by their header text, never by position."""
    of, lists = facts.orders, facts.lists
    tree = doc(html)
    body_text = node_text(tree.body)
    m = lists.total_pattern.search(body_text)
    total = int(m.group(1).replace(",", "")) if m else None
    has_next = any(node_text(a) in lists.next_link_texts for a in tree.css("a[href]"))
    wanted = {label(text): key for key, text in of.list_labels.items()}
    rows: list[OrderRow] = []
    problems: list[str] = []
    cache: dict[int, list[str]] = {}
    seen_headers: set[str] = set()
    for n, tr in enumerate(tree.css("tr"), 1):
        tds = _children(tr, "td")
        if not tds or _children(tr, "th"):
            continue
        headers = _headers(tr, cache)
        seen_headers.update(headers)
        if label(of.list_labels["order_id"]) not in headers:
            continue
        values: dict[str, str | None] = {}
        detail_url = None
        for i, td in enumerate(tds):
            key = wanted.get(headers[i]) if i < len(headers) else None
            if key is None:
                continue
            values[key] = clean(node_text(td))
            if key == "order_id":
                link = td.css_first("a[href]")
                detail_url = link.attributes.get("href") if link is not None else None
        try:
            rows.append(_order_row(values, detail_url, facts))
        except ValueError as exc:
            problems.append(f"order row {n}: {exc}")
    missing = [
        of.list_labels[k] for k in of.list_required if label(of.list_labels[k]) not in seen_headers
    ]
    empty = any(t in body_text for t in lists.empty_texts)
    if missing and (rows or problems or (total and not empty)):
        raise LayoutChanged(of.list_name, [f"列「{t}」" for t in missing])
    if not rows and not problems and total and not empty:
        raise LayoutChanged(of.list_name, [f"列「{of.list_labels['order_id']}」"])
    pages = None if total is None else max(1, math.ceil(total / of.list_page_size))
    return ListPage(rows, total, pages, problems, has_next)


def _order_row(v: dict[str, str | None], detail_url: str | None, facts: Facts) -> OrderRow:
    oid = v.get("order_id")
    if not oid:
        raise ValueError("no order id")
    return OrderRow(
        order_id=oid,
        ordered_at=parse_jst(v.get("ordered_at")),
        order_status=v.get("order_status"),
        pay_status=v.get("pay_status"),
        ship_status=v.get("ship_status"),
        store_status=v.get("store_status"),
        auction_id=_auction_id(v.get("auction_id"), facts),
        management_number=v.get("management_number"),
        buyer_name=v.get("buyer_name"),
        total=parse_yen(v.get("total")),
        payment_method=v.get("payment_method"),
        updated=v.get("updated"),
        detail_url=detail_url,
    )


def parse_order_detail(html: str, facts: Facts = FACTS) -> OrderDetail:
    of = facts.orders
    marker = of.detail_table.split("#", 1)[-1]
    tree = doc(_fragment(html, f'id="{marker}"'))
    table = tree.css_first(of.detail_table)
    if table is None:
        raise LayoutChanged(of.detail_name, of.detail_table)
    by_label: dict[str, str | None] = {}
    for tr in table.css("tr"):
        th, td = tr.css_first("th"), tr.css_first("td")
        if th is not None and td is not None:
            by_label[label(node_text(th))] = clean(node_text(td))
    values: dict[str, str | None] = {}
    for key, text in of.detail_labels.items():
        if label(text) not in by_label and key in of.detail_required:
            raise LayoutChanged(of.detail_name, f"項目「{text}」")
        values[key] = by_label.get(label(text))
    order_id = values["order_id"]
    if not order_id:
        raise LayoutChanged(of.detail_name, of.detail_labels["order_id"])
    return OrderDetail(
        order_id=order_id,
        ordered_at=parse_jst(values["ordered_at"]),
        order_status=values["order_status"],
        pay_status=values["pay_status"],
        ship_status=values["ship_status"],
        store_status=values["store_status"],
        auction_id=_auction_id(values["auction_id"], facts),
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


# --- the item form and its answers ---------------------------------------------------------------
def missing_on_form(html: str, facts: Facts = FACTS) -> list[str]:
    """What the run needs and the form does not have, in staff's words (empty: all there)."""
    form = facts.form
    tree = doc(html)
    missing = [col for col, name in form.fields.items() if not tree.css_first(f'[name="{name}"]')]
    radios = {node_text(lab) for lab in tree.css("label") if lab.css_first('input[type="radio"]')}
    for column, choice in form.choices.items():
        named = any(tree.css_first(f'[name="{n}"]') for n in choice.names)
        if not named and not (choice.options and set(choice.options) <= radios):
            missing.append(column)
    if tree.css_first(f'[name="{form.image(1)}"]') is None:
        missing.append("画像1")
    present = set(label_texts(html))
    missing += [f"{col}（{text}）" for col, text in form.checkboxes.items() if text not in present]
    if not set(form.confirm_buttons + form.list_buttons) & set(button_texts(html)):
        missing.append(f"「{form.confirm_buttons[0]}」ボタン")
    return missing


@dataclass(frozen=True)
class Completion:
    auction_id: str
    management_number: str | None


def _dl_value(tree: LexborHTMLParser, text: str) -> LexborNode | None:
    for dt in tree.css("dt, th"):
        if node_text(dt) == text:
            node = dt.next
            while node is not None and node.tag not in ("dd", "td"):
                node = node.next
            return node
    return None


def parse_completion(html: str, facts: Facts = FACTS) -> Completion | None:
    """The new auction's id from a completion page; None when the page does not show one."""
    form = facts.form
    tree = doc(html)
    if not any(t in node_text(tree.body) for t in form.success_texts):
        return None
    pattern = facts.texts.auction_link_pattern
    auction_id = ""
    node = _dl_value(tree, form.auction_id_label)
    if node is not None:
        link = node.css_first("a[href]")
        m = pattern.search(link.attributes.get("href") or "") if link is not None else None
        auction_id = m.group(1) if m else node_text(node)
    if not auction_id or not facts.texts.auction_id_pattern.fullmatch(auction_id):
        return None
    number = _dl_value(tree, form.management_number_label)
    return Completion(auction_id, node_text(number) or None)


# --- the bulk upload's answer ----------------------------------------------------------------------
@dataclass(frozen=True)
class UploadError:
    row: int | None
    column: int | None
    field: str
    management_number: str
    message: str


@dataclass(frozen=True)
class UploadResult:
    accepted: bool  # the store said 受け付け
    message: str
    listed: dict[str, str] = field(default_factory=dict)  # 管理番号 → auction id
    registered: dict[str, str] = field(default_factory=dict)  # 管理番号 → folder (not listed)
    errors: list[UploadError] = field(default_factory=list)
    # 「通信エラー」: the rows may have gone in anyway; read the item list before retrying
    maybe_listed: bool = False


def _table_rows(box: LexborNode, selector: str) -> list[dict[str, str]]:
    table = box.css_first(selector)
    if table is None:
        return []
    headers = [label(node_text(th)) for th in table.css("thead th")]
    out = []
    for tr in table.css("tbody tr"):
        cells = [node_text(td) for td in tr.css("td")]
        out.append({h: cells[i] for i, h in enumerate(headers) if i < len(cells)})
    return out


def _int_or_none(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def parse_upload_result(html: str, facts: Facts = FACTS) -> UploadResult:
    """The upload page's answer, as data. Raises LookupError when it is not there."""
    up = facts.upload
    box = doc(html).css_first(up.result)
    if box is None or not node_text(box):
        raise LookupError(f"upload result {up.result} not on the page")
    first = box.css_first("p")
    message = node_text(first) if first is not None else node_text(box)
    listed: dict[str, str] = {}
    registered: dict[str, str] = {}
    for row in _table_rows(box, up.accepted_table):
        number = row.get(label(up.management_number_header), "")
        auction_id = row.get(label(up.auction_id_header), "")
        if auction_id:
            listed[number] = auction_id
        elif number:
            registered[number] = row.get(label(up.folder_header), "")
    errors = [
        UploadError(
            _int_or_none(row.get(label(up.row_header))),
            _int_or_none(row.get(label(up.column_header))),
            row.get(label(up.field_header), ""),
            row.get(label(up.management_number_header), ""),
            row.get(label(up.message_header), ""),
        )
        for row in _table_rows(box, up.errors_table)
    ]
    return UploadResult(
        accepted=up.accepted_text in message,
        message=message,
        listed=listed,
        registered=registered,
        errors=errors,
        maybe_listed=up.comm_error_text in message,
    )
