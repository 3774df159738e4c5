"""StoreReader against the real Yahoo sandbox: concurrent pages, incremental reads, 5xx, and a
session that expires between two requests (renewed through the browser, once)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from sandbox.yahoo.app import demo_account
from scrapers.errors import StoreUnavailable
from scrapers.facts import FACTS, StoreUrls
from scrapers.parse import ListPage, ListRow
from scrapers.reader import StoreReader
from scrapers.session import BrowserSession, Credentials


async def http_login(server: TestServer) -> list[dict[str, Any]]:
    """A real login over HTTP (staff's, not the connector's) to get session cookies."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as s:
        await s.post(
            str(server.make_url("/config/login")),
            data={"handle": "shop-demo", "passwd": "demo-pass-1234", ".done": "/serinavi"},
        )
        await s.post(
            str(server.make_url("/bizmgr/login")),
            data={"business_id": "biz-demo", "business_password": "biz-pass-1234"},
        )
    return [{"name": c.key, "value": c.value, "domain": "127.0.0.1", "path": "/"} for c in jar]


@pytest.fixture
async def store(yahoo_server: TestServer, tmp_path: Path) -> Any:
    async with aiohttp.ClientSession() as s:
        await s.post(str(yahoo_server.make_url("/_sandbox/bulk")), json={"orders": 1000})
    account = demo_account(yahoo_server.app)

    async def credentials() -> Credentials:
        return Credentials(
            account["yahoo_id"],
            account["password"],
            account["business_id"],
            account["business_password"],
        )

    browser = BrowserSession(
        tmp_path / "profile", StoreUrls(FACTS, str(yahoo_server.make_url(""))), credentials
    )
    async with aiohttp.ClientSession() as session:
        reader = StoreReader(browser, session, concurrency=6, retry_delay=0.01)
        reader.cookies = await http_login(yahoo_server)  # logged in already: no browser needed
        await reader.start()
        yield reader, yahoo_server
    await browser.close()


async def test_a_whole_list_is_read_concurrently(store: Any) -> None:
    reader, _ = store
    before = len(reader.fetched)
    got = await reader.read_list(FACTS.lists.sold)
    assert got.total == 1010 and got.page_count == 11
    assert len(got.rows) == 1010 and len({r.auction_id for r in got.rows}) == 1010
    assert len(reader.fetched) - before == 11
    assert not reader.browser.running, "plain HTTP only: the pages hold their rows"


async def test_an_incremental_read_stops_after_the_window_that_says_enough(store: Any) -> None:
    reader, _ = store
    seen: list[int] = []
    before = len(reader.fetched)

    def keep_going(page: ListPage[ListRow]) -> bool:
        seen.append(len(seen) + 1)
        return len(seen) < 3  # "page 3 reached what the last sync saw"

    got = await reader.read_list(FACTS.lists.sold, keep_going=keep_going)
    assert len(got.rows) == 300  # pages 1-3; the rest of the window is not kept
    assert len(reader.fetched) - before == 7  # page 1, then one window of 6


async def test_5xx_is_retried_then_reported(store: Any) -> None:
    reader, server = store
    url = reader.urls.list_page("selling")
    async with aiohttp.ClientSession() as s:
        await s.post(str(server.make_url("/_sandbox/faults")), json={"error_5xx": 3})
    with pytest.raises(StoreUnavailable) as busy:
        await reader.get(url, "出品中一覧")
    assert "HTTP 503" in busy.value.en and "ヤフオクが応答しません" in busy.value.ja
    async with aiohttp.ClientSession() as s:
        await s.post(str(server.make_url("/_sandbox/faults")), json={"error_5xx": 2})
    assert "x1100000019" in await reader.get(url, "出品中一覧")  # 2 retries suffice


@pytest.mark.browser
async def test_an_expired_session_is_renewed_once_for_every_request_that_met_it(
    store: Any,
) -> None:
    reader, server = store
    async with aiohttp.ClientSession() as s:
        await s.post(str(server.make_url("/_sandbox/faults")), json={"expire_sessions": True})
    got = await reader.read_orders()  # 21 pages side by side, all meet the login page
    assert got.total == 1010 and len(got.rows) == 1010
    assert reader.browser.logins == 1
