"""The options page's 「接続診断」 against `recore-connector demo`, in real Chromium: the button runs
the companion's read-only diagnosis and shows its Japanese summary and the zip for support."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.extension.conftest import Demo, ExtensionBrowser

pytestmark = pytest.mark.browser


def test_the_button_runs_the_diagnosis_and_shows_it(
    ext_browser: ExtensionBrowser, demo: Demo
) -> None:
    ext_browser.pair(demo)
    page = ext_browser.open("options.html")
    page.wait_for_selector("#diagnose:not([hidden])")
    assert page.locator("#diagnose h2").inner_text() == "接続診断"
    page.click("#diagnose-run")
    summary = page.locator("#diagnose-summary")
    summary.wait_for(state="visible", timeout=170000)
    text = summary.inner_text()
    assert "ReCORE Connector 接続診断" in text
    assert "サポートへ送るもの" in text
    message = page.locator("#diagnose-message")
    assert message.get_attribute("data-kind") == "ok", text
    assert message.inner_text() == "問題は見つかりませんでした。"
    shown = page.locator("#diagnose-zip").inner_text()
    zip_path = Path(shown.split(": ", 1)[1])
    assert zip_path.is_file() and zip_path.name.startswith("recore-connector-diagnosis-")
    page.close()
