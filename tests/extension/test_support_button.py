"""The options page's 「サポート用の情報を保存」 saves the companion's support bundle into the
downloads folder (real Chromium, real companion)."""

from __future__ import annotations

import json
import zipfile

import pytest

from tests.extension.conftest import Companion, ExtensionBrowser

pytestmark = pytest.mark.browser


def test_the_support_button_saves_the_bundle(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    ext_browser.storage().get("token") or ext_browser.pair(companion)
    before = set(ext_browser.download_dir.glob("recore-support-*.zip"))
    page = ext_browser.open("options.html")
    page.click("#support-bundle")
    message = page.locator("#support-message[data-kind='ok']")
    message.wait_for(timeout=60_000)  # a busy machine: the bundle reads the whole status
    saved = set(ext_browser.download_dir.glob("recore-support-*.zip")) - before
    assert len(saved) == 1
    [bundle] = saved
    assert bundle.name in message.inner_text() and "保存しました" in message.inner_text()
    with zipfile.ZipFile(bundle) as archive:
        about = json.loads(archive.read("about.json"))
    assert about["version"] and about["database"]["revision"]
    page.close()
