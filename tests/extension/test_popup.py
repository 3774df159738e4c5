"""The toolbar popup and the service worker's router against the real companion."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import cli_env, free_port
from tests.extension.conftest import Companion, ExtensionBrowser

pytestmark = pytest.mark.browser

INTERVAL_LABELS = [
    "オフ",
    "1分（クイックチェック）",
    "5分",
    "15分",
    "30分",
    "1時間",
    "3時間",
    "6時間",
    "12時間",
    "24時間",
]
INTERVAL_VALUES = ["0", "1", "5", "15", "30", "60", "180", "360", "720", "1440"]


def options_of(page: Any, selector: str) -> list[tuple[str, str]]:
    return page.eval_on_selector_all(
        f"{selector} option", "(os) => os.map((o) => [o.value, o.textContent])"
    )


def test_not_paired_popup_points_to_the_options_page(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    assert "token" not in ext_browser.storage()
    ext_browser.set_storage({"companionUrl": companion.url})  # a companion on a test port
    page = ext_browser.open("popup.html")
    assert page.locator("#notice").is_visible()
    assert "ペアリングされていません" in page.locator("#notice-text").inner_text()
    assert "recore-connector pair" in page.locator("#notice-hint").inner_text()
    assert page.locator("#main").is_hidden()
    with ext_browser.context.expect_page() as opened:
        page.click("#open-options")
    options = opened.value
    options.wait_for_load_state()
    assert options.url == ext_browser.url("options.html")
    options.close()
    page.close()


def test_paired_popup_is_japanese_with_sources_buttons_and_intervals(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    ext_browser.pair(companion)
    page = ext_browser.open("popup.html")
    assert page.locator("#main").is_visible()
    assert page.locator("#conn-state").inner_text() == "接続中"
    assert page.locator("#counts").inner_text().startswith("出品待ち 0・出品処理中 0・出品中 0")
    assert [label for _, label in options_of(page, "#source")] == [
        "新規の出品待ちから",
        "生成済みリスト",
    ]
    assert page.locator("#btn-download").inner_text() == "出品ファイルをダウンロード"
    assert page.locator("#btn-direct").inner_text() == "直接出品を実行"
    assert page.locator("#btn-sync").inner_text() == "同期開始"
    assert options_of(page, "#interval") == [
        [v, label] for v, label in zip(INTERVAL_VALUES, INTERVAL_LABELS, strict=True)
    ]
    # the batch picker appears for 生成済みリスト
    assert page.locator("#batch-row").is_hidden()
    page.select_option("#source", "batch")
    assert page.locator("#batch-row").is_visible()
    page.close()


def test_interval_is_stored_by_the_companion_and_survives_a_browser_restart(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    token = ext_browser.storage().get("token") or ext_browser.pair(companion)
    page = ext_browser.open("popup.html")
    page.select_option("#interval", "180")
    page.locator("#interval-result", has_text="保存しました").wait_for()
    _, settings = companion.request("GET", "/settings", token=token)
    assert settings["sync_interval_minutes"] == 180
    page.close()

    ext_browser.restart()
    page = ext_browser.open("popup.html")
    assert page.input_value("#interval") == "180"  # read back from the companion
    assert ext_browser.storage()["token"] == token  # still paired after the restart
    page.select_option("#interval", "0")
    page.locator("#interval-result", has_text="保存しました").wait_for()
    _, settings = companion.request("GET", "/settings", token=token)
    assert settings["sync_interval_minutes"] == 0
    page.close()


def test_one_minute_quick_check_is_saved_and_shown_with_its_last_run(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    token = ext_browser.storage().get("token") or ext_browser.pair(companion)
    # the companion is shared with other tests (the options page's may have set the full interval)
    _, before = companion.request("GET", "/settings", token=token)
    page = ext_browser.open("popup.html")
    assert page.locator("#last-quick").is_hidden()  # no quick check chosen yet
    page.select_option("#interval", "1")
    page.locator("#interval-result", has_text="保存しました").wait_for()
    _, settings = companion.request("GET", "/settings", token=token)
    assert settings["sync_interval_minutes"] == 1
    # the full sync keeps its own interval beside the quick check
    assert settings["full_sync_interval_minutes"] == before["full_sync_interval_minutes"]
    page.close()

    page = ext_browser.open("popup.html")
    assert page.input_value("#interval") == "1"  # read back from the companion
    page.get_by_text("前回のクイックチェック").wait_for()
    assert page.locator("#last-quick").inner_text() == "まだありません"
    assert page.get_by_text("前回の同期", exact=True).is_visible()
    page.select_option("#interval", "0")
    page.locator("#interval-result", has_text="保存しました").wait_for()
    page.close()


def test_popup_says_plainly_what_to_do_about_a_stopped_companion(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    ext_browser.storage().get("token") or ext_browser.pair(companion)
    companion.stop()
    try:
        page = ext_browser.open("popup.html")
        text = page.locator("#notice-text").inner_text()
        hint = page.locator("#notice-hint").inner_text()
        assert "起動していません" in text
        assert companion.url in text
        # plain Japanese for staff: no command line to type
        assert "IT担当者" in hint
        assert "recore-connector" not in hint and "make" not in hint and "`" not in hint
        assert page.locator("#conn-state").inner_text() == "未起動"
        assert page.locator("#main").is_hidden()
    finally:
        companion.start()
    # 再試行 once it runs again
    page.click("#retry")
    page.wait_for_selector("#main:not([hidden])")
    page.close()


def test_popup_says_how_long_results_have_waited_for_recore(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    ext_browser.storage().get("token") or ext_browser.pair(companion)
    page = ext_browser.open("popup.html")
    assert page.locator("#outbox-age").is_hidden()  # nothing waiting: no line
    page.close()
    # a result that has waited 25 minutes (ReCORE down meanwhile), written as the outbox does
    written = (datetime.now(UTC) - timedelta(minutes=25)).replace(tzinfo=None).isoformat(" ")
    db = sqlite3.connect(companion.data_dir / "companion.sqlite3")
    with db:
        db.execute(
            "INSERT INTO outbox (idempotency_key, ordering_key, operation, target, body, state,"
            " attempts, next_attempt_at, created_at) VALUES"
            " ('order-upsert:Y-9:a', 'order:Y-9', 'order_upsert', 'Y-9', '{}', 'pending', 4, ?, ?)",
            (written, written),
        )
    try:
        page = ext_browser.open("popup.html")
        line = page.locator("#outbox-age")
        assert line.is_visible()
        assert "未送信の結果が 1件" in line.inner_text() and "25分" in line.inner_text()
        page.close()
    finally:
        with db:
            db.execute("DELETE FROM outbox WHERE idempotency_key = 'order-upsert:Y-9:a'")
        db.close()


def test_revoked_token_asks_to_pair_again(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    good = ext_browser.storage().get("token") or ext_browser.pair(companion)
    ext_browser.set_storage({"token": "not-a-valid-token"})
    try:
        popup = ext_browser.open("popup.html")
        assert "ペアリングが無効" in popup.locator("#notice-text").inner_text()
        assert "ペアリングし直して" in popup.locator("#notice-hint").inner_text()
        assert popup.locator("#open-options").is_visible()
        popup.close()
    finally:
        ext_browser.set_storage({"token": good})


def test_router_answers_unknown_messages_with_an_error(ext_browser: ExtensionBrowser) -> None:
    reply = ext_browser.send({"type": "no-such-message"})
    assert reply["ok"] is False
    assert reply["error"]["code"] == "UNKNOWN_MESSAGE"
    assert "no-such-message" in reply["error"]["text"]
    reply = ext_browser.send({"nothing": True})
    assert reply["ok"] is False and reply["error"]["code"] == "UNKNOWN_MESSAGE"


def test_router_rejects_bad_pairing_input_without_calling_out(
    ext_browser: ExtensionBrowser,
) -> None:
    reply = ext_browser.send(
        {"type": "pair", "companionUrl": "https://evil.example", "code": "12345678"}
    )
    assert reply == {
        "ok": False,
        "error": {
            "code": "INVALID_COMPANION_URL",
            "text": reply["error"]["text"],
            "hint": "",
            "fields": None,
            "status": 0,
        },
    }
    assert "127.0.0.1" in reply["error"]["text"]


def test_on_a_shared_database_the_popup_names_the_leading_pc(
    ext_browser: ExtensionBrowser, companion: Companion, postgres_server: Any, tmp_path: Any
) -> None:
    # one PC on SQLite: nothing to say
    ext_browser.pair(companion)
    page = ext_browser.open("popup.html")
    page.wait_for_selector("#main:not([hidden])")
    assert page.locator("#leader").is_hidden()
    page.close()
    # a PC whose companion shares a PostgreSQL database with others: it leads, and says so
    database = postgres_server.url(postgres_server.create_database())
    shared = Companion(tmp_path / "pc", free_port(), cli_env(database))
    shared.start()
    try:
        ext_browser.pair(shared)
        page = ext_browser.open("popup.html")
        page.wait_for_selector("#leader:not([hidden])")
        _, body = shared.request("GET", "/status", token=ext_browser.storage()["token"])
        host = body["cluster"]["this_pc"]["host"]
        assert page.locator("#leader").inner_text() == (
            f"処理担当PC: このPC（{host}・PID {shared.proc.pid}）"
        )
        page.close()
    finally:
        shared.stop()
