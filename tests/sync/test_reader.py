"""StoreHttp against the real Yahoo sandbox: concurrent pages, incremental reads, expiry, 5xx."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from scrapers import sync_pages as pages
from scrapers.site import YahooUrls
from scrapers.sync_reader import SessionExpired, StoreHttp, YahooUnavailable
from scrapers.sync_site import SyncUrls


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
async def store(yahoo_server: TestServer) -> Any:
    async with aiohttp.ClientSession() as s:
        await s.post(str(yahoo_server.make_url("/_sandbox/bulk")), json={"orders": 1000})
    cookies = await http_login(yahoo_server)
    urls = SyncUrls(YahooUrls.for_base(str(yahoo_server.make_url("")), "recore-demo"))
    async with aiohttp.ClientSession() as session:
        yield StoreHttp(session, cookies, concurrency=6, retry_delay=0.01), urls, yahoo_server


async def test_a_whole_list_is_read_concurrently(store: Any) -> None:
    http, urls, _ = store
    got = await http.read_list("落札分一覧", urls.sold, pages.parse_sold)
    assert got.total == 1010 and got.page_count == 11
    assert len(got.rows) == 1010 and len({r.auction_id for r in got.rows}) == 1010
    assert len(http.fetched) == 11


async def test_an_incremental_read_stops_after_the_window_that_says_enough(store: Any) -> None:
    http, urls, _ = store
    seen: list[int] = []

    def keep_going(page: pages.ListPage[pages.SoldRow]) -> bool:
        seen.append(len(seen) + 1)
        return len(seen) < 3  # "page 3 reached what the last sync saw"

    got = await http.read_list("落札分一覧", urls.sold, pages.parse_sold, keep_going=keep_going)
    assert len(got.rows) == 300  # pages 1-3; the rest of the window is not kept
    assert len(http.fetched) == 7  # page 1, then one window of 6


async def test_expired_session_and_5xx_are_told_apart(store: Any) -> None:
    http, urls, server = store
    async with aiohttp.ClientSession() as s:
        await s.post(str(server.make_url("/_sandbox/faults")), json={"error_5xx": 3})
    with pytest.raises(YahooUnavailable) as busy:
        await http.get(urls.selling(), "出品中一覧")
    assert "HTTP 503" in busy.value.en and "ヤフオクが応答しません" in busy.value.ja
    async with aiohttp.ClientSession() as s:
        await s.post(str(server.make_url("/_sandbox/faults")), json={"error_5xx": 2})
    assert "sellingList" in await http.get(urls.selling(), "出品中一覧")  # 2 retries suffice

    async with aiohttp.ClientSession() as s:
        await s.post(str(server.make_url("/_sandbox/faults")), json={"expire_sessions": True})
    with pytest.raises(SessionExpired):
        await http.get(urls.orders(), "注文一覧")
