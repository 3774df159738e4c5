"""Notifications, 通知 and 履歴 in real Chromium against a real companion: each event shown once
(read back with chrome.notifications.getAll in the service worker), none again on the next poll;
a click leads to the right place; テスト送信 reaches a local Chatwork stand-in; CSV saved."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from playwright.sync_api import expect

from tests.alerts.standins import CHATWORK, CHATWORK_ROOM, CHATWORK_TOKEN, chatwork_app
from tests.conftest import free_port
from tests.extension.conftest import CLI, ENV, ROOT, Companion, ExtensionBrowser
from tests.extension.test_badge import wait_for_badge

pytestmark = pytest.mark.browser


class ThreadedServer:
    """An aiohttp stand-in on 127.0.0.1 in a thread of its own (the tests here are synchronous)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = web.AppRunner(app)

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def chatwork() -> Iterator[ThreadedServer]:
    server = ThreadedServer(chatwork_app())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, chatwork: ThreadedServer) -> Iterator[Companion]:
    """A companion of its own, whose Chatwork is the stand-in (set by the environment, as only
    the machine's owner can: never over the HTTP API)."""
    server = Companion(tmp_path_factory.mktemp("shop"), free_port())
    ENV["RECORE_CONNECTOR_CHATWORK_API"] = f"http://127.0.0.1:{chatwork.port}/v2"
    try:
        server.start()
    finally:
        del ENV["RECORE_CONNECTOR_CHATWORK_API"]
    yield server
    server.stop()


def happen(shop: Companion, *steps: str) -> None:
    subprocess.run(
        [*CLI[:1], "-m", "tests.extension.shop_events", str(shop.data_dir), *steps],
        cwd=ROOT,
        env=ENV,
        check=True,
        capture_output=True,
    )


def shown(browser: ExtensionBrowser) -> dict[str, Any]:
    return browser.worker.evaluate("chrome.notifications.getAll()")


def poll(browser: ExtensionBrowser) -> dict[str, Any]:
    reply = browser.send({"type": "pollNotifications"})
    assert reply["ok"], reply
    return reply["data"]


def test_each_event_is_notified_once_and_a_click_leads_to_it(
    ext_browser: ExtensionBrowser, shop: Companion
) -> None:
    ext_browser.pair(shop)
    assert poll(ext_browser) == {"shown": 0}  # a new browser starts from now
    happen(shop, "pause", "blocked=901,A-0901,x100000901", "sale=order-1,A-0902,x100000902")

    assert poll(ext_browser) == {"shown": 2}  # 落札 is not chosen for Chrome by default
    first = shown(ext_browser)
    assert len(first) == 2 and all(k.startswith("recore-history-") for k in first)
    assert poll(ext_browser) == {"shown": 0}  # the next poll shows nothing again
    assert shown(ext_browser) == first

    notified = ext_browser.storage()["notified"]
    targets = sorted(notified.values())
    assert targets == ["options.html#history?mn=A-0901", "popup.html"]

    # a click opens the page stored for it (Chromium lets no automation click a notification,
    # so the stored target is opened as openNotification opens it)
    blocked = next(v for v in notified.values() if v.startswith("options.html"))
    page = ext_browser.context.new_page()
    page.goto(ext_browser.url(blocked))
    page.wait_for_selector("#history[data-ready='true']:not([hidden])")
    assert page.locator("#history-mn").input_value() == "A-0901"
    rows = page.locator("#history-rows tr")
    assert rows.count() >= 1
    assert all(
        rows.nth(i).locator("td").nth(3).inner_text() == "A-0901" for i in range(rows.count())
    )
    assert "早期終了できず" in page.locator("#history-rows").inner_text()
    assert "入札があるため" in page.locator("#history-rows").inner_text()
    page.close()

    happen(shop, "blocked=903,A-0903,x100000903")
    assert poll(ext_browser) == {"shown": 1}
    assert poll(ext_browser) == {"shown": 0}


