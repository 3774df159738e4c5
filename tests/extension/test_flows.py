"""End to end from the toolbar popup: `recore-connector demo` (companion + seeded ReCORE and Yahoo
sandboxes) as a subprocess, the extension in real Chromium, staff pressing the popup's buttons."""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.extension.conftest import Demo, ExtensionBrowser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ZIP_NAME = re.compile(r"yahoo_upload_\d{8}_\d{4}\.zip")
SETTLED = {"succeeded", "partial", "failed"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    server = Demo(tmp_path_factory.mktemp("demo"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token(ext_browser: ExtensionBrowser, demo: Demo) -> str:
    token = ext_browser.pair(demo)
    # TODO(issue 8): drop once the batch, direct-listing and sync routes are wired in the companion.
    if demo.request("GET", "/pending", token=token)[0] == 404:
        pytest.skip("the companion does not serve /pending yet")
    return token


def wait_for(predicate: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def pending_items(demo: Demo, token: str) -> list[dict[str, Any]]:
    status, body = demo.request("GET", "/pending", token=token)
    assert status == 200, body
    return body["items"]


def test_download_saves_the_zip_under_its_ascii_name(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    items = wait_for(lambda: pending_items(demo, token), "pending listings from ReCORE")
    page = ext_browser.open("popup.html")
    assert page.locator("#source-summary").inner_text() == f"出品待ち: {len(items)}件"
    page.select_option("#source", "pending")
    page.click("#btn-download")
    result = page.locator("#action-result[data-kind='ok']")
    result.wait_for(timeout=90_000)

    zips = list(ext_browser.download_dir.glob("*.zip"))
    assert len(zips) == 1, list(ext_browser.download_dir.iterdir())
    saved = zips[0]
    assert ZIP_NAME.fullmatch(saved.name), saved.name
    assert saved.name in result.inner_text()
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
    assert any(name.lower().endswith(".csv") for name in names), names
    assert all(name.isascii() for name in names)

    # the batch is now a 生成済みリスト entry with the same name
    _, batches = demo.request("GET", "/batches", token=token)
    batch = batches["batches"][0]
    assert saved.name == f"{batch['name']}.zip"
    # items refused by validation are listed with their 管理番号 and the rule
    shown = page.locator("#batch-errors").inner_text()
    for error in batch["errors"]:
        assert error["management_number"] in shown
    page.select_option("#source", "batch")
    labels = page.eval_on_selector_all("#batch option", "(os) => os.map((o) => o.textContent)")
    assert any(label.startswith(batch["name"]) for label in labels)
    page.close()


def test_direct_listing_shows_progress_until_done(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    _, batches = demo.request("GET", "/batches", token=token)
    if not batches["batches"]:
        wait_for(lambda: pending_items(demo, token), "pending listings from ReCORE")
    page = ext_browser.open("popup.html")
    if batches["batches"]:
        page.select_option("#source", "batch")
        page.select_option("#batch", str(batches["batches"][0]["id"]))
    page.click("#btn-direct")
    page.locator("#action-result[data-kind='ok']").wait_for()
    page.locator("#jobs .job").first.wait_for()
    _, jobs = demo.request("GET", "/jobs?kind=direct_listing&limit=1", token=token)
    job_id = jobs["jobs"][0]["id"]
    job = page.locator(f"#jobs .job[data-job-id='{job_id}']")
    wait_for(lambda: job.get_attribute("data-state") in SETTLED, "the job to finish", 120)

    _, final = demo.request("GET", f"/jobs/{job_id}", token=token)
    assert final["state"] == job.get_attribute("data-state")
    done, total = final["progress"]["done"], final["progress"]["total"]
    assert total > 0 and done == total
    assert job.locator(".count").inner_text() == f"{done} / {total}件"
    assert job.locator("progress").evaluate("(p) => [p.value, p.max]") == [done, total]
    page.close()


def test_sync_button_runs_a_sync_and_shows_the_last_run(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    page = ext_browser.open("popup.html")
    page.click("#btn-sync")
    page.locator("#action-result[data-kind='ok']").wait_for()
    _, jobs = demo.request("GET", "/jobs?kind=sync&limit=1", token=token)
    job = page.locator(f"#jobs .job[data-job-id='{jobs['jobs'][0]['id']}']")
    wait_for(lambda: job.get_attribute("data-state") in SETTLED, "the sync to finish", 120)
    _, status = demo.request("GET", "/status", token=token)
    assert status["sync"]["last_run_at"]
    wait_for(lambda: page.locator("#last-sync").inner_text() != "まだありません", "last sync time")
    page.close()
