"""What staff see is true and complete: `recore-connector demo` with the extension in real
Chromium, the popup's buttons pressed as shop staff press them.

- 直接出品を実行 names the items the checks refuse, at the press and in the finished job;
- the refused-items list has a heading with the count, one entry per 管理番号 with all of its
  problems, sorted, in words without code points, ids or markup;
- a second download of a batch is saved under a name of its own (never 「… (1).zip」);
- the counts line's エラー N opens the list of items in error, most recent first;
- finished jobs move under 終わった処理; a sync shows what it did, not its step count;
- 出品中 and 入札中 count the shop's listings: items won before a sync leave 出品中.
Each test makes the ReCORE listings it needs through the sandbox's controls, in ReCORE's spec
form (title, one photo, price; the item's code, grade and condition note). The tests run in
order and share one demo; the sync test ends the auctions the direct listing test listed.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.extension.conftest import Demo, ExtensionBrowser
from tests.extension.helpers import (
    SETTLED,
    all_pending_items,
    get_json,
    pending_items,
    post_json,
    press_sync,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

JARGON = ("U+", "<br>", "cp932", "Shift_JIS", "ほかのID")


@pytest.fixture(scope="module")
def listed() -> dict[str, Any]:
    """What the direct listing test listed, for the sync test."""
    return {}


def assert_staff_words(text: str) -> None:
    for jargon in JARGON:
        assert jargon not in text, (jargon, text)
    assert not re.search(r"ID[:：]?\s*\d", text), text


def entry_numbers(locator: Any) -> list[str]:
    return locator.evaluate_all("(items) => items.map((item) => item.dataset.number)")


def new_listings(demo: Demo, token: str, *items: dict[str, Any]) -> list[int]:
    """New listings in the ReCORE sandbox (its control, as staff would in ReCORE), in the given
    order; returns their ids once the companion has taken every one of them in from its tasks."""
    created = post_json(f"http://127.0.0.1:{demo.recore_port}/_sandbox/listings", {"items": items})
    ids = [listing["id"] for listing in created["listings"]]

    def taken_in() -> bool:
        known = {item["id"] for item in pending_items(demo, token)}
        return known >= set(ids)

    wait_for(taken_in, "the companion to take in the new listings (its next poll of ReCORE)")
    return ids


def a_listing(number: str, **fields: Any) -> dict[str, Any]:
    """A listing ReCORE's spec form shows: its title, one small photo, price and quantity; its
    item's code is the 管理番号 and its grade and category are in the demo's tables."""
    return {"management_number": number, "image_count": 1, "image_kb": 8, **fields}


LONG_TITLE = "オリンパス OM-D E-M10 Mark IV " + "ダブルズームキット" * 8
EMOJI_TITLE = "ソニー ワイヤレスヘッドホン😀 WH-1000XM4"


def test_direct_listing_names_the_refused_items_at_the_press_and_when_done(
    ext_browser: ExtensionBrowser, demo: Demo, token: str, listed: dict[str, Any]
) -> None:
    # two that list and two the checks refuse, created out of 管理番号 order (DL-10 before DL-9)
    ok_1, ok_2, too_long, emoji = new_listings(
        demo,
        token,
        a_listing("DL-1"),
        a_listing("DL-2"),
        a_listing("DL-10", title=LONG_TITLE),
        a_listing("DL-9", title=EMOJI_TITLE),
    )
    mine = {ok_1, ok_2, too_long, emoji}
    # everything else goes into a list of its own: 新規の出品待ち is these four
    rest = [i["id"] for i in all_pending_items(demo, token) if i["id"] not in mine]
    status, _ = demo.request(
        "POST", "/batches", {"source": "pending", "listing_ids": rest}, token=token
    )
    assert status == 201
    assert {i["id"] for i in pending_items(demo, token)} == mine

    page = ext_browser.open("popup.html")
    page.select_option("#source", "pending")
    page.click("#btn-direct")
    result = page.locator("#action-result[data-kind='ok']")
    result.wait_for(timeout=90_000)
    # at the press: what goes ahead, and each refused item with its field and rule
    assert "（2件）" in result.inner_text() and "出品できない商品が2件" in result.inner_text()
    assert page.locator("#refused-title").inner_text() == "出品できなかった商品（2件）"
    entries = page.locator("#batch-errors > li")
    assert entry_numbers(entries) == ["DL-9", "DL-10"]  # sorted by 管理番号, 9 before 10
    first, second = entries.nth(0).inner_text(), entries.nth(1).inner_text()
    assert "管理番号 DL-9" in first and "タイトル" in first and "「😀」" in first, first
    assert "ReCOREでその文字を消すか" in first, first
    assert "管理番号 DL-10" in second and "タイトルが長すぎます" in second, second
    assert "ReCOREでタイトルを短くしてください" in second, second
    assert_staff_words(first + second)

    # the finished job moves under 終わった処理 and says what was listed and what was refused
    _, jobs = demo.request("GET", "/jobs?kind=direct_listing&limit=1", token=token)
    job_id = jobs["jobs"][0]["id"]
    job = page.locator(f"#done-jobs .job[data-job-id='{job_id}']")
    job.wait_for(timeout=120_000)
    assert job.get_attribute("data-state") == "partial"
    assert page.locator("#jobs-section").is_hidden()
    assert page.locator("#done-section h2").inner_text() == "終わった処理"
    summary = job.locator(".job-summary").inner_text()
    assert "出品 2件" in summary and "出品できない商品 2件" in summary, summary
    assert job.locator("h3").inner_text() == "出品できなかった商品（2件）"
    refused = job.locator(".item-problems > li")
    assert entry_numbers(refused) == ["DL-9", "DL-10"]
    assert "「😀」" in refused.nth(0).inner_text()
    assert "タイトルが長すぎます" in refused.nth(1).inner_text()
    assert_staff_words(job.inner_text())
    page.close()

    _, final = demo.request("GET", f"/jobs/{job_id}", token=token)
    listed["auctions"] = [
        i["data"]["auction_id"] for i in final["items"] if i["state"] == "succeeded"
    ]
    assert len(listed["auctions"]) == 2


def test_refused_list_is_one_entry_per_item_and_a_second_download_has_its_own_name(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    new_listings(
        demo,
        token,
        a_listing("ST-1"),
        # too long and a character Yahoo cannot take (in the title and so in the description)
        a_listing("ST-10", title="カメラ😀" + "あ" * 70),
        # a character Yahoo cannot take in ReCORE's condition note, and twelve photos
        a_listing(
            "ST-2", image_count=12, item={"condition_note": "ヘッドホン🎧付き\n動作確認済み"}
        ),
        a_listing("ST-3"),
        a_listing("ST-3"),
    )
    assert len(pending_items(demo, token)) == 5

    page = ext_browser.open("popup.html")
    page.select_option("#source", "pending")
    page.click("#btn-download")
    result = page.locator("#action-result[data-kind='ok']")
    result.wait_for(timeout=90_000)
    assert page.locator("#refused-title").inner_text() == "出品できなかった商品（3件）"
    entries = page.locator("#batch-errors > li")
    assert entry_numbers(entries) == ["ST-2", "ST-3", "ST-10"]
    problems = [entries.nth(n).locator("li").all_inner_texts() for n in range(3)]
    assert [len(p) for p in problems] == [2, 1, 3], problems  # ST-3 twice is one entry
    assert any("「🎧」" in p for p in problems[0]) and any("10枚" in p for p in problems[0])
    assert "同じ管理番号が2件" in problems[1][0]
    assert any("タイトルが長すぎます" in p for p in problems[2])
    assert any("「😀」" in p for p in problems[2])
    assert_staff_words(page.locator("#refused-section").inner_text())

    # the same list again from 生成済みリスト: a second file, under a name of its own
    first = {p.name for p in ext_browser.download_dir.glob("*.zip")}
    assert len(first) == 1
    _, batches = demo.request("GET", "/batches", token=token)
    batch = batches["batches"][0]
    assert first == {f"{batch['name']}.zip"}
    page.select_option("#source", "batch")
    page.select_option("#batch", str(batch["id"]))
    page.click("#btn-download")
    page.locator("#action-result[data-kind='ok']", has_text=batch["name"]).wait_for(timeout=120_000)
    names = {p.name for p in ext_browser.download_dir.glob("*.zip")}
    assert len(names) == 2, names
    (second,) = names - first
    assert second.startswith(batch["name"]) and second.isascii() and " " not in second
    assert "(" not in second
    assert second in page.locator("#action-result").inner_text()
    page.close()


def test_the_error_count_opens_the_items_in_error_newest_first(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    _, status = demo.request("GET", "/status", token=token)
    before = status["counts"]["errors"]
    # ER-2 (twice) is created before ER-1 but refused after it: newest first is ER-2, ER-1,
    # which is neither 管理番号 nor creation order
    er_2a, er_2b, er_1 = new_listings(
        demo, token, a_listing("ER-2"), a_listing("ER-2"), a_listing("ER-1", title=EMOJI_TITLE)
    )
    for ids in ([er_1], [er_2a, er_2b]):
        demo.request("POST", "/batches", {"source": "pending", "listing_ids": ids}, token=token)
    _, status = demo.request("GET", "/status", token=token)
    errors = status["counts"]["errors"]
    assert errors == before + 3  # three listings, two items

    page = ext_browser.open("popup.html")
    button = page.locator("#show-errors")
    assert button.inner_text() == f"エラー {errors}"
    assert page.locator("#listing-errors-section").is_hidden()
    button.click()
    section = page.locator("#listing-errors-section")
    section.wait_for()
    entries = page.locator("#listing-errors > li")
    shown = entry_numbers(entries)
    # one entry per 管理番号 (ER-2 is two listings), newest first
    assert shown[:2] == ["ER-2", "ER-1"], shown
    assert len(shown) == len(set(shown)), shown
    _, listing_errors = demo.request("GET", "/errors", token=token)
    assert shown == [item["management_number"] for item in listing_errors["items"]]
    title = page.locator("#listing-errors-title").inner_text()
    assert title == f"エラーの商品（{len(shown)}件・新しい順）"
    times = entries.locator("time").all_inner_texts()
    assert len(times) == len(shown) and all(times)
    top, next_ = entries.nth(0).inner_text(), entries.nth(1).inner_text()
    assert "管理番号 ER-2" in top and "同じ管理番号が2件" in top and "ReCOREで" in top, top
    assert "管理番号 ER-1" in next_ and "「😀」" in next_, next_
    assert_staff_words(section.inner_text())
    page.click("#hide-errors")
    assert section.is_hidden()
    page.close()


def test_a_finished_sync_says_what_it_did_and_the_counts_are_the_shops(
    ext_browser: ExtensionBrowser, demo: Demo, token: str, listed: dict[str, Any]
) -> None:
    # the two items listed directly (the first test) are won before any sync saw them; one
    # buyer pays at once
    assert len(listed.get("auctions", [])) == 2, "needs the direct listing test before it"
    yahoo = f"http://127.0.0.1:{demo.yahoo_port}"
    for n, auction_id in enumerate(listed["auctions"]):
        post_json(f"{yahoo}/_sandbox/bid", {"auction_id": auction_id})
        ended = post_json(f"{yahoo}/_sandbox/end", {"auction_id": auction_id})
        if n == 0:
            post_json(
                f"{yahoo}/_sandbox/orders/{ended['order']['order_id']}/status",
                {"store_status": "入金済み"},
            )
    store = get_json(f"{yahoo}/_sandbox/state")["listings"]
    assert any(i["status"] == "selling" and i["bids"] > 0 for i in store)  # not the shop's

    page = press_sync(ext_browser, demo, token)
    _, jobs = demo.request("GET", "/jobs?kind=sync&limit=1", token=token)
    job = page.locator(f"#done-jobs .job[data-job-id='{jobs['jobs'][0]['id']}']")
    job.wait_for()
    assert job.get_attribute("data-state") in SETTLED
    assert page.locator("#jobs-section").is_hidden()
    # what it did, not "10 / 10件" of internal steps
    assert job.locator(".count").count() == 0
    summary = job.locator(".job-summary").inner_text()
    assert re.search(r"注文 \d+件を確認", summary) and "ReCOREへ送信" in summary, summary
    assert "出品終了 2件" in summary, summary
    counts = wait_for(
        lambda: (text := page.locator("#counts-text").inner_text()) and "出品中 0" in text and text,
        "出品中 to drop the two won items",
    )
    assert "入札中 0" in counts, counts
    page.close()