def test_chatwork_test_send_from_the_options_page(
    ext_browser: ExtensionBrowser, shop: Companion, chatwork: ThreadedServer
) -> None:
    ext_browser.pair(shop)
    page = ext_browser.open("options.html")
    page.wait_for_selector("#alerts[data-ready='true']:not([hidden])")
    assert page.locator("#alerts h2").inner_text() == "通知"
    page.fill("#alert-chatwork-room_id", CHATWORK_ROOM)
    page.fill("#alert-chatwork-token", "0" * 32)  # a wrong token first
    page.click("#alert-chatwork-test")
    result = page.locator("#alert-chatwork-result")
    result.filter(has_text="トークン").wait_for()
    assert result.get_attribute("data-kind") == "error"
    assert "APIトークンが正しくありません" in result.inner_text()

    page.fill("#alert-chatwork-token", CHATWORK_TOKEN)
    page.check("#alert-chatwork-enabled")
    page.click("#alert-chatwork-test")
    result.filter(has_text="送りました").wait_for()
    assert result.get_attribute("data-kind") == "ok"
    received = chatwork.app[CHATWORK].received
    assert len(received) == 1 and "テスト送信" in received[0]["body"]
    # the token never comes back to the page, and is not kept in the browser
    assert page.locator("#alert-chatwork-token").input_value() == ""
    assert "設定済み" in page.locator("[data-alert-secret='chatwork']").inner_text()
    assert CHATWORK_TOKEN not in str(ext_browser.storage())
    page.close()


def test_history_is_saved_as_csv_for_excel(ext_browser: ExtensionBrowser, shop: Companion) -> None:
    ext_browser.pair(shop)
    happen(shop, "blocked=904,A-0904,x100000904")
    page = ext_browser.open("options.html")
    page.wait_for_selector("#history[data-ready='true']:not([hidden])")
    page.fill("#history-mn", "A-0904")
    page.click("#history-search")
    expect(page.locator("#history-rows tr")).to_have_count(1)  # the page's CSP forbids eval
    assert "A-0904" in page.locator("#history-rows").inner_text()
    page.click("#history-csv")
    message = page.locator("#history-message")
    message.filter(has_text=".csv").wait_for()
    assert message.get_attribute("data-kind") == "ok"
    [saved] = list(ext_browser.download_dir.glob("recore_history_*.csv"))
    raw = saved.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("日時,種類,結果,管理番号")
    assert len(lines) == 2 and ",A-0904,x100000904," in lines[1]
    page.close()


def test_a_refused_early_end_is_told_at_once_in_the_popup_and_on_the_badge(
    ext_browser: ExtensionBrowser, shop: Companion
) -> None:
    """Sold at the register, but the auction has bids: a notification once, "!" on the toolbar,
    and the popup's first lines name the item and what to do, until the auction has ended."""
    ext_browser.pair(shop)
    ext_browser.open("popup.html").close()  # whatever happened before counts as seen
    poll(ext_browser)
    assert ext_browser.send({"type": "refreshBadge"})["data"]["unseen"] == 0

    happen(shop, "blocked=905,A-0905,x100000905")
    assert poll(ext_browser) == {"shown": 1}  # the alert, once
    assert poll(ext_browser) == {"shown": 0}
    assert ext_browser.send({"type": "refreshBadge"})["data"]["unseen"] == 1
    assert ext_browser.worker.evaluate("chrome.action.getBadgeText({})") == "!"

    popup = ext_browser.open("popup.html")
    section = popup.locator("#blocked-section")
    expect(section).to_be_visible()
    assert "オークションを終了できませんでした" in section.locator("h2").inner_text()
    item = section.locator("#blocked li", has_text="A-0905")
    expect(item).to_have_count(1)
    assert "x100000905" in item.inner_text() and "入札があるため" in item.inner_text()
    assert "入札を取り消し" in section.inner_text()  # what to do next, in plain words
    # seen in the popup: the badge clears, the lines stay while the auction runs
    wait_for_badge(ext_browser, "")
    assert ext_browser.send({"type": "refreshBadge"})["data"]["unseen"] == 0
    popup.close()
    popup = ext_browser.open("popup.html")
    expect(popup.locator("#blocked li", has_text="A-0905")).to_have_count(1)
    popup.close()
