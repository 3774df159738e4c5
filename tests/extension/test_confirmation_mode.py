"""確認モード from the toolbar popup (real Chromium, `recore-connector demo` as a new installation):
nothing reaches the Yahoo or the ReCORE sandbox until 実行 is pressed under 「これから実行する内容」;
スキップ leaves the item pending; after N approvals of a kind its writes flow on their own; the
options page switches the mode off."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.recore.seed import SEEDED_INVALID
from tests.extension.conftest import ENV, Demo, ExtensionBrowser
from tests.extension.helpers import all_pending_items, get_json, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, store_world: str) -> Iterator[Demo]:
    # a new installation, as `make demo` starts one: 確認モード on
    env = {**ENV, "RECORE_CONNECTOR_CONFIRM_FIRST_WRITES": "on"}
    assert os.environ.get("RECORE_CONNECTOR_CONFIRM_FIRST_WRITES") == "off"  # the others' default
    server = Demo(tmp_path_factory.mktemp("demo"), store_world, env=env)
    server.start()
    yield server
    server.stop()


def _on_yahoo(demo: Demo) -> set[str]:
    state = get_json(f"http://127.0.0.1:{demo.yahoo_port}/_sandbox/state")
    return {x["management_number"] for x in state["listings"]}


def _outcomes(demo: Demo, listing_ids: list[int]) -> dict[int, Any]:
    state = get_json(f"http://127.0.0.1:{demo.recore_port}/_sandbox/state")
    return {
        t["data"]["ec_inventory_id"]: t["outcome"]
        for t in state["tasks"]
        if t["type"] == "CREATE_INVENTORY" and t["data"].get("ec_inventory_id") in listing_ids
    }


def test_first_writes_wait_for_run_in_the_popup(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    status, settings = demo.request("GET", "/settings", token=token)
    assert settings["confirmation_mode"] is True  # a new installation asks first
    status, _ = demo.request("PUT", "/settings", {"confirmation_count": 1}, token=token)
    assert status == 200
    items = all_pending_items(demo, token)
    two = [i for i in items if i["management_number"] not in set(SEEDED_INVALID)][:2]
    skipped_mn, run_mn = (i["management_number"] for i in two)
    ids = [i["id"] for i in two]
    status, batch = demo.request(
        "POST", "/batches", {"source": "pending", "listing_ids": ids}, token=token
    )
    assert status == 201, batch
    before = _on_yahoo(demo)

    page = ext_browser.open("popup.html")
    assert "確認モード" in page.locator("#confirm-mode").inner_text()
    page.select_option("#source", "batch")
    page.select_option("#batch", str(batch["id"]))
    page.click("#btn-direct")
    page.locator("#action-result[data-kind='ok']").wait_for()
    # the job waits for staff, and says so
    job = page.locator(".job[data-state='paused']")
    job.wait_for()
    assert "確認待ち" in job.locator(".job-error").inner_text()
    section = page.locator("#confirm-section")
    assert "これから実行する内容" in section.locator("h2").inner_text()
    listing = section.locator(".confirm-item[data-kind='listing']")
    wait_for(lambda: listing.count() == 2, "two listings to confirm")
    first = section.locator(f".confirm-item[data-kind='listing']:has-text('{skipped_mn}')")
    second = section.locator(f".confirm-item[data-kind='listing']:has-text('{run_mn}')")
    assert "ヤフオク!ストア" in second.inner_text() and "開始価格" in second.inner_text()
    assert _on_yahoo(demo) == before

    # スキップ: shown as skipped, nothing listed
    first.locator("button[data-action='skip']").click()
    section.locator(f".confirm-item[data-state='skipped']:has-text('{skipped_mn}')").wait_for()
    assert _on_yahoo(demo) == before

    # 実行: that item (and only that one) is listed; its report to ReCORE waits in turn
    second.locator("button[data-action='approve']").click()
    wait_for(lambda: run_mn in _on_yahoo(demo), "the approved item on the store", 120)
    assert skipped_mn not in _on_yahoo(demo)
    report = section.locator(".confirm-item[data-kind='task_report']")
    report.wait_for()
    assert run_mn in report.inner_text() and "/succeeded" in report.inner_text()
    assert set(_outcomes(demo, ids).values()) == {None}
    report.locator("button[data-action='approve']").click()
    wait_for(
        lambda: _outcomes(demo, ids)[ids[1]] == "succeeded", "the approved report in ReCORE", 60
    )
    assert _outcomes(demo, ids)[ids[0]] is None

    # N = 1 of each kind approved: the skipped item, run now, is listed and reported on its own
    first.locator("button[data-action='approve']").click()
    wait_for(lambda: skipped_mn in _on_yahoo(demo), "the skipped item on the store", 120)
    wait_for(lambda: _outcomes(demo, ids)[ids[0]] == "succeeded", "its report on its own", 60)
    wait_for(lambda: section.is_hidden(), "nothing left to confirm")
    _, report = demo.request("GET", "/confirmations", token=token)
    left = {k["kind"]: k["left"] for k in report["kinds"]}
    assert left["listing"] == left["task_report"] == 0 and left["yahoo_ship"] == 1
    page.close()


def test_options_page_switches_it_off(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    page = ext_browser.open("options.html")
    page.locator("#settings:not([hidden])").wait_for()
    box = page.locator("#confirmation_mode")
    assert box.is_checked()
    page.fill("#confirmation_count", "0")
    page.click("#save")
    assert page.locator("[data-error-for='confirmation_count']").inner_text()
    page.fill("#confirmation_count", "5")
    box.uncheck()
    page.click("#save")
    page.locator("#save-message[data-kind='ok']").wait_for()
    _, settings = demo.request("GET", "/settings", token=token)
    assert settings["confirmation_mode"] is False and settings["confirmation_count"] == 5
    page.close()
    popup = ext_browser.open("popup.html")
    assert popup.locator("#confirm-mode").is_hidden()
    popup.close()
