"""The companion going down and coming back, as staff see it without the popup: the badge says so
while it is down, and exactly one Chrome notification is shown each way (read back with
chrome.notifications.getAll in the service worker)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.extension.conftest import Companion, ExtensionBrowser

pytestmark = pytest.mark.browser

DOWN, BACK = "recore-companion-down", "recore-companion-back"


def shown(browser: ExtensionBrowser) -> dict[str, Any]:
    return browser.worker.evaluate("chrome.notifications.getAll()")


def poll(browser: ExtensionBrowser, times: int = 3) -> None:
    for _ in range(times):
        assert browser.send({"type": "refreshBadge"})["ok"]


def badge(browser: ExtensionBrowser) -> str:
    return browser.worker.evaluate("chrome.action.getBadgeText({})")


def test_down_and_back_each_give_one_notification_and_the_badge_says_so(
    ext_browser: ExtensionBrowser, own_companion: Companion
) -> None:
    ext_browser.pair(own_companion)
    poll(ext_browser)
    assert set(shown(ext_browser)) & {DOWN, BACK} == set()  # running: nothing to say

    own_companion.stop()
    poll(ext_browser)
    assert set(shown(ext_browser)) & {DOWN, BACK} == {DOWN}
    assert badge(ext_browser) == "×"
    # staff closed it: later polls, still down, do not show it again
    ext_browser.worker.evaluate(f"chrome.notifications.clear('{DOWN}')")
    poll(ext_browser)
    assert set(shown(ext_browser)) & {DOWN, BACK} == set()

    own_companion.start()
    poll(ext_browser)
    assert set(shown(ext_browser)) & {DOWN, BACK} == {BACK}
    assert badge(ext_browser) != "×"
    ext_browser.worker.evaluate(f"chrome.notifications.clear('{BACK}')")
    poll(ext_browser)
    assert set(shown(ext_browser)) & {DOWN, BACK} == set()
