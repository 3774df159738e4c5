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
from scrapers.session import BrowserSession
from tests.staff import account_credentials


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
    credentials = account_credentials(demo_account(yahoo_server.app))
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


@pytest.fixture
async def next_store(aiohttp_server: Any) -> TestServer:
    from sandbox.yahoo.app import create_app

    server = await aiohttp_server(create_app(seed=True, world="next"))
    async with aiohttp.ClientSession() as s:
        await s.post(str(server.make_url("/_sandbox/bulk")), json={"selling": 90})
    return server


async def _read_selling(server: TestServer, facts: Any, profile: Path) -> tuple[Any, Any]:
    credentials = account_credentials(demo_account(server.app))
    browser = BrowserSession(profile, StoreUrls(facts, str(server.make_url(""))), credentials)
    try:
        async with aiohttp.ClientSession() as session:
            reader = StoreReader(browser, session, retry_delay=0.01)
            return await reader.read_list(facts.lists.selling), reader
    finally:
        await browser.close()


@pytest.mark.browser
async def test_a_list_rendered_in_the_browser_is_read_from_its_json_or_its_rendered_page(
    next_store: TestServer, tmp_path: Path
) -> None:
    """World next's lists hold no rows in their HTML. The first page is rendered in Chromium; the
    JSON it loads has the keys the facts name, so the other pages come from that JSON over
    plain HTTP. With facts that do not know the JSON's keys, every page is read as rendered."""
    from scrapers.facts import load_facts

    got, reader = await _read_selling(next_store, FACTS, tmp_path / "a")
    assert got.total == 120 and len({r.auction_id for r in got.rows}) == 120
    assert not got.problems
    assert reader._json_paths == {"selling": "/serinavi/api/selling"}  # learnt from the page
    assert any("/serinavi/api/selling" in url for url in reader.fetched)

    other_keys = tmp_path / "facts.toml"
    other_keys.write_text('[lists.json.fields]\nauction_id = "auctionNo"\n', encoding="utf-8")
    got2, reader2 = await _read_selling(next_store, load_facts(other_keys), tmp_path / "b")
    assert reader2._json_paths == {}
    assert [(r.auction_id, r.price, r.bids, r.end_time) for r in got2.rows] == [
        (r.auction_id, r.price, r.bids, r.end_time) for r in got.rows
    ]
