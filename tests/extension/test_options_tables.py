"""The options page's templates and tables against `recore-connector demo` (ReCORE answering in its
spec's form): shown in Japanese, a held listing (情報不足) listed with what is missing and released
by saving the grade table, a wrong template value refused next to its field, an unknown task type
shown with its raw type and data."""

from __future__ import annotations

from typing import Any

import pytest

from tests.extension.conftest import Demo, ExtensionBrowser
from tests.extension.helpers import post_json, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def open_tables(ext_browser: ExtensionBrowser) -> Any:
    page = ext_browser.open("options.html")
    page.wait_for_selector("body[data-tables-ready='true']", state="attached")
    page.wait_for_selector("#tables:not([hidden])")
    return page


def test_the_demos_tables_are_shown_in_japanese(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    page = open_tables(ext_browser)
    card = page.locator("[data-table='templates']")
    assert card.locator("h2").inner_text() == "出品テンプレート"
    prefecture = card.locator("#tpl-default [data-setting='prefecture']")
    assert prefecture.input_value() == "東京都"
    assert page.locator("#tpl-default label", has_text="商品発送元の都道府県").count() == 1
    named = card.locator(".tpl-named")
    assert named.count() == 1
    assert named.locator("[data-named='name']").input_value() == "腕時計（送料無料）"
    assert named.locator("[data-setting='shipping_payer']").input_value() == "出品者"
    assert (
        named.locator("[data-setting='duration_days'] option").first.inner_text()
        == "（標準のまま）"
    )
    grades = page.locator("#grade-rows tr")
    assert grades.count() == 7
    categories = page.locator("#category-rows tr")
    assert categories.count() > 10
    assert page.locator(
        "[data-table='order_statuses'] input[data-status='保留中']"
    ).input_value() == ("ORDERED")
    page.close()


def test_a_held_listing_is_listed_and_released_by_saving_the_grade_table(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    created = post_json(
        f"http://127.0.0.1:{demo.recore_port}/_sandbox/listings",
        {"items": [{"management_number": "HELD-1", "image_count": 1, "item": {"grade": "訳あり"}}]},
    )
    listing_id = created["listings"][0]["id"]

    def held() -> list[dict[str, Any]]:
        status, body = demo.request("GET", "/pending", token=token)
        assert status == 200, body
        return [x for x in body["held"] if x["id"] == listing_id]

    wait_for(held, "the companion to hold the new listing (its next poll of ReCORE)", 60)
    page = open_tables(ext_browser)
    item = page.locator(f"#held-list li[data-listing-id='{listing_id}']")
    assert "HELD-1" in item.inner_text()
    assert "「訳あり」がグレード対応表にありません" in item.inner_text()

    card = page.locator("[data-table='grades']")
    card.locator("#add-grade").click()
    row = card.locator("#grade-rows tr").last
    row.locator("[data-col='grade']").fill("訳あり")
    row.locator("[data-col='condition']").select_option("傷や汚れあり")
    card.locator("[data-save]").click()
    result = card.locator(".table-result[data-kind='ok']")
    result.wait_for()
    assert "出品待ちに戻った出品: 1件" in result.inner_text()
    page.locator(f"#held-list li[data-listing-id='{listing_id}']").wait_for(state="detached")
    status, grades = demo.request("GET", "/tables/grades", token=token)
    assert grades["table"]["訳あり"] == "傷や汚れあり"
    status, pending = demo.request("GET", "/pending", token=token)
    assert listing_id in {x["id"] for x in pending["items"]}
    page.close()


def test_a_wrong_template_value_is_refused_next_to_its_field(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    _, before = demo.request("GET", "/tables/templates", token=token)
    page = open_tables(ext_browser)
    card = page.locator("[data-table='templates']")
    card.locator("#tpl-default [data-setting='min_rating']").fill("abc")
    card.locator("[data-save]").click()
    card.locator(".table-result[data-kind='error']").wait_for()
    slot = card.locator("[data-table-error='templates:default.min_rating']")
    assert "最低評価" in slot.inner_text() and "整数" in slot.inner_text()
    _, after = demo.request("GET", "/tables/templates", token=token)
    assert after == before  # nothing stored
    page.close()


def test_an_unknown_task_type_is_shown_with_its_raw_type_and_data(
    ext_browser: ExtensionBrowser, demo: Demo, token: str
) -> None:
    post_json(
        f"http://127.0.0.1:{demo.recore_port}/_sandbox/tasks",
        {"type": "FUTURE_THING", "data": {"x": 1}},
    )

    def kept() -> bool:
        _, status = demo.request("GET", "/status", token=token)
        return any(t["type"] == "FUTURE_THING" for t in status["recore"]["unknown_tasks"])

    wait_for(kept, "the companion to keep the unknown task", 60)
    page = open_tables(ext_browser)
    shown = page.locator("#unknown-tasks li").filter(has_text="FUTURE_THING")
    assert '{"x":1}' in shown.locator(".task-data").inner_text()
    page.close()
