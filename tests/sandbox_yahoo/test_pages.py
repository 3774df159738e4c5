"""List pages (50/100 rows, 「次」 boundaries), the item form (validation, confirm, completion,
edit, early end), the layout_changed switch and 注文管理."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from tests.sandbox_yahoo.helpers import image_bytes, link_texts, state, table_headers, table_rows

STORE = "/pro.recore-demo"


async def page(client: TestClient, path: str) -> HTMLParser:
    r = await client.get(path, allow_redirects=False)
    assert r.status == 200, (path, r.status)
    return HTMLParser(await r.text())


# --- lists ---------------------------------------------------------------------------------------
async def test_items_pages_of_50(store: TestClient) -> None:
    await store.post(
        "/_sandbox/bulk", json={"selling": 60}
    )  # 40 seeded + 60 = 100 = two full pages
    base = "/serinavi/items?folder_id=1&sort=-update_date&page="
    p1 = await page(store, base + "1")
    assert len(p1.css("input[name=itemCheckbox]")) == 50
    assert "次" in link_texts(p1) and "前" not in link_texts(p1)
    assert table_headers(p1, "#itemList") == [
        "選択", "管理番号・タイトル", "開始価格", "現在価格", "状態", "オークションID", "更新日時"
    ]  # fmt: skip
    first = p1.css_first("#itemList tbody tr")
    assert re.fullmatch(r"管理番号 [\w-]+", first.css_first(".sc-mn").text())
    box = first.css_first("input[name=itemCheckbox]")
    assert box.attributes["value"] == first.attributes["data-item-id"]
    p2 = await page(store, base + "2")
    assert len(p2.css("input[name=itemCheckbox]")) == 50
    assert "次" not in link_texts(p2) and "前" in link_texts(p2)  # exactly 100: no 3rd page
    ids1 = {i.attributes["value"] for i in p1.css("input[name=itemCheckbox]")}
    ids2 = {i.attributes["value"] for i in p2.css("input[name=itemCheckbox]")}
    assert not ids1 & ids2 and len(ids1 | ids2) == 100
    p3 = await page(store, base + "3")
    assert p3.css_first("#noItems") is not None
    # newest first: the bulk items (created last) lead
    assert "BULK-" in first.text()


async def test_items_keyword_search(store: TestClient) -> None:
    doc = await page(store, "/serinavi/items?folder_id=&sort=-update_date&page=1&keyword=DEMO-0012")
    rows = table_rows(doc, "#itemList")
    assert len(rows) == 1 and "管理番号 DEMO-0012" in rows[0][1]


async def test_sold_list_pages_of_100(store: TestClient) -> None:
    await store.post("/_sandbox/bulk", json={"orders": 190})  # 10 seeded + 190 = 200 sold
    p1 = await page(store, "/serinavi/sold-list?page=1")
    rows = table_rows(p1, "#soldList")
    assert len(rows) == 100 and "次" in link_texts(p1)
    assert table_headers(p1, "#soldList") == [
        "管理番号", "タイトル", "落札価格", "落札日時", "オークションID", "落札者"
    ]  # fmt: skip
    assert re.fullmatch(r"[\d,]+円", rows[0][2])
    assert re.fullmatch(r"x\d{10}", rows[0][4])
    p2 = await page(store, "/serinavi/sold-list?page=2")
    assert len(table_rows(p2, "#soldList")) == 100 and "次" not in link_texts(p2)
    await store.post("/_sandbox/bulk", json={"orders": 1})
    p2 = await page(store, "/serinavi/sold-list?page=2")
    assert "次" in link_texts(p2)
    p3 = await page(store, "/serinavi/sold-list?page=3")
    assert len(table_rows(p3, "#soldList")) == 1 and "次" not in link_texts(p3)


async def test_selling_list(store: TestClient) -> None:
    await store.post("/_sandbox/bulk", json={"selling": 21})  # 30 + 21 = 51
    p1 = await page(store, "/serinavi/selling?page=1")
    assert table_headers(p1, "#sellingList") == [
        "オークションID", "管理番号", "タイトル", "現在価格", "入札", "ウォッチ", "終了日時"
    ]  # fmt: skip
    assert len(table_rows(p1, "#sellingList")) == 50 and "次" in link_texts(p1)
    p2 = await page(store, "/serinavi/selling?page=2")
    assert len(table_rows(p2, "#sellingList")) == 1 and "次" not in link_texts(p2)


async def test_volume_5000_and_5000(store: TestClient) -> None:
    r = await store.post("/_sandbox/bulk", json={"selling": 5000, "orders": 5000})
    assert r.status == 200
    p = await page(store, "/serinavi/selling?page=100")
    assert len(table_rows(p, "#sellingList")) == 50
    p = await page(store, f"{STORE}/order/manage/index?page=100")
    assert len(table_rows(p, "#orderList")) == 50
    p = await page(store, "/serinavi/sold-list?page=51")
    assert len(table_rows(p, "#soldList")) == 10  # 5010 sold


# --- item form -----------------------------------------------------------------------------------
def form_data(**over: str) -> dict[str, str]:
    data = {
        "businessCommodityIdInputText": "FORM-0001",
        "titleInputText": "フォームから出品 テスト",
        "categoryIdInputText": "23828",
        "Description_plain": "一行目\n二行目",
        "storeKeywordInputText": "テスト",
        "istatus": "used20",
        "startPriceInputText": "3000",
        "bidOrBuyPriceInputText": "0",
        "quantityInputText": "1",
        "durationSelect": "3",
        "endTimeSelect": "21",
        "numResubmitSelect": "0",
        "changePriceRatioResubmitSelect": "0",
        "prefectureCodeSelect": "13",
        "cityNameInputText": "豊島区",
        "chargeForShippingRadio": "buyer",
        "deliveryGroupSelect": "1",
        "leadTimeSelect": "1",
        "taxRateSelect": "10",
        "c7f3a91": "1",
    }
    data.update(over)
    return data


CREATE = "/serinavi/items/create?action=create&folder_id=1"


async def test_form_fields_present(store: TestClient) -> None:
    doc = await page(store, CREATE)
    for name in form_data():
        assert doc.css_first(f"[name='{name}']") is not None, name
    assert doc.css_first("textarea[name=Description_plain]") is not None
    assert [i.attributes["value"] for i in doc.css("input[name=istatus]")] == [
        "new", "used10", "used20", "used40", "used60", "used80"
    ]  # fmt: skip
    assert len(doc.css("input[type=file][name^=imageFile]")) == 10
    buttons = doc.css("#itemForm button")
    assert [b.text(strip=True) for b in buttons] == ["確認する"]
    assert all("id" not in b.attributes and "name" in b.attributes for b in buttons)


async def test_form_create_confirm_complete(store: TestClient) -> None:
    import aiohttp

    form = aiohttp.FormData()
    for k, v in form_data().items():
        form.add_field(k, v)
    form.add_field("imageFile1", image_bytes(), filename="front.jpg", content_type="image/jpeg")
    r = await store.post(CREATE, data=form)
    doc = HTMLParser(await r.text())
    assert doc.css_first("h1").text() == "出品内容の確認"
    confirm = dict(
        zip(
            [th.text() for th in doc.css("#confirmTable th")],
            [td.text() for td in doc.css("#confirmTable td")],
            strict=True,
        )
    )
    assert confirm["タイトル"] == "フォームから出品 テスト"
    assert confirm["説明"] == "一行目<br>二行目"
    assert confirm["商品の状態"] == "目立った傷や汚れなし"
    assert confirm["商品発送元の都道府県"] == "東京都" and confirm["送料負担"] == "落札者"
    assert confirm["自動延長"] == "はい" and confirm["税込みフラグ"] == "いいえ"
    assert confirm["画像"] == "front.jpg"
    draft = doc.css_first("input[name=draft_id]").attributes["value"]
    r = await store.post(CREATE, data={"draft_id": draft, "_step": "confirm"})
    assert r.url.path == "/serinavi/items/complete"
    doc = HTMLParser(await r.text())
    assert doc.css_first("h1").text() == "出品が完了しました"
    auction_id = doc.css_first("#completeInfo a").text()
    assert re.fullmatch(r"x\d{10}", auction_id)
    s = await state(store)
    item = next(i for i in s["listings"] if i["auction_id"] == auction_id)
    assert item["management_number"] == "FORM-0001" and item["image_count"] == 1
    # pressing 出品する again lists nothing
    r = await store.post(CREATE, data={"draft_id": draft, "_step": "confirm"})
    assert r.status == 400 and "有効期限" in await r.text()
    assert (await state(store, brief=True))["listing_counts"]["FORM-0001"] == 1


async def test_form_back_keeps_values(store: TestClient) -> None:
    r = await store.post(CREATE, data=form_data())
    draft = HTMLParser(await r.text()).css_first("input[name=draft_id]").attributes["value"]
    r = await store.post(CREATE, data={"draft_id": draft, "_step": "back"})
    doc = HTMLParser(await r.text())
    assert (
        doc.css_first("input[name=titleInputText]").attributes["value"] == "フォームから出品 テスト"
    )
    assert doc.css_first("textarea[name=Description_plain]").text() == "一行目\n二行目"


@pytest.mark.parametrize(
    ("over", "field", "words"),
    [
        ({"titleInputText": "長" * 66}, "titleInputText", "65文字を超えています"),
        ({"titleInputText": "絵文字😀"}, "titleInputText", "使用できない文字"),
        ({"startPriceInputText": "abc"}, "startPriceInputText", "1円以上"),
        ({"bidOrBuyPriceInputText": "100"}, "bidOrBuyPriceInputText", "開始価格（3,000円）以上"),
        ({"Description_plain": ""}, "Description_plain", "説明は必須です"),
        ({"istatus": ""}, "istatus", "商品の状態は必須です"),
        ({"prefectureCodeSelect": ""}, "prefectureCodeSelect", "必須です"),
        ({"categoryIdInputText": "x"}, "categoryIdInputText", "カテゴリID"),
    ],
)
async def test_form_server_validation(
    store: TestClient, over: dict[str, str], field: str, words: str
) -> None:
    r = await store.post(CREATE, data=form_data(**over))
    doc = HTMLParser(await r.text())
    assert doc.css_first("#formErrors") is not None
    msgs = [p.text() for p in doc.css(f"[data-error-for='{field}']")]
    assert any(words in m for m in msgs), msgs
    assert "FORM-0001" not in (await state(store, brief=True))["listing_counts"]


async def test_form_rejects_broken_image(store: TestClient) -> None:
    import aiohttp

    form = aiohttp.FormData()
    for k, v in form_data().items():
        form.add_field(k, v)
    form.add_field("imageFile2", b"not an image", filename="x.jpg", content_type="image/jpeg")
    doc = HTMLParser(await (await store.post(CREATE, data=form)).text())
    assert "壊れているか" in doc.css_first("[data-error-for=imageFile2]").text()


async def test_layout_changed(store: TestClient) -> None:
    await store.post("/_sandbox/faults", json={"layout_changed": True})
    doc = await page(store, CREATE)
    assert doc.css_first("[name=titleInputText]") is None
    assert doc.css_first("[name=productTitleInputText]") is not None
    buttons = [b.text(strip=True) for b in doc.css("#itemForm button")]
    assert buttons == ["入力内容を確認する"]
    # the button now comes before the first field
    html = doc.html
    assert html.index("入力内容を確認する") < html.index("businessCommodityIdInputText")
    # the old field name is no longer read: the title is missing
    r = await store.post(CREATE, data=form_data())
    doc = HTMLParser(await r.text())
    assert "タイトルは必須です" in doc.css_first("[data-error-for=titleInputText]").text()
    data = form_data()
    data["productTitleInputText"] = data.pop("titleInputText")
    doc = HTMLParser(await (await store.post(CREATE, data=data)).text())
    assert doc.css_first("h1").text() == "出品内容の確認"
    items = await page(store, "/serinavi/items?folder_id=1&sort=-update_date&page=1")
    assert not items.css("input[name=itemCheckbox]") and items.css("input[name=itemSelectCheckbox]")
    await store.post("/_sandbox/faults", json={"reset": True})
    assert (await page(store, CREATE)).css_first("[name=titleInputText]") is not None


async def edit_url(store: TestClient, mn: str) -> tuple[str, dict]:
    s = await state(store)
    item = next(i for i in s["listings"] if i["management_number"] == mn)
    fid = item["folder_id"]
    return (
        f"/serinavi/items/create?folder_id={fid}&item_folder_id={fid}&item_id={item['item_id']}&action=edit",
        item,
    )


async def test_edit_saved_to_folder(store: TestClient) -> None:
    url, item = await edit_url(store, "DEMO-0011")  # running, no bids
    doc = await page(store, url)
    assert [b.text(strip=True) for b in doc.css("#itemForm button")] == ["フォルダに保存する"]
    data = {
        el.attributes["name"]: el.attributes.get("value") or ""
        for el in doc.css("#itemForm input[type=text]")
    }
    data |= {
        "Description_plain": doc.css_first("textarea").text(),
        "istatus": "new",
        "chargeForShippingRadio": "seller",
        "prefectureCodeSelect": "27",
        "durationSelect": "7",
        "endTimeSelect": "22",
        "numResubmitSelect": "0",
        "changePriceRatioResubmitSelect": "0",
        "deliveryGroupSelect": "2",
        "leadTimeSelect": "2",
        "taxRateSelect": "10",
    }
    data["titleInputText"] = "編集後のタイトル"
    r = await store.post(url, data=data)
    assert r.url.query.get("saved") == "1"
    assert "フォルダに保存しました" in await r.text()
    s = await state(store)
    after = next(i for i in s["listings"] if i["item_id"] == item["item_id"])
    assert after["title"] == "編集後のタイトル" and after["auction_id"] == item["auction_id"]


async def test_end_early_only_without_bids(store: TestClient) -> None:
    _, no_bids = await edit_url(store, "DEMO-0011")
    _, with_bids = await edit_url(store, "DEMO-0012")  # every 4th seeded auction has a bid
    assert no_bids["bids"] == 0 and with_bids["bids"] == 1
    r = await store.post("/serinavi/items/end", data={"item_id": str(with_bids["item_id"])})
    assert r.status == 409 and "入札があるため、オークションを早期終了できません" in await r.text()
    r = await store.post("/serinavi/items/end", data={"item_id": str(no_bids["item_id"])})
    assert r.status == 200 and "オークションを終了しました" in await r.text()
    s = await state(store)
    statuses = {i["item_id"]: i["status"] for i in s["listings"]}
    assert statuses[no_bids["item_id"]] == "ended" and statuses[with_bids["item_id"]] == "selling"


# --- orders --------------------------------------------------------------------------------------
async def test_orders_list_and_search(store: TestClient) -> None:
    doc = await page(store, f"{STORE}/order/manage/index")
    assert table_headers(doc, "#orderList") == [
        "注文ID", "注文日時", "注文ステータス", "入金ステータス", "出荷ステータス", "ストアステータス",
        "オークションID", "管理番号", "氏名", "合計金額", "お支払い方法", "更新日時",
    ]  # fmt: skip
    rows = table_rows(doc, "#orderList")
    assert len(rows) == 10
    doc = await page(store, f"{STORE}/order/manage/index?StoreStatus=入金済み")
    assert {r[5] for r in table_rows(doc, "#orderList")} == {"入金済み"}
    assert len(table_rows(doc, "#orderList")) == 3
    doc = await page(store, f"{STORE}/order/manage/index?OrderStatus=4")
    assert [r[2] for r in table_rows(doc, "#orderList")] == ["キャンセル"]
    oid = rows[3][0]
    doc = await page(store, f"{STORE}/order/manage/index?OrderId={oid}")
    assert [r[0] for r in table_rows(doc, "#orderList")] == [oid]
    doc = await page(store, f"{STORE}/order/manage/index?AuctionId={rows[3][6]}")
    assert [r[0] for r in table_rows(doc, "#orderList")] == [oid]


async def test_orders_pagination(store: TestClient) -> None:
    await store.post("/_sandbox/bulk", json={"orders": 40})  # 50
    doc = await page(store, f"{STORE}/order/manage/index?page=1")
    assert len(table_rows(doc, "#orderList")) == 50 and "次へ" not in link_texts(doc)
    await store.post("/_sandbox/bulk", json={"orders": 1})
    doc = await page(store, f"{STORE}/order/manage/index?page=1")
    assert "次へ" in link_texts(doc)
    doc = await page(store, f"{STORE}/order/manage/index?page=2")
    assert len(table_rows(doc, "#orderList")) == 1 and "次へ" not in link_texts(doc)


def detail_fields(doc: HTMLParser) -> dict[str, str]:
    return {
        tr.css_first("th").text(): tr.css_first("td").text() for tr in doc.css("#orderDetail tr")
    }


async def test_order_actions(store: TestClient) -> None:
    s = await state(store)
    paid = next(o for o in s["orders"] if o["store_status"] == "入金済み")
    unpaid = next(o for o in s["orders"] if o["store_status"] == "未処理")
    url = f"{STORE}/order/manage/detail/{paid['order_id']}"
    f = detail_fields(await page(store, url))
    for key in ("注文ID", "注文日時", "注文ステータス", "入金ステータス", "出荷ステータス", "ストアステータス",
                "オークションID", "管理番号", "注文者氏名", "注文者氏名（フリガナ）", "郵便番号", "住所",
                "電話番号", "メールアドレス", "合計金額", "お支払い方法", "発送伝票番号"):  # fmt: skip
        assert key in f, key
    assert f["注文ステータス"] == "処理中" and f["入金ステータス"] == "入金済み"
    # complete needs a tracking number
    r = await store.post(url + "/complete")
    assert r.status == 409 and "発送伝票番号を登録してから" in await r.text()
    r = await store.post(
        url + "/ship-info", data={"ShipCompanyCode": "yamato", "ShipInvoiceNumber1": "伝票"}
    )
    assert r.status == 409
    r = await store.post(
        url + "/ship-info",
        data={"ShipCompanyCode": "yamato", "ShipInvoiceNumber1": "1234-5678-9012"},
    )
    assert r.status == 200 and "発送伝票番号を登録しました" in await r.text()
    r = await store.post(url + "/ship")
    f = detail_fields(HTMLParser(await r.text()))
    assert f["出荷ステータス"] == "出荷済み" and f["ストアステータス"] == "発送済み"
    assert f["発送伝票番号"] == "1234-5678-9012" and f["配送会社"] == "ヤマト運輸"
    r = await store.post(url + "/cancel")
    assert r.status == 409 and "出荷済みの注文はキャンセルできません" in await r.text()
    r = await store.post(url + "/complete")
    f = detail_fields(HTMLParser(await r.text()))
    assert f["注文ステータス"] == "完了" and f["ストアステータス"] == "対応終了"
    # an unpaid order cannot ship but can be cancelled
    url2 = f"{STORE}/order/manage/detail/{unpaid['order_id']}"
    assert (await store.post(url2 + "/ship")).status == 409
    r = await store.post(url2 + "/cancel")
    f = detail_fields(HTMLParser(await r.text()))
    assert f["注文ステータス"] == "キャンセル" and f["ストアステータス"] == "キャンセル"
    r = await store.post(url2 + "/store-status", data={"StoreStatus": "対応終了"})
    assert detail_fields(HTMLParser(await r.text()))["ストアステータス"] == "対応終了"


async def test_faults_5xx_and_latency(store: TestClient) -> None:
    await store.post("/_sandbox/faults", json={"error_5xx": 2, "latency_ms": 5})
    for _ in range(2):
        r = await store.get("/serinavi")
        assert r.status == 503 and "アクセスが集中" in await r.text()
    assert (await store.get("/serinavi")).status == 200
    assert (await store.get("/_sandbox/state?brief=1")).status == 200
    r = await store.post("/_sandbox/faults", json={"nonsense": 1})
    assert r.status == 400


async def test_orders_search_by_order_date(store: TestClient) -> None:
    await store.post("/_sandbox/advance", json={"hours": 24 * 3})
    await store.post("/_sandbox/bulk", json={"orders": 2})  # ordered "now": 2026-11-25
    doc = await page(store, f"{STORE}/order/manage/index?OrderTimeFrom=2026-11-25")
    rows = table_rows(doc, "#orderList")
    assert rows and all(r[1].startswith("2026/11/25") for r in rows)
    doc = await page(store, f"{STORE}/order/manage/index?OrderTimeTo=2026-11-21")
    assert {r[1][:10] for r in table_rows(doc, "#orderList")} == {"2026/11/21"}  # the seed's sales


async def test_folder_from_csv_and_public_auction_page(store: TestClient) -> None:
    from tests.sandbox_yahoo.helpers import csv_bytes, good_row, upload

    doc = await upload(
        store, "f.csv", csv_bytes([good_row("FOLD-1", 商品保存先フォルダパス="バッグ")])
    )
    auction_id = table_rows(doc, "#uploadAccepted")[0][2]
    s = await state(store, brief=True)
    fid = next(k for k, v in s["folders"].items() if v == "バッグ")
    items = await page(store, f"/serinavi/items?folder_id={fid}&sort=-update_date&page=1")
    assert [r[1] for r in table_rows(items, "#itemList")][0].startswith("管理番号 FOLD-1")
    # the public page needs no login
    await store.get("/config/logout")
    r = await store.get(f"/jp/auction/{auction_id}", allow_redirects=False)
    assert r.status == 200
    pub = HTMLParser(await r.text())
    assert pub.css_first("#auctionId").text() == auction_id
    assert (await store.get("/jp/auction/x0000000000")).status == 404
