"""The toolbar badge: "!" for an error staff have not seen, cleared when the popup shows it."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from companion.config import Config
from companion.db import Database
from companion.events import Events
from tests.extension.conftest import Companion, ExtensionBrowser

pytestmark = pytest.mark.browser


def record_error(companion: Companion, message: str, message_en: str) -> None:
    """An error the companion itself logged for staff, written where the running server reads it."""

    async def go() -> None:
        db = Database(Config(data_dir=companion.data_dir).db_url)
        try:
            await Events(db).error("test", message, message_en)
        finally:
            await db.close()

    # Playwright's sync API owns this thread's event loop: run ours in another thread.
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(go())
        except BaseException as exc:  # reported in the test's thread
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


def badge(ext_browser: ExtensionBrowser) -> str:
    return ext_browser.worker.evaluate("chrome.action.getBadgeText({})")


def wait_for_badge(ext_browser: ExtensionBrowser, expected: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while badge(ext_browser) != expected:
        assert time.monotonic() < deadline, f"badge stayed {badge(ext_browser)!r}"
        time.sleep(0.1)


def test_unseen_error_shows_bang_until_the_popup_is_opened(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    ext_browser.pair(companion)
    ext_browser.open("popup.html").close()  # whatever happened before counts as seen
    reply = ext_browser.send({"type": "refreshBadge"})
    assert reply == {"ok": True, "data": {"running": 0, "unseen": 0}}
    assert badge(ext_browser) == ""

    record_error(
        companion, "ReCOREに接続できません。APIキーを確認してください。", "cannot reach ReCORE"
    )
    reply = ext_browser.send({"type": "refreshBadge"})
    assert reply["data"]["unseen"] == 1
    assert badge(ext_browser) == "!"
    title = ext_browser.worker.evaluate("chrome.action.getTitle({})")
    assert "未確認のエラーが1件" in title

    popup = ext_browser.open("popup.html")
    errors = popup.locator("#errors")
    assert "ReCOREに接続できません" in errors.inner_text()
    assert popup.locator("#errors .hint").is_visible()  # what to do next
    wait_for_badge(ext_browser, "")
    popup.close()
    # and it stays cleared: the same error is not "new" again
    assert ext_browser.send({"type": "refreshBadge"})["data"]["unseen"] == 0
