"""Reading the store's lists and posting its forms, for direct listing, sync and the task handlers.

Plain HTTP with the browser session's cookies wherever a page holds what we need: a list is read
by fetching page 1, learning the page count from 「全N件」, then fetching the other pages side by
side (at most `concurrency` requests at a time — polite to Yahoo, and enough to hide latency).

A list page whose HTML is only a shell (its rows come by script) is opened in the browser instead.
While it renders, the JSON it loads is looked at: when every key the facts name is in it, the
other pages are read from that JSON over plain HTTP (fast again); otherwise each page is read from
the rendered page. Which way a list goes is found out from its pages, never configured.

The session is renewed in one place: a request answered with a login page logs in again through
the browser (once for every request waiting on it) and is sent again.

Errors: `SessionExpired` (still the login page after renewing), `StoreUnavailable` (5xx, a busy
page, network errors after retries), `LayoutChanged`, `WallError` (from the login).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Response

from scrapers import parse
from scrapers.errors import ItemError, LayoutChanged, SessionExpired, StoreUnavailable
from scrapers.facts import ListFacts, StoreUrls
from scrapers.parse import LOGIN_KINDS, ListPage, ListRow, OrderRow, PageKind
from scrapers.priority import PriorityLimiter
from scrapers.session import BrowserSession

log = logging.getLogger(__name__)
R = TypeVar("R")

MAX_PAGES = 2000  # 100,000 rows at 50 a page: a runaway 「次」 loop stops here
RENDER_CONCURRENCY = 2  # list pages rendered in the browser at a time
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36 ReCORE-Connector"
)


def cookie_header(cookies: Iterable[Mapping[str, Any]], url: str) -> str:
    """The Cookie header a browser would send to `url` (domain and path matched)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path or "/"
    out: list[str] = []
    for c in cookies:
        domain = str(c.get("domain") or "").lower().lstrip(".")
        if domain and host != domain and not host.endswith("." + domain):
            continue
        if not path.startswith(str(c.get("path") or "/")):
            continue
        if c.get("secure") and parts.scheme != "https":
            continue
        out.append(f"{c.get('name')}={c.get('value')}")
    return "; ".join(out)


@dataclass
class Fetched:
    url: str
    status: int
    text: str


