"""Reading the store's list pages and doing order/item actions over plain HTTP, with the logged-in
browser session's cookies (`scrapers.session.BrowserSession.cookies()`).

A list is read by fetching page 1, learning the page count from 「全N件」, then fetching the other
pages concurrently (at most `concurrency` requests at a time — polite to Yahoo, and enough to hide
latency). Actions are the same form POSTs a browser sends (hidden fields included), so no browser is
needed for them; the browser is only used to log in.

Errors, each with a Japanese message for staff and an English one for logs:
- `SessionExpired` — Yahoo answered with its login page (log in again, then retry);
- `YahooUnavailable` — 5xx / busy page / network error after a few retries;
- `sync_pages.LayoutChanged` — a page's table or header is missing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp

from scrapers import sync_pages as pages
from scrapers.errors import ScraperError

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_PAGES = 2000  # 100,000 rows at 50 a page: a runaway 「次」 loop stops here
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36 ReCORE-Connector"
)


class SessionExpired(ScraperError):
    def __init__(self) -> None:
        super().__init__(
            "ヤフオクのログインが切れています。",
            "the Yahoo session expired (login page returned)",
        )


class YahooUnavailable(ScraperError):
    def __init__(self, what: str, detail: str) -> None:
        super().__init__(
            f"ヤフオクが応答しません（{what}）。しばらくしてから自動で再試行します。",
            f"Yahoo unavailable while reading {what}: {detail}",
        )


def _maybe_login(url: str, text: str) -> bool:
    """Cheap pre-check before parsing a page to see whether it is the login form."""
    return "login" in url or "login_handle" in text or "business_id" in text


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


@dataclass
class StoreHttp:
    """GET/POST to the store with the session's cookies; every URL fetched is recorded (the
    benchmark re-fetches the same list with plain aiohttp to measure the floor)."""

    http: aiohttp.ClientSession
    cookies: list[dict[str, Any]]
    concurrency: int = 6
    retries: int = 2
    retry_delay: float = 0.5
    timeout: float = 30.0
    fetched: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sem = asyncio.Semaphore(self.concurrency)

    def _headers(self, url: str) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept-Language": "ja"}
        cookie = cookie_header(self.cookies, url)
        if cookie:
            headers["Cookie"] = cookie
        return headers

    async def request(
        self, method: str, url: str, what: str, data: Mapping[str, str] | None = None
    ) -> Fetched:
        """One request (retried on 5xx/network errors for GET only: a POST may have worked)."""
        attempts = self.retries + 1 if method == "GET" else 1
        last = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self.retry_delay * attempt)
            try:
                async with self._sem:
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
                continue
            if _maybe_login(final, text) and pages.is_login_page(text):
                raise SessionExpired()
            return Fetched(final, status, text)
        raise YahooUnavailable(what, last)

    async def get(self, url: str, what: str) -> str:
        got = await self.request("GET", url, what)
        if got.status >= 400:
            raise YahooUnavailable(what, f"HTTP {got.status}")
        return got.text

    async def read_list(
        self,
        what: str,
        url_of: Callable[[int], str],
        parse: Callable[[str], pages.ListPage[T]],
        *,
        keep_going: Callable[[pages.ListPage[T]], bool] | None = None,
        on_page: Callable[[pages.ListPage[T]], None] | None = None,
    ) -> pages.ListPage[T]:
        """Every page of a list. With `keep_going`, pages are read one by one while it says so
        (for lists sorted newest first, read up to what the last sync already saw)."""
        first = parse(await self.get(url_of(1), what))
        if on_page is not None:
            on_page(first)
        rows, problems = list(first.rows), list(first.problems)
        count = first.page_count or 1
        if first.page_count is None:
            # no 「全N件」 on the page: follow 「次」 one page at a time (slower, still complete)
            page_no, page = 1, first
            while page.has_next and page.rows and page_no < MAX_PAGES:
                page_no += 1
                page = parse(await self.get(url_of(page_no), what))
                if on_page is not None:
                    on_page(page)
                rows.extend(page.rows)
                problems.extend(page.problems)
            count = page_no
        elif keep_going is not None:
            # a window of pages at a time (as many as may run at once), stopping after the
            # window where `keep_going` says no: a few pages too many at worst, never sequential
            page_no, page = 1, first
            while page_no < count and keep_going(page):
                window = range(page_no + 1, min(count, page_no + self.concurrency) + 1)
                got = await asyncio.gather(*(self.get(url_of(n), what) for n in window))
                for html in got:
                    page = parse(html)
                    if on_page is not None:
                        on_page(page)
                    rows.extend(page.rows)
                    problems.extend(page.problems)
                    if not keep_going(page):
                        break
                page_no = window[-1]
        elif count > 1:
            loop = asyncio.get_running_loop()

            async def one(n: int) -> pages.ListPage[T]:
                html = await self.get(url_of(n), what)
                # parsing 50-100 rows is ~ms of CPU: off the event loop so fetches keep flowing
                page = await loop.run_in_executor(None, parse, html)
                if on_page is not None:
                    on_page(page)
                return page

            results = await asyncio.gather(
                *(one(n) for n in range(2, count + 1)), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
                rows.extend(result.rows)
                problems.extend(result.problems)
        return pages.ListPage(rows, first.total, count, problems)
