"""What the end-to-end popup tests do over and over: wait, read the demo's sandboxes and the
companion, press 同期開始 in a popup."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from tests.extension.conftest import Demo, ExtensionBrowser

SETTLED = {"succeeded", "partial", "failed"}


def wait_for(predicate: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (loopback)
        return json.loads(resp.read())


def post_json(url: str, body: Any) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 (loopback)
        assert resp.status < 300
        return json.loads(resp.read() or b"null")


def pending_items(demo: Demo, token: str) -> list[dict[str, Any]]:
    status, body = demo.request("GET", "/pending", token=token)
    assert status == 200, body
    return body["items"]


def all_pending_items(demo: Demo, token: str) -> list[dict[str, Any]]:
    """The pending listings, once the companion has taken in every listing task of the sandbox."""
    tasks = get_json(f"http://127.0.0.1:{demo.recore_port}/_sandbox/state")["tasks"]
    expected = sum(
        1 for t in tasks if t["type"] == "CREATE_INVENTORY" and t.get("outcome") != "failed"
    )

    def known() -> list[dict[str, Any]] | None:
        items = pending_items(demo, token)
        _, batches = demo.request("GET", "/batches", token=token)
        ids = {item["id"] for item in items}
        for batch in batches["batches"]:
            ids |= {item["id"] for item in batch["items"]}
            # errors name the listing by listing_id (docs/api.md) or by its ec_inventory_id
            ids |= {e.get("listing_id", e.get("ec_inventory_id")) for e in batch["errors"]}
        return items if len(ids) >= expected else None

    return wait_for(known, f"the companion to take in {expected} listings from ReCORE")


def press_sync(ext_browser: ExtensionBrowser, demo: Demo, token: str) -> Any:
    """Press 同期開始 in a fresh popup and wait for that sync to finish; the popup stays open."""
    page = ext_browser.open("popup.html")
    page.click("#btn-sync")
    page.locator("#action-result[data-kind='ok']").wait_for()
    _, jobs = demo.request("GET", "/jobs?kind=sync&limit=1", token=token)
    job = page.locator(f".job[data-job-id='{jobs['jobs'][0]['id']}']")
    wait_for(lambda: job.get_attribute("data-state") in SETTLED, "the sync to finish", 120)
    return page
