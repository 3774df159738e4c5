"""World next in real Chromium: the bridge login (password revealed without a navigation), lists
built by script from JSON, the upload by a real click with its confirm dialog, 出品開始 from the
item list, and the create form that lists at once."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from sandbox.yahoo.app import WORLD, create_app
from tests.sandbox_yahoo.helpers import ACCOUNT, csv_bytes, good_row

pytestmark = pytest.mark.browser

ROW = "ul:has(input[name=itemCheckbox][value]):has(p:text-matches('^管理番号 '))"


@pytest.fixture
async def server(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> TestServer:
    return await aiohttp_server(create_app(world="next"), host="127.0.0.1")


def base_of(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def login_next(page: Page, base: str, path: str = "/pro.recore-demo") -> None:
    """Through the chooser, the ID page (「次へ」 reveals the password), the business step."""
    await page.goto(base + path)
    assert "/yidlogin" in page.url
    await page.get_by_role("link", name="Yahoo! JAPAN IDでログイン").click()
    await page.fill("#username", ACCOUNT["yahoo_id"])
    await page.get_by_role("button", name="次へ").click()
    await page.fill("#password", ACCOUNT["password"])
    await page.get_by_role("button", name="ログイン").click()
    await page.get_by_label("ビジネスID").fill(ACCOUNT["business_id"])
    await page.get_by_label("パスワード").fill(ACCOUNT["business_password"])
    await page.get_by_role("button", name="ログイン").click()
    await page.wait_for_url(base + path)


async def rendered(page: Page) -> None:
    """A list page is ready when its loader is gone."""
    await page.wait_for_selector("#js-loadingWrapper", state="detached")


async def test_password_appears_on_the_same_page(page: Page, server: TestServer) -> None:
    base = base_of(server)
    await page.goto(base + "/serinavi/sold-list?page=1")
    await page.get_by_role("link", name="Yahoo! JAPAN IDでログイン").click()
    id_page = page.url
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    await expect(page.locator("#password")).to_be_hidden()
    # an unknown ID: said on the page, the password stays hidden
    await page.fill("#username", "nobody")
    await page.get_by_role("button", name="次へ").click()
    await expect(page.locator("#errMsg")).to_have_text(
        "このIDは登録されていません。入力内容をご確認ください。"
    )
    await expect(page.locator("#password")).to_be_hidden()
    await page.fill("#username", ACCOUNT["yahoo_id"])
    await page.press("#username", "Enter")  # Enter means 「次へ」 here
    await expect(page.locator("#password")).to_be_visible()
    await expect(page.locator("#errMsg")).to_be_hidden()
    assert navigations == [] and page.url == id_page
    # a wrong password comes back with the error and the password ready
    await page.fill("#password", "wrong")
    await page.get_by_role("button", name="ログイン").click()
    await expect(page.locator("#errMsg")).to_have_text("パスワードが間違っています。")
    await page.fill("#password", ACCOUNT["password"])
    await page.get_by_role("button", name="ログイン").click()
    await page.get_by_label("ビジネスID").fill(ACCOUNT["business_id"])
    await page.get_by_label("パスワード").fill(ACCOUNT["business_password"])
    await page.get_by_role("button", name="ログイン").click()
    await page.wait_for_url(re.compile(r"/serinavi/sold-list\?page=1$"))
    await rendered(page)
    await expect(page.locator(ROW)).to_have_count(10)


async def test_lists_render_from_json(page: Page, server: TestServer) -> None:
    base = base_of(server)
    server.app[WORLD].bulk(40, 0)  # 70 running auctions: two pages of 出品中
    await login_next(page, base, "/serinavi")
    await page.get_by_role("main").get_by_role("link", name="出品中").click()
    await expect(page.locator("#js-loadingWrapper")).to_have_text("読み込み中")
    await rendered(page)
    rows = page.locator(ROW)
    await expect(rows).to_have_count(50)
    await expect(page.get_by_text("1〜50件（全70件）を表示しています").first).to_be_visible()
    first = rows.first
    await expect(first.locator("li").nth(2)).to_have_text(re.compile(r"^[\d,]+円$"))
    await expect(first.get_by_role("link", name=re.compile(r"^x\d{10}$"))).to_be_visible()
    assert await page.locator("th").count() == 0
    # the pager's own checkbox has no 管理番号: select-all ticks every row
    await page.get_by_role("checkbox", name="すべて選択").first.check()
    await expect(page.locator("ul input[name=itemCheckbox][value]:checked")).to_have_count(50)
    await page.get_by_role("link", name="次").first.click()
    await page.wait_for_url(re.compile(r"page=2"))
    await rendered(page)
    await expect(page.locator(ROW)).to_have_count(20)
    await expect(page.get_by_role("link", name="次")).to_have_count(0)
    # the item list's search through the page URL's query
    await page.goto(base + "/serinavi/items?folder_id=&sort=-update_date&page=1&keyword=DEMO-0012")
    await rendered(page)
    await expect(page.locator(ROW)).to_have_count(1)
    await expect(page.locator(ROW).get_by_text("管理番号 DEMO-0012")).to_be_visible()
    edit = page.locator(ROW).get_by_role("link", name="編集")
    assert "&action=edit" in (await edit.get_attribute("href") or "")
    # the sort select loads the page again with sortCondition
    await page.goto(base + "/serinavi/sold-list?page=1")
    await rendered(page)
    await page.select_option("select[name=sortCondition]", "end_time")
    await page.wait_for_url(re.compile(r"sortCondition=end_time"))
    await rendered(page)
    await expect(page.locator(ROW)).to_have_count(10)


async def test_upload_by_click_then_start(page: Page, server: TestServer, tmp_path: Path) -> None:
    base = base_of(server)
    world = server.app[WORLD]
    await login_next(page, base, "/serinavi/upload")
    link = page.get_by_role("link", name="決定する")
    await expect(link).to_have_attribute("aria-disabled", "true")
    csv_file = tmp_path / "yahoo_upload_20261122_0001.csv"
    rows = [good_row("UP-1", 商品保存先フォルダパス="新NEW上池袋在庫"), good_row("UP-2", 期間="9"),
            good_row("UP-3", 商品保存先フォルダパス="新NEW上池袋在庫")]  # fmt: skip
    csv_file.write_bytes(csv_bytes(rows))
    await page.set_input_files("input[name=uploadFile]", str(csv_file))
    await expect(link).not_to_have_attribute("aria-disabled", "true")
    # a click made by script is refused, and nothing is sent
    await link.evaluate("el => el.click()")
    await expect(page.locator("#uploadResult")).to_have_text(re.compile("通信エラー"))
    assert not any(i.management_number.startswith("UP-") for i in world.items.values())
    # dismissing the confirm sends nothing either
    dialogs: list[str] = []

    async def answer(dialog) -> None:  # type: ignore[no-untyped-def]
        dialogs.append(dialog.message)
        await (dialog.dismiss() if len(dialogs) == 1 else dialog.accept())

    page.on("dialog", answer)
    await link.click()
    assert dialogs == ["アップロードしますか？"]
    assert not any(i.management_number.startswith("UP-") for i in world.items.values())
    await link.click()
    result = page.locator("#uploadResult")
    await expect(result.locator("p").first).to_have_text(
        "ファイルを受け付けました。2件の商品を登録しました。1行はエラーのため登録されませんでした。"
    )
    assert dialogs == ["アップロードしますか？"] * 2
    await expect(page.locator("#uploadErrors")).to_contain_text("期間は1〜7日")
    await expect(page.locator("#uploadAccepted")).to_contain_text("新NEW上池袋在庫")
    registered = [i for i in world.items.values() if i.management_number.startswith("UP-")]
    assert [(i.management_number, i.status, i.auction_id) for i in registered] == [
        ("UP-1", "registered", ""), ("UP-3", "registered", "")
    ]  # fmt: skip
    # the folder's list: 未出品, no auction id; tick both and 出品開始
    await page.goto(base + "/serinavi")
    await page.get_by_role("main").get_by_role("link", name="新NEW上池袋在庫").click()
    await rendered(page)
    rows = page.locator(ROW)
    await expect(rows).to_have_count(2)
    await expect(rows.get_by_text("未出品", exact=True)).to_have_count(2)
    await page.get_by_role("button", name="出品開始").click()
    await expect(page.get_by_role("alert")).to_have_text("出品開始する商品を選択してください。")
    await page.get_by_role("checkbox", name="UP-1").check()
    await page.get_by_role("checkbox", name="UP-3").check()
    await page.get_by_role("button", name="出品開始").click()
    await expect(page.get_by_role("status")).to_have_text("2件の出品を開始しました。")
    await rendered(page)
    await expect(rows.get_by_text("出品中", exact=True)).to_have_count(2)
    ids = sorted(i.auction_id for i in registered)
    assert all(re.fullmatch(r"x\d{10}", a) for a in ids)
    for auction_id in ids:
        await expect(rows.get_by_text(auction_id, exact=True)).to_be_visible()


async def test_create_form_lists_at_once(page: Page, server: TestServer) -> None:
    base = base_of(server)
    await login_next(page, base, "/serinavi/items/create?action=create&folder_id=1")
    await page.fill("[name=businessCommodityIdInputText]", "NB-0001")
    await page.fill("[name=titleInputText]", "ブラウザから次の世界へ")
    await page.fill("[name=categoryIdInputText]", "23828")
    await page.fill("[name=Description_plain]", "一行目\n二行目")
    await page.fill("[name=startPriceInputText]", "2500")
    await page.get_by_label("目立った傷や汚れなし").check()
    await page.get_by_label("非課税").check()
    await page.select_option("[name=prefectureCodeSelect]", "13")
    await page.get_by_label("落札者").check()
    await page.get_by_label("自動延長する").check()
    await page.get_by_role("button", name="この内容で出品する").click()
    await page.wait_for_url(re.compile(r"/serinavi/items\?.*notice=listed"))
    await rendered(page)
    await expect(page.get_by_role("status")).to_have_text("出品しました")
    first = page.locator(ROW).first
    await expect(first.get_by_text("管理番号 NB-0001")).to_be_visible()
    item = next(i for i in server.app[WORLD].items.values() if i.management_number == "NB-0001")
    assert re.fullmatch(r"x\d{10}", item.auction_id) and item.auction_id not in page.url
    await expect(first.get_by_text(item.auction_id, exact=True)).to_be_visible()
    assert item.v("消費税設定") == "0" and item.v("自動延長") == "はい"
