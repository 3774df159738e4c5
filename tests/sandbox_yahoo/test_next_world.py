"""World next over HTTP: the business-manager bridge login, list shells without rows and their
JSON, the upload API that only registers, 出品開始, the form that lists without a confirm page,
numeric carriers, and what /_sandbox/ shows of it all."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from sandbox.yahoo.app import WORLD, create_app
from sandbox.yahoo.world import World
from tests.sandbox_yahoo.helpers import (
    ACCOUNT,
    choice_by_label,
    csv_bytes,
    field_by_label,
    good_row,
    login_next,
    state,
)

STORE = "/pro.recore-demo"
AUCTION_ID = re.compile(r"x\d{10}")


@pytest.fixture
def app() -> web.Application:
    return create_app(world="next")


@pytest.fixture
async def store(client: TestClient) -> TestClient:
    await login_next(client)
    return client


async def html(client: TestClient, path: str) -> HTMLParser:
    r = await client.get(path, allow_redirects=False)
    assert r.status == 200, (path, r.status)
    return HTMLParser(await r.text())


async def api(client: TestClient, path: str) -> dict[str, Any]:
    r = await client.get(path)
    assert r.status == 200 and r.content_type == "application/json", (path, r.status)
    return await r.json()


async def upload_api(client: TestClient, data: bytes, name: str = "items.csv") -> dict[str, Any]:
    """POST the file, then poll: the first answer is always 'processing'."""
    form = aiohttp.FormData()
    form.add_field("uploadFile", data, filename=name, content_type="application/octet-stream")
    r = await client.post("/serinavi/api/upload", data=form)
    assert r.status == 202, await r.text()
    upload_id = (await r.json())["uploadId"]
    first = await api(client, f"/serinavi/api/upload/status?uploadId={upload_id}")
    assert first == {"status": "processing"}
    done = await api(client, f"/serinavi/api/upload/status?uploadId={upload_id}")
    assert done["status"] == "done"
    return done


# --- the world's name ------------------------------------------------------------------------------
async def test_world_name_in_state(client: TestClient) -> None:
    assert (await state(client, brief=True))["world"] == "next"
    assert create_app()[WORLD].name == "classic"
    with pytest.raises(ValueError):
        create_app(world="future")


# --- login through the bridge ------------------------------------------------------------------------
async def test_store_pages_redirect_to_the_bridge(client: TestClient) -> None:
    for path in (STORE, "/serinavi/items?folder_id=1&sort=-update_date&page=2", "/serinavi/sellings?page=1",
                 "/serinavi/sold-list?page=1", "/serinavi/upload", f"{STORE}/order/manage/index"):  # fmt: skip
        r = await client.get(path, allow_redirects=False)
        assert r.status == 302, path
        loc = urlsplit(r.headers["Location"])
        assert loc.path == "/yidlogin"
        q = parse_qs(loc.query)
        assert {k: v[0] for k, v in q.items() if k != ".done"} == {
            ".pass": "0", ".src": "none", ".lg": "jp", ".intl": "jp", ".suppreg_skip": "1"
        }  # fmt: skip
        assert q[".done"] == [str(client.make_url(path))]  # the whole URL
    # the JSON answers 401 with where to log in
    for path in ("/serinavi/api/items", "/serinavi/api/selling", "/serinavi/api/sold"):
        r = await client.get(path)
        assert r.status == 401
        body = await r.json()
        assert body["error"] == "LOGIN_REQUIRED" and body["loginUrl"].startswith("/yidlogin?")


async def test_chooser_and_the_business_button_first(client: TestClient) -> None:
    r = await client.get(STORE)
    doc = HTMLParser(await r.text())
    links = {a.text(strip=True): a.attributes["href"] for a in doc.css("a")}
    assert urlsplit(links["Yahoo! JAPAN IDでログイン"]).path == "/config/login"
    # the other button leads nowhere before the Yahoo ID step, and says so
    r = await client.get(links["ビジネスIDでログイン"])
    text = await r.text()
    assert "先にYahoo! JAPAN IDでログインしてください" in text
    assert "bizId" not in text
    # the Yahoo ID page: #username and 「次へ」, the password block hidden until the check
    doc = await html(client, links["Yahoo! JAPAN IDでログイン"])
    assert doc.css_first("#username") is not None and doc.css_first("#login_handle") is None
    area = doc.css_first("#password").parent
    assert area is not None and "hidden" in area.attributes
    assert [b.text(strip=True) for b in area.css("button")] == ["ログイン"]
    shown = [b for b in doc.css("#login_form button") if b.parent != area]
    assert [b.text(strip=True) for b in shown] == ["次へ"] and "hidden" not in shown[0].attributes


async def test_id_check_and_wrong_credentials(client: TestClient) -> None:
    r = await client.post("/config/login/check", data={"handle": "nobody"})
    assert await r.json() == {
        "exists": False, "captcha": False,
        "message": "このIDは登録されていません。入力内容をご確認ください。",
    }  # fmt: skip
    r = await client.post("/config/login", data={"handle": ACCOUNT["yahoo_id"], "passwd": "x"})
    doc = HTMLParser(await r.text())
    assert doc.css_first("#errMsg").text() == "パスワードが間違っています。"
    assert "hidden" not in doc.css_first("#password").parent.attributes  # shown at once now
    await client.post(
        "/config/login", data={"handle": ACCOUNT["yahoo_id"], "passwd": ACCOUNT["password"]}
    )
    r = await client.post("/bizlogin", data={"bizId": ACCOUNT["business_id"], "bizPassword": "x"})
    assert "ビジネスIDまたはパスワードが正しくありません" in await r.text()
    assert (await client.get(STORE, allow_redirects=False)).status == 302


async def test_full_login_lands_on_done(client: TestClient) -> None:
    r = await client.get("/serinavi/sellings?page=1", allow_redirects=False)
    done = parse_qs(urlsplit(r.headers["Location"]).query)[".done"][0]
    html_text = await login_next(client, done=done)
    assert "出品中" in html_text and "ログアウト" in html_text
    # the business step's fields are found by label, not by classic's ids
    await client.get("/config/logout")
    await client.post(
        "/config/login", data={"handle": ACCOUNT["yahoo_id"], "passwd": ACCOUNT["password"]}
    )
    doc = await html(client, "/bizlogin?.done=/serinavi")
    assert doc.css_first("#business_id") is None
    assert (field_by_label(doc, "ビジネスID"), field_by_label(doc, "パスワード")) == (
        "bizId", "bizPassword"
    )  # fmt: skip
    # an absolute .done on another host is not followed
    r = await client.post(
        "/bizlogin",
        data={
            "bizId": ACCOUNT["business_id"],
            "bizPassword": ACCOUNT["business_password"],
            ".done": "http://evil.example/pro.recore-demo",
        },  # fmt: skip
    )
    assert r.url.path == STORE and r.url.host == "127.0.0.1"


async def test_captcha_after_three_failures(client: TestClient) -> None:
    handle = ACCOUNT["yahoo_id"]
    for _ in range(3):
        await client.post("/config/login", data={"handle": handle, "passwd": "wrong"})
    r = await client.post("/config/login/check", data={"handle": handle})
    assert (await r.json())["captcha"] is True
    answer = client.app[WORLD].captchas[handle]
    r = await client.post("/config/login", data={"handle": handle, "passwd": ACCOUNT["password"]})
    assert "画像に表示されている文字が正しくありません" in await r.text()
    answer = client.app[WORLD].captchas[handle]
    r = await client.post(
        "/config/login", data={"handle": handle, "passwd": ACCOUNT["password"], "captcha": answer}
    )
    assert r.url.path == "/bizlogin"


async def test_one_time_code_step(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    await client.post("/_sandbox/faults", json={"sms_wall": True})
    r = await client.post(
        "/config/login", data={"handle": ACCOUNT["yahoo_id"], "passwd": ACCOUNT["password"]}
    )
    assert r.url.path == "/otp/auth"
    doc = HTMLParser(await r.text())
    assert field_by_label(doc, "確認コード") == "verificationCode"
    r = await client.post("/otp/auth", data={"verificationCode": "000000"})
    assert "確認コードが正しくありません" in await r.text()
    assert (await client.get(STORE, allow_redirects=False)).status == 302
    code = next(
        rec.getMessage().split()[-1] for rec in caplog.records if "確認コード" in rec.getMessage()
    )
    r = await client.post("/otp/auth", data={"verificationCode": code})
    assert r.url.path == "/bizlogin"


async def test_session_expiry_goes_back_to_the_bridge(store: TestClient) -> None:
    assert (await store.get(STORE, allow_redirects=False)).status == 200
    await store.post("/_sandbox/faults", json={"expire_sessions": True})
    r = await store.get("/serinavi/items", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/yidlogin?")
    assert (await store.get("/serinavi/api/items")).status == 401


# --- navigation and list shells ---------------------------------------------------------------------
async def test_navigation_finds_the_selling_list_by_text(store: TestClient) -> None:
    doc = await html(store, "/serinavi")
    links = {a.text(strip=True): a.attributes["href"] for a in doc.css("main a")}
    assert links["出品中"] == "/serinavi/sellings?page=1"
    for text in ("商品管理", "落札分", "一括アップロード"):
        assert text in links
    assert (await store.get("/serinavi/selling?page=1")).status == 404
    assert (await html(store, STORE)).css_first("#ycWrStrTopLeft") is not None


@pytest.mark.parametrize(
    "path",
    ["/serinavi/items?folder_id=&sort=-update_date&page=1&keyword=DEMO-0012",
     "/serinavi/sellings?page=1", "/serinavi/sold-list?page=1"],
)  # fmt: skip
async def test_list_pages_are_shells_without_rows(store: TestClient, path: str) -> None:
    r = await store.get(path)
    text = await r.text()
    doc = HTMLParser(text)
    assert doc.css_first("#__next #js-loadingWrapper").text() == "読み込み中"
    assert "DEMO-00" not in text and "x11000" not in text
    assert doc.css("[name=itemCheckbox]") == [] and doc.css("th") == []


async def test_items_json_search_and_keys(store: TestClient) -> None:
    d = await api(
        store, "/serinavi/api/items?folder_id=&sort=-update_date&page=1&keyword=DEMO-0012"
    )
    assert d["totalCount"] == 1 and d["keyword"] == "DEMO-0012"
    row = d["items"][0]
    assert set(row) == {"itemId", "folderId", "businessCommodityId", "title", "status",
                        "statusLabel", "auctionId", "startPrice", "currentPrice", "bidCount",
                        "updateDate", "editUrl"}  # fmt: skip
    assert row["businessCommodityId"] == "DEMO-0012" and row["statusLabel"] == "出品中"
    assert AUCTION_ID.fullmatch(row["auctionId"])
    assert row["editUrl"] == (
        f"/serinavi/items/create?folder_id=1&item_folder_id=1&item_id={row['itemId']}&action=edit"
    )
    assert d["folders"] == [{"folderId": 1, "folderName": "未分類"}]


async def test_list_json_pages_of_50_and_100(store: TestClient) -> None:
    await store.post("/_sandbox/bulk", json={"selling": 40, "orders": 95})
    items = await api(store, "/serinavi/api/items?page=1")
    assert items["pageSize"] == 50 and len(items["items"]) == 50 and items["hasNext"]
    assert items["totalCount"] == 40 + 40 + 95 and items["startIndex"] == 1
    selling = await api(store, "/serinavi/api/selling?page=2")
    assert selling["totalCount"] == 70 and len(selling["items"]) == 20 and not selling["hasNext"]
    assert (selling["startIndex"], selling["endIndex"], selling["hasPrev"]) == (51, 70, True)
    ends = [r["endDate"] for r in (await api(store, "/serinavi/api/selling?page=1"))["items"]]
    assert ends == sorted(ends)
    sold = await api(store, "/serinavi/api/sold?page=1")
    assert sold["pageSize"] == 100 and len(sold["items"]) == 100 and sold["hasNext"]
    assert set(sold["items"][0]) == {"itemId", "businessCommodityId", "title", "auctionId",
                                     "winningPrice", "endDate", "winnerId", "editUrl"}  # fmt: skip
    oldest = await api(store, "/serinavi/api/sold?page=1&sortCondition=end_time")
    assert oldest["sortCondition"] == "end_time"
    assert oldest["items"][0]["endDate"] <= sold["items"][0]["endDate"]
    assert len((await api(store, "/serinavi/api/sold?page=2"))["items"]) == 5


async def test_latency_and_5xx_apply_to_the_json(store: TestClient) -> None:
    await store.post("/_sandbox/faults", json={"error_5xx": 1})
    assert (await store.get("/serinavi/api/items")).status == 503
    assert (await store.get("/serinavi/api/items")).status == 200
    r = await store.post("/_sandbox/faults", json={"list_delay_ms": 0})
    assert (await r.json())["faults"]["list_delay_ms"] == 0


# --- upload: registered, not listed ------------------------------------------------------------------
async def test_upload_registers_rows_in_their_folder(store: TestClient) -> None:
    rows = [good_row("REG-1", 商品保存先フォルダパス="新NEW上池袋在庫"), good_row("REG-2", 期間="9"),
            good_row("REG-3", 商品保存先フォルダパス="新NEW上池袋在庫")]  # fmt: skip
    done = await upload_api(store, csv_bytes(rows))
    assert done["fileError"] is None
    assert [(r["row"], r["businessCommodityId"], r["folderName"]) for r in done["registered"]] == [
        (2, "REG-1", "新NEW上池袋在庫"), (4, "REG-3", "新NEW上池袋在庫")
    ]  # fmt: skip
    assert [(e["row"], e["column"], e["columnName"], e["businessCommodityId"]) for e in done["errors"]] == [
        (3, 9, "期間", "REG-2")
    ]  # fmt: skip
    assert "期間は1〜7日" in done["errors"][0]["message"]
    s = await state(store)
    regs = [i for i in s["listings"] if i["management_number"].startswith("REG-")]
    assert [(i["status"], i["status_label"], i["registered"], i["auction_id"]) for i in regs] == [
        ("registered", "未出品", True, None)
    ] * 2  # fmt: skip
    folder = done["registered"][0]["folderId"]
    assert s["folders"][str(folder)] == "新NEW上池袋在庫"
    assert s["counts"]["by_status"]["registered"] == 2
    # in the item list as 未出品 without auction id; not in the selling list
    d = await api(store, f"/serinavi/api/items?folder_id={folder}")
    assert [(r["businessCommodityId"], r["statusLabel"], r["auctionId"]) for r in d["items"]] == [
        ("REG-3", "未出品", ""), ("REG-1", "未出品", "")
    ]  # fmt: skip
    selling = await api(store, "/serinavi/api/selling?page=1")
    assert selling["totalCount"] == 30  # the seed's, no more


async def test_upload_file_error_registers_nothing(store: TestClient) -> None:
    done = await upload_api(store, csv_bytes([good_row("BAD-1")], newline="\n"))
    assert "改行コードがCRLFではありません" in done["fileError"]
    assert done["registered"] == []
    assert "BAD-1" not in (await state(store, brief=True))["listing_counts"]
    r = await store.get("/serinavi/api/upload/status?uploadId=nope")
    assert r.status == 404


async def test_spurious_comm_error_registers_anyway(store: TestClient) -> None:
    await store.post("/_sandbox/faults", json={"spurious_comm_error": 1})
    form = aiohttp.FormData()
    form.add_field("uploadFile", csv_bytes([good_row("COMM-1")]), filename="a.csv")
    r = await store.post("/serinavi/api/upload", data=form)
    assert r.status == 502 and await r.json() == {"error": "COMMUNICATION_ERROR"}
    s = await state(store)
    assert [i["status"] for i in s["listings"] if i["management_number"] == "COMM-1"] == [
        "registered"
    ]
    # the switch was for one upload
    assert (await upload_api(store, csv_bytes([good_row("COMM-2")])))["registered"]


async def test_upload_page_link_disabled_until_a_file(store: TestClient) -> None:
    doc = await html(store, "/serinavi/upload")
    assert doc.css_first("input[type=file][name=uploadFile]") is not None
    link = next(a for a in doc.css("a") if a.text(strip=True) == "決定する")
    assert link.attributes["aria-disabled"] == "true" and "is-disabled" in link.attributes["class"]
    assert (await store.post("/serinavi/upload")).status == 405  # no classic form post here


# --- 出品開始 ----------------------------------------------------------------------------------------
async def test_start_registered_items(store: TestClient) -> None:
    done = await upload_api(store, csv_bytes([good_row("ST-1", 期間="3"), good_row("ST-2")]))
    ids = [r["itemId"] for r in done["registered"]]
    r = await store.post("/serinavi/api/items/start", json={"itemIds": [ids[0], 5000011, 42]})
    body = await r.json()
    assert [(s["itemId"], s["businessCommodityId"]) for s in body["started"]] == [(ids[0], "ST-1")]
    assert AUCTION_ID.fullmatch(body["started"][0]["auctionId"])
    assert body["errors"] == [
        {"itemId": 5000011, "businessCommodityId": "DEMO-0011",
         "message": "未出品の商品ではないため出品開始できません"},
        {"itemId": 42, "businessCommodityId": "", "message": "商品が見つかりません"},
    ]  # fmt: skip
    s = await state(store)
    st1 = next(i for i in s["listings"] if i["management_number"] == "ST-1")
    assert st1["status"] == "selling" and st1["auction_id"] == body["started"][0]["auctionId"]
    assert st1["end_time"].startswith("2026-11-25T22:00")  # 3 days from the sandbox clock
    selling = await api(store, "/serinavi/api/selling?page=1")
    assert "ST-1" in {r["businessCommodityId"] for r in selling["items"]}
    # a running auction can get bids and sell like any other
    r = await store.post("/_sandbox/bid", json={"auction_id": st1["auction_id"]})
    assert r.status == 200
    for bad in ({}, {"itemIds": []}, {"itemIds": ["x"]}, {"itemIds": [True]}, [ids[1]]):
        r = await store.post("/serinavi/api/items/start", json=bad)
        assert r.status == 400
    assert (await store.post("/serinavi/api/items/start", data=b"nope")).status == 400


async def test_sandbox_start_by_management_number(store: TestClient) -> None:
    await upload_api(store, csv_bytes([good_row("SB-1"), good_row("SB-1"), good_row("SB-2")]))
    r = await store.post("/_sandbox/start", json={"management_numbers": ["SB-1"]})
    started = (await r.json())["started"]
    assert [s["businessCommodityId"] for s in started] == ["SB-1", "SB-1"]
    assert len({s["auctionId"] for s in started}) == 2
    s = await state(store, brief=True)
    assert s["duplicates"] == {"SB-1": 2} and s["counts"]["by_status"]["registered"] == 1
    assert (await store.post("/_sandbox/start", json={})).status == 400


# --- the form: lists at once -------------------------------------------------------------------------
CREATE = "/serinavi/items/create?action=create&folder_id=1"


def next_form_data(doc: HTMLParser, **over: str) -> dict[str, str]:
    """A valid create form, radios and checkboxes chosen by label text as staff see them."""
    data = {
        "businessCommodityIdInputText": "NF-0001",
        "titleInputText": "次の世界から出品",
        "categoryIdInputText": "23828",
        "Description_plain": "一行目\n二行目",
        "startPriceInputText": "3000",
        "bidOrBuyPriceInputText": "0",
        "quantityInputText": "1",
        "durationSelect": "3",
        "endTimeSelect": "21",
        "numResubmitSelect": "0",
        "changePriceRatioResubmitSelect": "0",
        "prefectureCodeSelect": "13",
        "chargeForShippingRadio": "buyer",
        "deliveryGroupSelect": "1",
        "leadTimeSelect": "1",
        "draft_id": doc.css_first("input[name=draft_id]").attributes["value"] or "",
    }
    for label in ("目立った傷や汚れなし", "8%", "自動延長する"):
        name, value = choice_by_label(doc, label)
        data[name] = value
    data.update(over)
    return data


async def test_form_fields_radios_and_one_button(store: TestClient) -> None:
    doc = await html(store, CREATE)
    for name in ("businessCommodityIdInputText", "titleInputText", "categoryIdInputText",
                 "html_tag", "Description_plain", "storeKeywordInputText", "startPriceInputText",
                 "durationSelect", "endTimeSelect", "numResubmitSelect",
                 "changePriceRatioResubmitSelect", "prefectureCodeSelect", "cityNameInputText",
                 "deliveryGroupSelect", "leadTimeSelect"):  # fmt: skip
        assert doc.css_first(f"[name='{name}']") is not None, name
    assert doc.css_first("[name=taxRateSelect]") is None and doc.css_first("[name=istatus]") is None
    tax = [choice_by_label(doc, label) for label in ("10%", "8%", "非課税")]
    assert len({name for name, _ in tax}) == 1 and [v for _, v in tax] == ["10", "8", "0"]
    cond_name, _ = choice_by_label(doc, "未使用")
    assert cond_name != "istatus"
    buttons = doc.css("#itemForm button")
    assert [b.text(strip=True) for b in buttons] == ["この内容で出品する"]
    assert all("id" not in b.attributes and "name" not in b.attributes for b in buttons)
    assert re.fullmatch(r"sc-[A-Za-z]{6} [A-Za-z]{6}", buttons[0].attributes["class"] or "")


async def test_form_lists_at_once_and_shows_it_in_the_list(store: TestClient) -> None:
    doc = await html(store, CREATE)
    data = next_form_data(doc)
    r = await store.post(CREATE, data=data, allow_redirects=False)
    assert r.status == 303
    loc = r.headers["Location"]
    assert urlsplit(loc).path == "/serinavi/items" and "notice=listed" in loc
    shell = await store.get(loc)
    assert "出品しました" in await shell.text()  # the notice the list script shows
    d = await api(store, "/serinavi/api/items?" + urlsplit(loc).query)
    first = d["items"][0]
    assert first["businessCommodityId"] == "NF-0001" and first["statusLabel"] == "出品中"
    assert AUCTION_ID.fullmatch(first["auctionId"]) and first["auctionId"] not in loc
    item = next(i for i in (await state(store))["listings"] if i["management_number"] == "NF-0001")
    assert item["auction_id"] == first["auctionId"]
    values = store.app[WORLD].items[item["item_id"]].values
    assert values["消費税設定"] == "8" and values["商品の状態"] == "目立った傷や汚れなし"
    assert values["自動延長"] == "はい" and values["説明"] == "一行目<br>二行目"
    # the same form posted again lists nothing
    r = await store.post(CREATE, data=data)
    assert r.status == 400 and "有効期限" in await r.text()
    assert (await state(store, brief=True))["listing_counts"]["NF-0001"] == 1


async def test_form_field_errors_by_real_names(store: TestClient) -> None:
    doc = await html(store, CREATE)
    cond_name, _ = choice_by_label(doc, "未使用")
    data = next_form_data(doc, titleInputText="")
    del data[cond_name]
    r = await store.post(CREATE, data=data)
    doc2 = HTMLParser(await r.text())
    assert doc2.css_first("#formErrors") is not None
    errors = {p.attributes["data-error-for"]: p.text() for p in doc2.css("[data-error-for]")}
    assert errors == {"titleInputText": "タイトルは必須です", cond_name: "商品の状態は必須です"}
    # values kept, the corrected form lists
    assert doc2.css_first("[name=businessCommodityIdInputText]").attributes["value"] == "NF-0001"
    fixed = next_form_data(doc2)
    r = await store.post(CREATE, data=fixed, allow_redirects=False)
    assert r.status == 303


async def test_edit_and_end_early_as_classic(store: TestClient) -> None:
    s = await state(store)
    running = next(i for i in s["listings"] if i["management_number"] == "DEMO-0011")
    with_bids = next(i for i in s["listings"] if i["management_number"] == "DEMO-0012")
    url = (f"/serinavi/items/create?folder_id=1&item_folder_id=1&item_id={running['item_id']}"
           "&action=edit")  # fmt: skip
    doc = await html(store, url)
    assert [b.text(strip=True) for b in doc.css("#itemForm button")] == ["フォルダに保存する"]
    data = {
        el.attributes["name"] or "": el.attributes.get("value") or ""
        for el in doc.css("#itemForm input[type=text], #itemForm input[type=hidden]")
    }
    data |= {el.attributes["name"] or "": el.attributes["value"] or ""
             for el in doc.css("#itemForm input[checked]")}  # fmt: skip
    for sel in doc.css("#itemForm select"):
        chosen = sel.css_first("option[selected]")
        data[sel.attributes["name"] or ""] = (chosen.attributes["value"] if chosen else "") or ""
    data |= {"Description_plain": doc.css_first("textarea").text(), "titleInputText": "編集後"}
    name, value = choice_by_label(doc, "非課税")
    data[name] = value
    r = await store.post(url, data=data)
    assert r.url.query.get("saved") == "1" and "フォルダに保存しました" in await r.text()
    item = store.app[WORLD].items[running["item_id"]]
    assert item.title == "編集後" and item.v("消費税設定") == "0"
    r = await store.post("/serinavi/items/end", data={"item_id": str(with_bids["item_id"])})
    assert r.status == 409 and "入札があるため、オークションを早期終了できません" in await r.text()
    r = await store.post("/serinavi/items/end", data={"item_id": str(running["item_id"])})
    assert r.status == 200 and "オークションを終了しました" in await r.text()


async def test_registered_item_edit_keeps_it_registered(store: TestClient) -> None:
    done = await upload_api(store, csv_bytes([good_row("ED-1")]))
    item_id = done["registered"][0]["itemId"]
    r = await store.post("/serinavi/items/end", data={"item_id": str(item_id)})
    assert r.status == 409 and "出品していない商品は終了できません" in await r.text()
    doc = await html(
        store, f"/serinavi/items/create?folder_id=1&item_folder_id=1&item_id={item_id}&action=edit"
    )
    assert "状態: 未出品" in doc.css_first("#itemStatus").text()
    assert store.app[WORLD].items[item_id].status == "registered"


# --- 注文管理 ---------------------------------------------------------------------------------------
async def test_ship_form_numeric_carriers(store: TestClient) -> None:
    s = await state(store)
    order = next(o for o in s["orders"] if o["store_status"] == "入金済み")
    shipped = next(o for o in s["orders"] if o["store_status"] == "発送済み")
    assert shipped["carrier"] == "ヤマト運輸"  # the seed stores labels in this world
    url = f"{STORE}/order/manage/detail/{order['order_id']}"
    doc = await html(store, url)
    options = [(o.attributes["value"], o.text()) for o in doc.css("#shipInfoForm select option")]
    assert options == [("", "選択してください"), ("1001", "ヤマト運輸"), ("1002", "佐川急便"),
                       ("1003", "日本郵便"), ("1004", "西濃運輸"), ("1099", "その他")]  # fmt: skip
    r = await store.post(
        url + "/ship-info", data={"ShipCompanyCode": "yamato", "ShipInvoiceNumber1": "1-2"}
    )
    assert r.status == 409 and "配送会社を選択してください" in await r.text()
    r = await store.post(
        url + "/ship-info", data={"ShipCompanyCode": "1002", "ShipInvoiceNumber1": "1-2"}
    )
    assert r.status == 200 and "発送伝票番号を登録しました" in await r.text()
    stored = next(o for o in (await state(store))["orders"] if o["order_id"] == order["order_id"])
    assert stored["carrier"] == "佐川急便"
    doc = await html(store, url)
    assert doc.css_first("#shipInfoForm option[selected]").attributes["value"] == "1002"


# --- layout_changed and persistence ------------------------------------------------------------------
def shell_classes(text: str) -> set[str]:
    return set(re.findall(r"sc-[A-Za-z]{6}", text))


async def test_layout_changed_renames_generated_classes(store: TestClient) -> None:
    before = await (await store.get("/serinavi/items")).text()
    await store.post("/_sandbox/faults", json={"layout_changed": True})
    after = await (await store.get("/serinavi/items")).text()
    assert shell_classes(before) and not shell_classes(before) & shell_classes(after)
    assert '"checkbox": "itemSelectCheckbox"' in after and '"checkbox": "itemCheckbox"' in before


def test_registered_items_and_world_name_survive_a_save(tmp_path: Any) -> None:
    w = World(name="next")
    w.seed_demo()
    item = w.register_item(good_row("SAVE-1"), [], "upload")
    path = tmp_path / "w.json"
    w.save(path)
    again = World.load(path)
    assert again.name == "next" and again.items[item.item_id].status == "registered"
    assert "" not in again.by_auction
    assert again.start_item(again.items[item.item_id]) is None
    assert again.item_by_auction(again.items[item.item_id].auction_id) is again.items[item.item_id]
