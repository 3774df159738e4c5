"""End to end from the toolbar popup: `recore-connector demo` (companion + seeded ReCORE and Yahoo
sandboxes) as a subprocess, the extension in real Chromium, staff pressing the popup's buttons."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

from sandbox.recore.seed import SEEDED_INVALID
from tests.conftest import STORE_WORLDS
from tests.extension.conftest import Demo, ExtensionBrowser
from tests.extension.helpers import (
    SETTLED,
    all_pending_items,
    get_json,
    pending_items,
    press_sync,
    wait_for,
)
from tests.staff import upload_zip

# every flow in both store worlds: one demo (and pairing) per world
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.parametrize("store_world", STORE_WORLDS, scope="module"),
]

ZIP_NAME = re.compile(r"yahoo_upload_\d{8}_\d{4}\.zip")


def test_direct_listing_shows_progress_until_done(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    # A small 生成済みリスト of two valid items keeps the browser work of the companion short.
    items = all_pending_items(demo, token)
    seeded_invalid = set(SEEDED_INVALID)
    two = [item["id"] for item in items if item["management_number"] not in seeded_invalid][:2]
    status, batch = demo.request(
        "POST", "/batches", {"source": "pending", "listing_ids": two}, token=token
    )
    assert status == 201, batch

    page = ext_browser.open("popup.html")
    page.select_option("#source", "batch")
    page.select_option("#batch", str(batch["id"]))
    assert "未出品 2件" in page.locator("#source-summary").inner_text()
    page.click("#btn-direct")
    page.locator("#action-result[data-kind='ok']").wait_for()
    _, jobs = demo.request("GET", "/jobs?kind=direct_listing&limit=1", token=token)
    job_id = jobs["jobs"][0]["id"]
    job = page.locator(f".job[data-job-id='{job_id}']")
    job.wait_for()
    wait_for(lambda: job.get_attribute("data-state") in SETTLED, "the job to finish", 120)

    _, final = demo.request("GET", f"/jobs/{job_id}", token=token)
    assert final["state"] == job.get_attribute("data-state") == "succeeded", final
    assert final["progress"] == {"done": 2, "total": 2}
    assert job.locator(".count").inner_text() == "2 / 2件"
    assert job.locator("progress").evaluate("(p) => [p.value, p.max]") == [2, 2]
    assert job.locator(".state").inner_text() == "完了"

    # and ReCORE's 出品リスト shows both as 出品中, with their auction ids (through the outbox)
    def recore_listings() -> list[dict[str, Any]]:
        listings = get_json(f"http://127.0.0.1:{demo.recore_port}/_sandbox/state")["listings"]
        return [x for x in listings if x["id"] in two]

    wait_for(
        lambda: all(
            x["status_label"] == "出品中" and x["mall_product_code"] for x in recore_listings()
        ),
        "ReCORE to show both listings as 出品中",
        90,
    )
    # the list now says both are listed
    wait_for(
        lambda: "出品済み2件" in page.locator("#batch option:checked").inner_text(),
        "the batch picker to count the listed items",
    )
    # and there is nothing left in it to download: no file, a plain message
    page.click("#btn-download")
    page.locator("#action-result", has_text="出品できる商品がありません").wait_for()
    assert not list(ext_browser.download_dir.iterdir())
    page.close()


def test_download_saves_the_zip_under_its_ascii_name(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    items = all_pending_items(demo, token)
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

    # the batch is now the newest 生成済みリスト entry, under the same name
    _, batches = demo.request("GET", "/batches", token=token)
    batch = batches["batches"][0]
    assert saved.name == f"{batch['name']}.zip"
    # the seeded items that break a Yahoo rule are listed with their 管理番号
    shown = page.locator("#batch-errors").inner_text()
    assert batch["errors"]
    for error in batch["errors"]:
        assert error["management_number"] in shown
    page.select_option("#source", "batch")
    wait_for(
        lambda: any(
            label.startswith(batch["name"])
            for label in page.eval_on_selector_all("#batch option", "(os) => os.map((o) => o.text)")
        ),
        "the new list in the batch picker",
    )

    # Every pending listing is in a list now: 直接出品 from 新規の出品待ち says so, in Japanese.
    page.select_option("#source", "pending")
    page.click("#btn-direct")
    result = page.locator("#action-result[data-kind='error']")
    result.wait_for()
    assert "新規の出品待ちはありません" in result.inner_text()
    page.close()


def test_direct_listing_with_nothing_valid_lists_each_items_error(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    """新規の出品待ち holds only an item that breaks a Yahoo rule: 直接出品を実行 lists nothing and
    the popup names the item and what to fix, not just "nothing to list"."""
    body = json.dumps(
        {"items": [{"management_number": "BAD-0001", "title": "長すぎる題名" * 20}]}
    ).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{demo.recore_port}/_sandbox/listings",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 (loopback)
        assert resp.status == 201
    wait_for(
        lambda: any(i["management_number"] == "BAD-0001" for i in pending_items(demo, token)),
        "the companion to take in the new listing",
    )

    _, before = demo.request("GET", "/jobs?kind=direct_listing&limit=50", token=token)
    page = ext_browser.open("popup.html")
    page.select_option("#source", "pending")
    page.click("#btn-direct")
    result = page.locator("#action-result[data-kind='error']")
    result.wait_for(timeout=60_000)
    assert "出品できる商品がありません" in result.inner_text()
    assert "ReCOREで直して" in result.inner_text()
    shown = page.locator("#batch-errors").inner_text()
    assert "BAD-0001" in shown and "タイトル" in shown, shown
    _, after = demo.request("GET", "/jobs?kind=direct_listing&limit=50", token=token)
    assert len(after["jobs"]) == len(before["jobs"]), "no listing job was started"
    page.close()


def test_sync_button_runs_a_sync_and_shows_the_last_run(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    page = press_sync(ext_browser, demo, token)
    _, status = demo.request("GET", "/status", token=token)
    assert status["sync"]["last_run_at"]
    wait_for(lambda: page.locator("#last-sync").inner_text() != "まだありません", "last sync time")

    # With auto sync on, the popup shows when the companion will sync next, as soon as it says
    # 保存しました (not a poll later): the companion stores the next run before it answers.
    assert page.locator("#next-sync").inner_text() == "自動同期はオフです"
    for minutes in ("5", "60"):
        page.select_option("#interval", minutes)
        page.locator("#interval-result", has_text="保存しました").wait_for()
        assert demo.request("GET", "/status", token=token)[1]["sync"]["next_run_at"]
        assert page.locator("#next-sync").inner_text() != "自動同期はオフです"
    page.select_option("#interval", "0")
    page.locator("#interval-result", has_text="保存しました").wait_for()
    assert page.locator("#next-sync").inner_text() == "自動同期はオフです"
    page.close()


def yahoo_faults(demo: Demo, **switches: Any) -> None:
    req = urllib.request.Request(
        f"http://127.0.0.1:{demo.yahoo_port}/_sandbox/faults",
        data=json.dumps(switches).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (loopback)
        assert resp.status == 200


def test_a_sync_that_cannot_log_in_flags_the_badge_and_says_what_to_do(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    # Yahoo asks for an SMS code at the next login: unattended sync has to stop and say so.
    yahoo_faults(demo, sms_wall=True, expire_sessions=True)
    try:
        ext_browser.open("popup.html").close()  # everything so far has been seen
        reply = ext_browser.send({"type": "sync"})  # 同期開始, then the popup is closed
        assert reply["ok"], reply
        job_id = reply["data"]["jobId"]
        final = wait_for(
            lambda: (
                (job := demo.request("GET", f"/jobs/{job_id}", token=token)[1])["state"]
                in SETTLED | {"paused"}
                and job
            ),
            "the sync to stop",
            120,
        )
        assert final["state"] in {"failed", "paused"}, final
        wait_for(
            lambda: ext_browser.send({"type": "refreshBadge"})["data"]["unseen"] > 0,
            "the worker to note the failed sync",
        )
        assert ext_browser.worker.evaluate("chrome.action.getBadgeText({})") == "!"

        page = ext_browser.open("popup.html")
        errors = page.locator("#errors").inner_text()
        assert "同期" in errors and "「利用しない」" in errors, errors
        wait_for(
            lambda: ext_browser.worker.evaluate("chrome.action.getBadgeText({})") != "!",
            "the badge to clear once the popup showed the error",
        )
        page.close()
    finally:
        yahoo_faults(demo, reset=True)


def test_sync_brings_an_order_into_recore_as_pending_then_unshipped(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    """A won auction waiting for payment (未処理) lands in ReCORE's 受注管理 as 保留中; once paid on
    Yahoo (入金済み), the next 同期開始 makes it 未出荷 (the seed's mapping)."""
    yahoo = f"http://127.0.0.1:{demo.yahoo_port}"
    order_id = next(
        o["order_id"]
        for o in get_json(f"{yahoo}/_sandbox/state")["orders"]
        if o["store_status"] == "未処理"
    )

    def recore_status() -> str | None:
        orders = get_json(f"http://127.0.0.1:{demo.recore_port}/_sandbox/state")["orders"]
        return next((o["status"] for o in orders if o["mall_order_id"] == order_id), None)

    press_sync(ext_browser, demo, token).close()
    wait_for(lambda: recore_status() == "ORDERED", "the order in ReCORE as 保留中", 90)
    req = urllib.request.Request(
        f"{yahoo}/_sandbox/orders/{order_id}/status",
        data=json.dumps({"store_status": "入金済み"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (loopback)
        assert resp.status == 200
    press_sync(ext_browser, demo, token).close()
    wait_for(lambda: recore_status() == "UNSHIPPED", "the order in ReCORE as 未出荷", 90)


def _in_a_thread(work: Any) -> Any:
    """An asyncio coroutine run to its end beside Playwright's sync API (own thread, own loop)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = asyncio.run(work)
        except BaseException as exc:  # handed to the test's thread
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_an_uploaded_zip_is_found_listed_or_registered_then_started(
    ext_browser: ExtensionBrowser, demo: Demo, token: str, store_world: str, tmp_path: Path
) -> None:
    """Staff upload the downloaded zip at 一括アップロード. 同期開始 then finds the item on the
    store: listed (world classic), or registered in its folder (world next), which the popup
    says and offers to start with 「出品開始」; either way it ends 出品中 in ReCORE."""
    # a new listing of its own in ReCORE (the other flows may have taken the seeded ones)
    request = urllib.request.Request(
        f"http://127.0.0.1:{demo.recore_port}/_sandbox/listings",
        data=json.dumps({"count": 1, "images_per_item": 1, "image_kb": 8}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 (loopback)
        (one,) = json.loads(resp.read())["listing_ids"]
    wait_for(
        lambda: any(i["id"] == one for i in pending_items(demo, token)),
        "the companion to take in the new listing",
    )
    status, batch = demo.request(
        "POST", "/batches", {"source": "pending", "listing_ids": [one]}, token=token
    )
    assert status == 201, batch
    request = urllib.request.Request(
        f"{demo.url}/api/v1/batches/{batch['id']}/zip",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310 (loopback)
        zip_path = tmp_path / f"{batch['name']}.zip"
        zip_path.write_bytes(resp.read())
    yahoo = f"http://127.0.0.1:{demo.yahoo_port}"
    account = get_json(f"{yahoo}/_sandbox/state?brief=1")["account"]
    uploaded = _in_a_thread(upload_zip(yahoo, account, zip_path, tmp_path / "staff-profile"))
    number = batch["items"][0]["management_number"]
    assert number in {**uploaded.listed, **uploaded.registered}, uploaded

    page = press_sync(ext_browser, demo, token)
    page.select_option("#source", "batch")
    page.select_option("#batch", str(batch["id"]))
    notice = page.locator("#registered-summary")
    if store_world == "next":  # the upload only registered it
        notice.wait_for()
        assert "フォルダに登録済み（未出品）1件" in notice.inner_text()
        page.click("#btn-start")
        page.locator("#action-result[data-kind='ok']").wait_for()
        _, jobs = demo.request("GET", "/jobs?kind=direct_listing&limit=1", token=token)
        # running under 実行中の処理, then under 終わった処理 once it has finished
        job = page.locator(f".job[data-job-id='{jobs['jobs'][0]['id']}']").first
        wait_for(lambda: job.get_attribute("data-state") in SETTLED, "出品開始 to finish", 120)
        assert job.get_attribute("data-state") == "succeeded"
        page.close()
        press_sync(ext_browser, demo, token).close()  # brings the result to ReCORE
    else:
        assert notice.is_hidden() and page.locator("#btn-start").is_hidden()
        page.close()

    def listed_in_recore() -> bool:
        listings = get_json(f"http://127.0.0.1:{demo.recore_port}/_sandbox/state")["listings"]
        mine = next(x for x in listings if x["id"] == one)
        return mine["status_label"] == "出品中" and bool(mine["mall_product_code"])

    wait_for(listed_in_recore, "ReCORE to show the item as 出品中", 90)
