"""Real Chromium against the sandbox on 127.0.0.1: the documented login selectors, the
framework-controlled description box (only input events count), the form flow and the upload link."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page

from sandbox.yahoo.app import create_app
from tests.sandbox_yahoo.helpers import ACCOUNT, csv_bytes, good_row

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> TestServer:
    return await aiohttp_server(create_app(), host="127.0.0.1")


async def login(page: Page, base: str) -> None:
    await page.goto(base + "/pro.recore-demo")
    assert "/config/login" in page.url
    await page.fill("#login_handle", ACCOUNT["yahoo_id"])
    await page.get_by_role("button", name="次へ").click()
    await page.fill("#password", ACCOUNT["password"])
    await page.get_by_role("button", name="ログイン").click()
    await page.fill("#business_id", ACCOUNT["business_id"])
    await page.fill("#business_password", ACCOUNT["business_password"])
    await page.get_by_role("button", name="ログイン").click()
    await page.wait_for_url(re.compile(r"/pro\.recore-demo$"))


async def fill_required(page: Page, mn: str) -> None:
    await page.fill("[name=businessCommodityIdInputText]", mn)
    await page.fill("[name=titleInputText]", "ブラウザから出品")
    await page.fill("[name=categoryIdInputText]", "23828")
    await page.fill("[name=startPriceInputText]", "2000")
    await page.get_by_role("radio", name="目立った傷や汚れなし").check()
    await page.select_option("[name=prefectureCodeSelect]", "13")
    await page.get_by_role("radio", name="落札者").check()
    await page.get_by_role("checkbox", name="自動延長する").check()


async def confirm_values(page: Page) -> dict[str, Any]:
    rows = await page.locator("#confirmTable tr").all()
    out = {}
    for row in rows:
        out[await row.locator("th").inner_text()] = await row.locator("td").inner_text()
    return out


async def test_description_keeps_only_input_event_values(page: Page, server: TestServer) -> None:
    base = str(server.make_url("")).rstrip("/")
    await login(page, base)
    await page.goto(base + "/serinavi/items/create?action=create&folder_id=1")
    await fill_required(page, "BR-0001")
    box = page.locator("textarea[name=Description_plain]")

    # 1. a plain .value= without an event is lost: the server sees the old (empty) state
    await box.evaluate("el => { el.value = '黙って入れた説明'; }")
    await page.get_by_role("button", name="確認する").click()
    await page.wait_for_load_state()
    assert await page.locator("[data-error-for=Description_plain]").inner_text() == "説明は必須です"
    assert await box.input_value() == ""

    # 2. the native value setter plus an input event is kept
    await box.evaluate(
        """el => {
            const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set;
            setter.call(el, 'イベントで入れた説明');
            el.dispatchEvent(new Event('input', {bubbles: true}));
        }"""
    )
    await page.get_by_role("button", name="確認する").click()
    await page.wait_for_url(re.compile(r"/serinavi/items/create"))
    assert await page.locator("h1").inner_text() == "出品内容の確認"
    values = await confirm_values(page)
    assert values["説明"] == "イベントで入れた説明"
    assert values["自動延長"] == "はい"

    # 3. back to the form: a silent .value= is lost again, the earlier state wins
    await page.get_by_role("button", name="修正する").click()
    await box.evaluate("el => { el.value = '上書きしたつもり'; }")
    await page.get_by_role("button", name="確認する").click()
    assert (await confirm_values(page))["説明"] == "イベントで入れた説明"

    # 4. fill() types through input events: kept
    await page.get_by_role("button", name="修正する").click()
    await box.fill("fillで入れた説明")
    await page.get_by_role("button", name="確認する").click()
    assert (await confirm_values(page))["説明"] == "fillで入れた説明"

    await page.get_by_role("button", name="出品する").click()
    await page.wait_for_url(re.compile(r"/serinavi/items/complete"))
    assert await page.locator("h1").inner_text() == "出品が完了しました"
    auction_id = await page.locator("#completeInfo a").inner_text()
    assert re.fullmatch(r"x\d{10}", auction_id)


async def test_upload_through_the_link(page: Page, server: TestServer, tmp_path: Path) -> None:
    base = str(server.make_url("")).rstrip("/")
    await login(page, base)
    await page.goto(base + "/serinavi/upload")
    csv_file = tmp_path / "yahoo_upload_20261122_0001.csv"
    csv_file.write_bytes(csv_bytes([good_row("BRUP-1"), good_row("BRUP-2", 期間="9")]))
    await page.set_input_files("#uploadFile", str(csv_file))
    await page.get_by_role("link", name="決定する").click()
    await page.wait_for_selector("#uploadResult")
    assert "受け付け" in await page.locator("#uploadResult p").first.inner_text()
    assert "期間は1〜7日" in await page.locator("#uploadErrors").inner_text()