class StoreReader:
    """GET/POST to the store with the session's cookies; lists read however their pages allow.
    Every URL fetched is recorded (the sync benchmark re-fetches them with plain aiohttp)."""

    def __init__(
        self,
        browser: BrowserSession,
        http: aiohttp.ClientSession,
        *,
        concurrency: int = 6,
        retries: int = 2,
        retry_delay: float = 0.5,
        timeout: float = 30.0,
    ) -> None:
        self.browser = browser
        self.urls: StoreUrls = browser.urls
        self.facts = browser.facts
        self.http = http
        self.concurrency = concurrency
        self.retries = retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.cookies: list[dict[str, Any]] | None = None
        self.fetched: list[str] = []
        # urgent requests (an 早期終了 after a sale at the register) pass the pages queued here
        self.limiter = PriorityLimiter(concurrency)
        self._render_sem = PriorityLimiter(RENDER_CONCURRENCY)
        self._renew_lock = asyncio.Lock()
        self._generation = 0
        self._discovered = False
        self._rendered: set[str] = set()  # lists whose pages are shells
        self._json_paths: dict[str, str] = {}  # list key → the path of the JSON its page loads

    # --- the session ----------------------------------------------------------------------------
    async def renew(self, generation: int | None = None) -> None:
        """Fresh cookies from the browser (logging in if the store asks). Requests that met the
        login page together renew once: the generation they saw tells."""
        async with self._renew_lock:
            if generation is not None and generation != self._generation:
                return
            self.cookies = await self.browser.logged_in_cookies()
            self._generation += 1

    async def adopt_browser_session(self, html: str) -> None:
        """What a 競りナビ page the browser just opened logged in (the item form in a pre-flight)
        tells: the browser's cookies, and the lists' links and the store id when the page shows
        them all. This saves opening the top page once more in the browser and reading it over
        HTTP. A cookie the store no longer takes meets a login page and is renewed as usual."""
        if self.cookies is None:
            self.cookies = await self.browser.cookies()
        if self._discovered:
            return
        nav = parse.navigation(html, self.facts)
        store_id = self.urls.store_id or parse.find_store_id(html, self.facts)
        if store_id and set(nav) >= set(parse.NAV_KEYS):
            self.urls.nav.update(nav)
            self.urls.store_id = store_id
            self._discovered = True

    async def start(self, *, check: bool = False) -> None:
        """Cookies, and what 競りナビ's top page tells: the lists' links and the store id. With
        `check` the top page is read again (a sync's first step: is the session still good?)."""
        if self.cookies is None:
            await self.renew(self._generation)
        if self._discovered and not check:
            return
        top = await self.get(self.urls.serinavi_top(), "競りナビ")
        self.urls.nav.update(parse.navigation(top, self.facts))
        if not self.urls.store_id:
            self.urls.store_id = parse.find_store_id(top, self.facts)
        if not self.urls.store_id:
            raise LayoutChanged("競りナビ", "注文管理（ストアクリエイターPro）へのリンク")
        self._discovered = True

    # --- HTTP -----------------------------------------------------------------------------------
    def _headers(self, url: str) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept-Language": "ja"}
        cookie = cookie_header(self.cookies or [], url)
        if cookie:
            headers["Cookie"] = cookie
        return headers

    async def request(
        self, method: str, url: str, what: str, data: Mapping[str, str] | None = None
    ) -> Fetched:
        """One request; a login page renews the session once and sends it again."""
        if self.cookies is None:
            await self.renew(self._generation)
        for attempt in (1, 2):
            generation = self._generation
            got = await self._send(method, url, what, data)
            if not self._is_login(got):
                return got
            if attempt == 1:
                log.info("the store asked for a login (%s): renewing the session", what)
                await self.renew(generation)
        raise SessionExpired()

    def _is_login(self, got: Fetched) -> bool:
        if got.status == 401:
            return True
        if got.text.lstrip().startswith(("{", "[")):
            return False
        return parse.classify(got.text, got.url, self.facts) in LOGIN_KINDS

    async def _send(
        self, method: str, url: str, what: str, data: Mapping[str, str] | None
    ) -> Fetched:
        """One request (retried on 5xx/network errors for GET only: a POST may have worked)."""
        attempts = self.retries + 1 if method == "GET" else 1
        last = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self.retry_delay * attempt)
            try:
                async with self.limiter.slot():
                    async with self.http.request(
                        method,
                        url,
                        data=dict(data) if data is not None else None,
                        headers=self._headers(url),
                        timeout=aiohttp.ClientTimeout(total=self.timeout),
                        max_redirects=5,
                    ) as resp:
                        text = await resp.text(errors="replace")
                        status, final = resp.status, str(resp.url)
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = type(exc).__name__
                continue
            if method == "GET":
                self.fetched.append(url)
            if status >= 500:
                last = f"HTTP {status}"
                if method != "GET":
                    return Fetched(final, status, text)
                continue
            return Fetched(final, status, text)
        raise StoreUnavailable(what, last)

    async def get(self, url: str, what: str) -> str:
        got = await self.request("GET", url, what)
        if got.status >= 400:
            raise StoreUnavailable(what, f"HTTP {got.status}")
        if parse.classify(got.text, got.url, self.facts) == PageKind.BUSY:
            raise StoreUnavailable(what, "busy page")
        return got.text

    # --- lists ----------------------------------------------------------------------------------
    async def read_list(
        self,
        lst: ListFacts,
        *,
        query: Mapping[str, str | int] | None = None,
        keep_going: Callable[[ListPage[ListRow]], bool] | None = None,
        on_page: Callable[[ListPage[ListRow]], None] | None = None,
    ) -> ListPage[ListRow]:
        """Every page of a 競りナビ list (with `keep_going`, pages while it says so)."""
        await self.start()

        def url_of(n: int) -> str:
            return self.urls.list_page(lst.key, n, **(query or {}))

        return await self._read_pages(
            lst.name, lambda n: self._list_page(lst, url_of(n)), keep_going, on_page
        )

    async def read_orders(
        self,
        on_page: Callable[[ListPage[OrderRow]], None] | None = None,
        *,
        query: Mapping[str, str | int] | None = None,
        keep_going: Callable[[ListPage[OrderRow]], bool] | None = None,
    ) -> ListPage[OrderRow]:
        """Every page of 注文管理's order list (with `keep_going`, pages while it says so)."""
        await self.start()
        loop = asyncio.get_running_loop()

        async def page(n: int) -> ListPage[OrderRow]:
            url = self.urls.list_page("orders", n, **(query or {}))
            html = await self.get(url, self.facts.orders.list_name)
            return await loop.run_in_executor(None, parse.parse_orders, html, self.facts)

        return await self._read_pages(self.facts.orders.list_name, page, keep_going, on_page)

    async def _read_pages(
        self,
        what: str,
        page_of: Callable[[int], Awaitable[ListPage[R]]],
        keep_going: Callable[[ListPage[R]], bool] | None,
        on_page: Callable[[ListPage[R]], None] | None,
    ) -> ListPage[R]:
        async def fetch(n: int) -> ListPage[R]:
            page = await page_of(n)
            if on_page is not None:
                on_page(page)  # as soon as it is there (the sync starts order details from it)
            return page

        first = await fetch(1)
        rows, problems = list(first.rows), list(first.problems)
        count = first.page_count or 1

        def take(page: ListPage[R]) -> None:
            rows.extend(page.rows)
            problems.extend(page.problems)

        if first.page_count is None:
            # no 「全N件」 on the page: follow 「次」 one page at a time (slower, still complete)
            page_no, page = 1, first
            while (
                page.has_next
                and page.rows
                and page_no < MAX_PAGES
                and (keep_going is None or keep_going(page))
            ):
                page_no += 1
                page = await fetch(page_no)
                take(page)
            count = page_no
        elif keep_going is not None:
            # a window of pages at a time (as many as may run at once), stopping after the
            # window where `keep_going` says no: a few pages too many at worst, never sequential
            page_no, page = 1, first
            while page_no < count and keep_going(page):
                window = range(page_no + 1, min(count, page_no + self.concurrency) + 1)
                for got in await asyncio.gather(*(fetch(n) for n in window)):
                    page = got
                    take(page)
                    if not keep_going(page):
                        break
                page_no = window[-1]
        elif count > 1:
            results = await asyncio.gather(
                *(fetch(n) for n in range(2, count + 1)), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
                take(result)
        return ListPage(rows, first.total, count, problems)

    async def _list_page(self, lst: ListFacts, url: str) -> ListPage[ListRow]:
        path = self._json_paths.get(lst.key)
        if path is not None:
            page = await self._json_page(lst, path, url)
            if page is not None:
                return page
            self._json_paths.pop(lst.key, None)  # its shape changed: read the pages again
        if lst.key not in self._rendered:
            html = await self.get(url, lst.name)
            loop = asyncio.get_running_loop()
            # parsing 50-100 rows is ~ms of CPU: off the event loop so fetches keep flowing
            page = await loop.run_in_executor(None, parse.parse_list, html, lst, self.facts)
            if not page.shell:
                return page
            log.info("%s is rendered in the browser: reading it there", lst.name)
            self._rendered.add(lst.key)
        return await self._render(lst, url)

    def _json_url(self, path: str, page_url: str) -> str:
        """The JSON for the page at `page_url`: the page's own query on the JSON's path."""
        parts = urlsplit(page_url)
        return urlunsplit(parts._replace(path=path))

    async def _json_page(self, lst: ListFacts, path: str, url: str) -> ListPage[ListRow] | None:
        got = await self.request("GET", self._json_url(path, url), lst.name)
        if got.status >= 400:
            raise StoreUnavailable(lst.name, f"HTTP {got.status}")
        try:
            data = json.loads(got.text)
        except ValueError:
            return None
        return parse.list_from_json(data, lst, self.facts)

    async def _render(self, lst: ListFacts, url: str) -> ListPage[ListRow]:
        """One list page opened in the browser: from the JSON it loads when the facts know its
        keys (and then the next pages come from that JSON over HTTP), else from what it shows."""
        async with self._render_sem.slot(), self.browser.use() as context:
            page = await context.new_page()
            answers: list[Response] = []

            def on_response(response: Response) -> None:
                answers.append(response)

            page.on("response", on_response)
            try:
                await self.browser.open(page, url)
                await self._rendered_rows(page, lst)
                for response in answers:
                    learnt = await self._learn_json(lst, response)
                    if learnt is not None:
                        return learnt
                html = await page.content()
            except PlaywrightError as exc:
                first = (str(exc).splitlines() or [type(exc).__name__])[0]
                raise StoreUnavailable(lst.name, first) from None
            finally:
                await page.close()
        loop = asyncio.get_running_loop()
        got = await loop.run_in_executor(None, parse.parse_list, html, lst, self.facts)
        if got.shell:
            raise LayoutChanged(lst.name, "一覧の行（読み込みが終わりません）")
        return got

    async def _rendered_rows(self, page: Page, lst: ListFacts) -> None:
        """Wait until the page's loader is gone (its rows, an empty list or an error shown)."""
        lists = self.facts.lists
        for selector in lists.loading:
            await page.locator(selector).first.wait_for(state="detached")
        html = await page.content()
        if (
            not any(t in html for t in lists.empty_texts)
            and not parse.parse_list(html, lst, self.facts).rows
        ):
            errors = parse.error_texts(html, self.facts.texts.error)
            if errors:
                raise StoreUnavailable(lst.name, " ".join(errors))

    async def _learn_json(self, lst: ListFacts, response: Response) -> ListPage[ListRow] | None:
        if "json" not in (response.headers.get("content-type") or ""):
            return None
        try:
            data = await response.json()
        except (PlaywrightError, ValueError):
            return None
        page = parse.list_from_json(data, lst, self.facts)
        if page is not None:
            path = urlsplit(response.url).path
            log.info("%s: reading its JSON (%s) from now on", lst.name, path)
            self._json_paths[lst.key] = path
        return page

    # --- what direct listing and the task handlers ask ----------------------------------------------
    async def find_items(self, management_number: str) -> list[ListRow]:
        """Every 競りナビ item whose 管理番号 is exactly this one (search, then filter)."""
        found = await self.read_list(
            self.facts.lists.items, query={self.facts.lists.keyword_param: management_number}
        )
        return [r for r in found.rows if r.management_number == management_number]

    async def find_live(self, management_number: str) -> ListRow | None:
        """The item of this 管理番号 that is on the store and not ended (the newest), if any."""
        for row in await self.find_items(management_number):
            if self.facts.items.is_live(row.status):
                return row
        return None

    async def items_by_number(self, attempts: int = 3) -> dict[str, ListRow]:
        """管理番号 → the item on the store now (live or registered; the newest when a number
        appears twice). A list that moved during the read (see `parse.merge_list_pages`) is read
        again."""
        lst = self.facts.lists.items
        await self.start()
        for attempt in range(1, attempts + 1):
            pages: list[ListPage[ListRow]] = []
            whole = await self.read_list(lst, on_page=pages.append)
            if parse.merge_list_pages(pages) is not None:
                out: dict[str, ListRow] = {}
                for row in whole.rows:
                    if row.management_number and self.facts.items.is_live(row.status):
                        out.setdefault(row.management_number, row)  # newest first
                return out
            log.info("the item list changed while it was read (attempt %d); reading again", attempt)
            await asyncio.sleep(self.retry_delay * attempt)
        raise ItemError(
            "ヤフオクの商品一覧が読み取り中に変わり続けました",
            "the item list kept changing while it was read",
            retry=True,
        )
