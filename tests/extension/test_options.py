"""The options page against the real companion: pairing, settings, secrets never in the browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.extension.conftest import Companion, ExtensionBrowser

pytestmark = pytest.mark.browser

SECRETS = {
    "recore_api_key": "rk-secret-4b1d-ext-test",
    "yahoo_password": "yp-secret-77aa-ext-test",
    "business_password": "bp-secret-90cc-ext-test",
}


def field_error(page: Any, field: str) -> str:
    return page.locator(f"[data-error-for='{field}']").inner_text().strip()


def test_ui_is_japanese(ext_browser: ExtensionBrowser) -> None:
    page = ext_browser.open("options.html")
    assert page.locator("h1").inner_text() == "ReCORE Connector 設定"
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.locator("#pair").inner_text() == "ペアリング"
    assert page.title() == "ReCORE Connector 設定"
    page.close()


def test_bad_code_format_is_refused_before_sending(ext_browser: ExtensionBrowser) -> None:
    page = ext_browser.open("options.html")
    page.fill("#pairing_code", "12ab")
    page.click("#pair")
    assert "6桁以上の数字" in field_error(page, "pairing_code")
    page.fill("#companion_url", "http://example.com:8765")
    page.click("#pair")
    assert "127.0.0.1" in field_error(page, "companion_url")
    page.close()


def test_wrong_code_shows_the_companions_error(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    companion.pairing_code()  # a live code exists, but we type another one
    page = ext_browser.open("options.html")
    page.fill("#companion_url", companion.url)
    page.fill("#pairing_code", "00000000")
    page.click("#pair")
    message = page.locator("#pair-message")
    message.filter(has_text="コード").wait_for()
    assert message.get_attribute("data-kind") == "error"
    assert "コードが違うか期限切れです" in message.inner_text()
    assert page.locator("#settings").is_hidden()
    assert "token" not in ext_browser.storage()
    page.close()


def test_right_code_pairs_and_stores_a_token(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    page = ext_browser.open("options.html")
    page.fill("#companion_url", f" {companion.url}/ ")  # trimmed and normalised
    page.fill("#pairing_code", companion.pairing_code())
    page.click("#pair")
    page.wait_for_selector("#settings:not([hidden])")
    assert page.locator("#pair-state").inner_text() == "ペアリング済み"
    stored = ext_browser.storage()
    assert stored["companionUrl"] == companion.url
    status, _ = companion.request("GET", "/status", token=stored["token"])
    assert status == 200
    page.close()


def test_settings_are_saved_and_secrets_never_reach_chrome_storage(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    token = ext_browser.storage().get("token") or ext_browser.pair(companion)
    page = ext_browser.open("options.html")
    page.wait_for_selector("#settings:not([hidden])")
    page.fill("#recore_api_url", "  https://co-api.example.test/v1/  ")
    page.fill("#ec_account_id", "12")
    page.fill("#store_id", "")
    page.fill("#yahoo_id", "shop-ext")
    page.fill("#business_id", "biz-ext")
    page.fill("#mail_from", "shop@example.jp")
    for name, value in SECRETS.items():
        page.fill(f"#{name}", value)
    page.select_option("#mapping-0", "未出荷")  # 未処理 → 未出荷
    page.click("#save")
    page.locator("#save-message[data-kind='ok']").wait_for()

    status, settings = companion.request("GET", "/settings", token=token)
    assert status == 200
    assert settings["recore_api_url"] == "https://co-api.example.test/v1"
    assert settings["ec_account_id"] == 12
    assert settings["store_id"] is None
    assert settings["yahoo_id"] == "shop-ext"
    assert settings["status_mapping"]["未処理"] == "未出荷"
    for name in SECRETS:
        assert settings[name] == {"set": True}
        # the page shows 「設定済み」 and keeps no value in the box
        assert page.locator(f"[data-secret-state='{name}']").inner_text() == "設定済み"
        assert page.input_value(f"#{name}") == ""

    # Nothing but the address, what pairing gave and job bookkeeping is stored in the browser...
    stored = ext_browser.storage()
    paired = {"companionUrl", "token", "keyId", "proofKey"}
    assert set(stored) <= paired | {"watchedJobs", "jobNotes", "errorsSeenAt"}
    dump = repr(stored)
    for value in SECRETS.values():
        assert value not in dump
    # ...and not anywhere else in the profile either (storage, caches, form autofill).
    for value in SECRETS.values():
        assert not _profile_contains(ext_browser.profile_dir, value.encode())
    page.close()


def _profile_contains(profile: Path, needle: bytes) -> bool:
    for path in profile.rglob("*"):
        if path.is_file():
            try:
                if needle in path.read_bytes():
                    return True
            except OSError:
                continue
    return False


def test_reloaded_page_shows_secrets_as_set_and_keeps_them_when_left_empty(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    token = ext_browser.storage().get("token") or ext_browser.pair(companion)
    companion.request("PUT", "/settings", {"yahoo_password": "kept-secret"}, token=token)
    page = ext_browser.open("options.html")
    page.wait_for_selector("#settings:not([hidden])")
    assert page.locator("[data-secret-state='yahoo_password']").inner_text() == "設定済み"
    assert page.get_attribute("#yahoo_password", "placeholder").startswith("設定済み")
    page.fill("#yahoo_id", "shop-ext-2")
    page.click("#save")
    page.locator("#save-message[data-kind='ok']").wait_for()
    _, settings = companion.request("GET", "/settings", token=token)
    assert settings["yahoo_id"] == "shop-ext-2"
    assert settings["yahoo_password"] == {"set": True}  # an empty box did not clear it

    # Clearing is explicit.
    page.check("[data-clear='yahoo_password']")
    page.click("#save")
    page.locator("#save-message[data-kind='ok']").wait_for()
    _, settings = companion.request("GET", "/settings", token=token)
    assert settings["yahoo_password"] == {"set": False}
    assert page.locator("[data-secret-state='yahoo_password']").inner_text() == "未設定"
    page.close()


def test_api_url_is_validated_before_sending(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    token = ext_browser.storage().get("token") or ext_browser.pair(companion)
    _, before = companion.request("GET", "/settings", token=token)
    page = ext_browser.open("options.html")
    page.wait_for_selector("#settings:not([hidden])")
    page.fill("#recore_api_url", "http://co-api.example.test")
    page.fill("#ec_account_id", "abc")
    page.click("#save")
    assert "https://" in field_error(page, "recore_api_url")
    assert "整数" in field_error(page, "ec_account_id")
    assert page.locator("#save-message").get_attribute("data-kind") == "error"
    _, after = companion.request("GET", "/settings", token=token)
    assert after == before  # nothing was sent

    # The sandbox on loopback may use http.
    page.fill("#recore_api_url", "http://127.0.0.1:9999/")
    page.fill("#ec_account_id", "1")
    page.click("#save")
    page.locator("#save-message[data-kind='ok']").wait_for()
    _, after = companion.request("GET", "/settings", token=token)
    assert after["recore_api_url"] == "http://127.0.0.1:9999"
    page.close()


def test_companion_field_errors_are_shown_next_to_the_field(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    token = ext_browser.storage().get("token") or ext_browser.pair(companion)
    page = ext_browser.open("options.html")
    page.wait_for_selector("#settings:not([hidden])")
    page.fill("#mail_from", "not-an-address")  # the page leaves e-mail rules to the companion
    page.click("#save")
    page.locator("#save-message[data-kind='error']").wait_for()
    assert "メールアドレス" in field_error(page, "mail_from")
    assert page.get_attribute("#mail_from", "aria-invalid") == "true"
    _, settings = companion.request("GET", "/settings", token=token)
    assert settings["mail_from"] != "not-an-address"
    page.close()


def test_sms_note_and_mapping_table(ext_browser: ExtensionBrowser, companion: Companion) -> None:
    ext_browser.storage().get("token") or ext_browser.pair(companion)
    page = ext_browser.open("options.html")
    page.wait_for_selector("#settings:not([hidden])")
    assert "「利用しない」" in page.locator(".warning").inner_text()
    rows = page.locator("#mapping-rows tr")
    assert rows.count() == 5
    assert [rows.nth(i).locator("th").inner_text() for i in range(5)] == [
        "未処理",
        "入金済み",
        "発送済み",
        "対応終了",
        "キャンセル",
    ]
    page.close()


def test_quick_check_and_the_full_sync_interval_are_chosen_here_too(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    token = ext_browser.storage().get("token") or ext_browser.pair(companion)
    page = ext_browser.open("options.html")
    page.wait_for_selector("#settings:not([hidden])")
    assert page.input_value("#full_sync_interval_minutes") == "30"  # the default
    page.select_option("#sync_interval_minutes", "1")
    page.select_option("#full_sync_interval_minutes", "60")
    page.click("#save")
    page.locator("#save-message[data-kind='ok']").wait_for()
    _, settings = companion.request("GET", "/settings", token=token)
    assert settings["sync_interval_minutes"] == 1
    assert settings["full_sync_interval_minutes"] == 60
    page.reload()
    page.wait_for_selector("#settings:not([hidden])")
    assert page.input_value("#sync_interval_minutes") == "1"
    assert page.input_value("#full_sync_interval_minutes") == "60"
    companion.request("PUT", "/settings", {"sync_interval_minutes": 0}, token=token)
    page.close()
