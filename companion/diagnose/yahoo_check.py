"""The Yahoo side of the diagnosis: every store page the connector uses, read with GET only.

Through the one store session (its browser profile and login): each page is fetched over HTTP with
the session's cookies and opened in Chromium until the network is idle. Recorded per page: both
HTML bodies, the XHR/fetch requests it made (URL, status, JSON key tree), the `__NEXT_DATA__` key
tree, its form controls, button and link texts, and the facts counted on both bodies. Nothing is
clicked and nothing is submitted. Personal data met on the way (order lists and details) is fed to
the redactor before anything is written.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Response

from companion.diagnose.page_facts import PageView, checks_for, count_checks
from companion.diagnose.redact import Redactor, key_tree, url_without_tokens
from scrapers import parse
from scrapers.errors import ScraperError
from scrapers.reader import StoreReader

log = logging.getLogger(__name__)

IDLE_TIMEOUT_MS = 8000
MAX_XHR = 30

# page key → what staff call it
PAGE_NAMES = {
    "top": "競りナビ トップ",
    "upload": "一括アップロード",
    "item_create": "商品登録フォーム",
    "items": "商品管理",
    "selling": "出品中",
    "sold": "落札分",
    "orders": "注文管理",
    "order_detail": "注文詳細",
    "item_edit": "商品情報の編集",
}


@dataclass
class PageReport:
    key: str
    url: str
    raw_status: int | None = None
    raw_html: str = ""
    rendered_html: str = ""
    xhr: list[dict[str, Any]] = field(default_factory=list)
    next_data: Any = None
    controls: list[dict[str, Any]] = field(default_factory=list)
    buttons: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    rows: int | None = None
    error: str | None = None  # English
    error_ja: str | None = None


@dataclass
class YahooReport:
    pages: list[PageReport] = field(default_factory=list)
    problem_ja: str | None = None  # the store could not be read at all (login wall, network)
    problem_en: str | None = None

    @property
    def missing(self) -> list[tuple[str, str]]:
        """(page key, fact) of every needed fact found on neither body."""
        return [
            (p.key, c["fact"])
            for p in self.pages
            for c in p.checks
            if c["needed"] and c["result"] == "missing"
        ]


def form_controls(html: str) -> list[dict[str, Any]]:
    """Tag, type, name, id, label and option labels of every form control (values left out)."""
    tree = parse.doc(html)
    labels = {
        lab.attributes.get("for"): parse.node_text(lab)
        for lab in tree.css("label[for]")
        if lab.attributes.get("for")
    }
    out = []
    for node in tree.css("input, select, textarea, button"):
        kind = (node.attributes.get("type") or "").lower()
        if kind == "hidden":
            continue  # tokens: never written
        label = labels.get(node.attributes.get("id"))
        parent = node.parent
        while label is None and parent is not None:
            if parent.tag == "label":
                label = parse.node_text(parent)
            parent = parent.parent
        out.append(
            {
                "tag": node.tag,
                "type": kind or None,
                "name": node.attributes.get("name"),
                "id": node.attributes.get("id"),
                "label": label,
                "options": [parse.node_text(o) for o in node.css("option")] or None,
            }
        )
    return out


def next_data_tree(html: str) -> Any:
    node = parse.doc(html).css_first("script#__NEXT_DATA__")
    if node is None:
        return None
    try:
        return key_tree(json.loads(node.text() or ""))
    except ValueError:
        return "unreadable"


class YahooDiagnosis:
    def __init__(self, reader: StoreReader, redactor: Redactor) -> None:
        self.reader = reader
        self.browser = reader.browser
        self.facts = reader.facts
        self.redactor = redactor

    async def run(self) -> YahooReport:
        report = YahooReport()
        try:
            await self.reader.start()
        except ScraperError as exc:
            report.problem_ja, report.problem_en = exc.ja, exc.en
            return report
        urls = self.reader.urls
        plan = [
            ("top", urls.serinavi_top()),
            ("upload", urls.upload()),
            ("item_create", urls.item_create()),
            ("items", urls.list_page("items")),
            ("selling", urls.list_page("selling")),
            ("sold", urls.list_page("sold")),
            ("orders", urls.list_page("orders")),
        ]
        for key, url in plan:
            report.pages.append(await self.page(key, url))
        # one order and one item in detail, when there are some
        orders = next(p for p in report.pages if p.key == "orders")
        detail = self._first_order_detail(orders)
        if detail:
            report.pages.append(
                await self.page("order_detail", urls.absolute(detail, urls.store_pro_origin))
            )
        items = next(p for p in report.pages if p.key == "items")
        edit = self._first_edit_link(items)
        if edit:
            report.pages.append(await self.page("item_edit", urls.absolute(edit)))
        return report

    def _first_order_detail(self, orders: PageReport) -> str | None:
        for html in (orders.raw_html, orders.rendered_html):
            with contextlib.suppress(ScraperError, ValueError):
                for row in parse.parse_orders(html, self.facts).rows:
                    if row.detail_url:
                        return row.detail_url
        return None

    def _first_edit_link(self, items: PageReport) -> str | None:
        for html in (items.raw_html, items.rendered_html):
            with contextlib.suppress(ScraperError, ValueError):
                for row in parse.parse_list(html, self.facts.lists.items, self.facts).rows:
                    if row.edit_url:
                        return row.edit_url
        return None

    async def page(self, key: str, url: str) -> PageReport:
        report = PageReport(key, url)
        name = PAGE_NAMES[key]
        try:
            got = await self.reader.request("GET", url, name)
            report.raw_status, report.raw_html = got.status, got.text
        except ScraperError as exc:
            report.error, report.error_ja = exc.en, exc.ja
        try:
            await self._render(report)
        except (PlaywrightError, ScraperError, TimeoutError) as exc:
            en = getattr(exc, "en", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
            report.error = (report.error + "; " if report.error else "") + f"render: {en}"
            report.error_ja = report.error_ja or getattr(exc, "ja", None)
        self._learn_personal(report)
        rendered = PageView(report.rendered_html) if report.rendered_html else None
        raw = PageView(report.raw_html)
        report.rows = self._rows(key, report)
        checks = checks_for(key, self.facts, has_rows=bool(report.rows))
        report.checks = [c.as_dict() for c in count_checks(checks, raw, rendered)]
        best = rendered or raw
        report.controls = form_controls(best.html)
        report.buttons = best.buttons
        report.links = [t for t in best.links if t]
        report.next_data = next_data_tree(report.raw_html) or next_data_tree(report.rendered_html)
        log.info(
            "diagnose: %s %s raw=%s rendered=%d bytes, %d xhr, %d checks missing",
            key,
            url,
            report.raw_status,
            len(report.rendered_html),
            len(report.xhr),
            sum(1 for c in report.checks if c["result"] == "missing"),
        )
        return report

    async def _render(self, report: PageReport) -> None:
        async with self.browser.use():
            page = await self.browser.new_page()
            answers: list[Response] = []

            def on_response(response: Response) -> None:
                if response.request.resource_type in ("xhr", "fetch"):
                    answers.append(response)

            page.on("response", on_response)
            try:
                await self.browser.open(page, report.url)
                with contextlib.suppress(PlaywrightError):
                    await page.wait_for_load_state("networkidle", timeout=IDLE_TIMEOUT_MS)
                report.rendered_html = await page.content()
                for response in answers[:MAX_XHR]:
                    entry: dict[str, Any] = {
                        "url": url_without_tokens(response.url),
                        "status": response.status,
                    }
                    with contextlib.suppress(PlaywrightError, ValueError):
                        body = await response.json()
                        entry["json_keys"] = key_tree(body)
                        self._learn_json_personal(body)
                    report.xhr.append(entry)
            finally:
                await page.close()

    def _rows(self, key: str, report: PageReport) -> int | None:
        best: int | None = None
        for html in (report.raw_html, report.rendered_html):
            if not html:
                continue
            try:
                if key in ("items", "selling", "sold"):
                    lst = getattr(self.facts.lists, key)
                    n = len(parse.parse_list(html, lst, self.facts).rows)
                elif key == "orders":
                    n = len(parse.parse_orders(html, self.facts).rows)
                else:
                    return None
            except (ScraperError, ValueError):
                continue
            best = max(best or 0, n)
        return best

    def _learn_personal(self, report: PageReport) -> None:
        """Buyers and ids on order pages, auction ids on lists: redacted wherever they appear."""
        for html in (report.raw_html, report.rendered_html):
            if not html:
                continue
            with contextlib.suppress(ScraperError, ValueError):
                if report.key == "orders":
                    for row in parse.parse_orders(html, self.facts).rows:
                        self.redactor.add_values([row.buyer_name])
                        self.redactor.add_ids([row.order_id, row.auction_id])
                elif report.key == "order_detail":
                    d = parse.parse_order_detail(html, self.facts)
                    self.redactor.add_values(
                        [d.buyer_name, d.buyer_kana, d.postal_code, d.address, d.phone, d.mail]
                    )
                    self.redactor.add_ids([d.order_id, d.auction_id, d.tracking_number])
                elif report.key in ("items", "selling", "sold"):
                    lst = getattr(self.facts.lists, report.key)
                    for row in parse.parse_list(html, lst, self.facts).rows:
                        self.redactor.keep([row.management_number])
                        self.redactor.add_ids([row.auction_id])
                        self.redactor.add_values([row.winner])  # a buyer's Yahoo ID

    def _learn_json_personal(self, body: Any) -> None:
        """Values under keys that name a person or contact in a page's JSON."""
        personal = (
            "buyer",
            "winner",
            "mail",
            "address",
            "phone",
            "tel",
            "zip",
            "postal",
            "kana",
            "yid",
        )
        stack = [body]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, str) and any(p in str(k).lower() for p in personal):
                        if "title" not in str(k).lower():
                            self.redactor.add_values([v])
                    else:
                        stack.append(v)
            elif isinstance(value, list):
                stack.extend(value)


async def diagnose_yahoo(reader: StoreReader, redactor: Redactor) -> YahooReport:
    try:
        return await YahooDiagnosis(reader, redactor).run()
    except (TimeoutError, PlaywrightError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        return YahooReport(
            problem_ja="ブラウザーでヤフオクの画面を開けませんでした。直接出品や同期の実行中なら、終わってからもう一度お試しください。",
            problem_en=f"browser error: {first}",
        )
