"""The EC gateway protocol: polling, reports, order upsert, lists and paging."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp.test_utils import TestClient

from sandbox.recore import protocol as p

from .helpers import poll, state


async def test_poll_returns_seeded_create_tasks_and_marks_processing(
    client: TestClient, auth: dict[str, str], creds: dict[str, Any]
) -> None:
    tasks = await poll(client, auth, creds["ec_account_id"])
    assert len(tasks) == 26
    assert {t["type"] for t in tasks} == {"CREATE_INVENTORY"}
    first = tasks[0]
    assert set(first) == {"id", "mall_id", "type", "ec_account_id", "data", "issued_at"}
    assert first["mall_id"] == "GENERAL" and len(first["id"]) == 26
    assert [t["issued_at"] for t in tasks] == sorted(t["issued_at"] for t in tasks)
    # Delivered at least once: the listing now shows 出品処理中.
    resp = await client.get(f"/ec/inventories/{first['data']['ec_inventory_id']}", headers=auth)
    assert (await resp.json())["status"] == "PROCESSING"
    # Not reported: the same tasks come again.
    again = await poll(client, auth, creds["ec_account_id"])
    assert [t["id"] for t in again] == [t["id"] for t in tasks]
    delivered = {t["id"]: t["delivered_count"] for t in (await state(client))["tasks"]}
    assert delivered[first["id"]] == 2


async def test_succeeded_report_lists_item_and_second_report_changes_nothing(
    client: TestClient, auth: dict[str, str], creds: dict[str, Any]
) -> None:
    task = (await poll(client, auth, creds["ec_account_id"]))[0]
    inv_id = task["data"]["ec_inventory_id"]
    inv = await (await client.get(f"/ec/inventories/{inv_id}", headers=auth)).json()
    variant_id = inv["variants"][0]["id"]
    body = {
        "mall_product_code": "c1133337781",
        "mall_url": "https://page.auctions.yahoo.co.jp/jp/auction/c1133337781",
        "variants": [{"id": variant_id, "mall_item_code": "RC-10001"}],
    }
    resp = await client.post(f"/ec/gateway/tasks/{task['id']}/succeeded", json=body, headers=auth)
    assert resp.status == 200
    assert (await resp.json())["id"] == task["id"]
    inv = await (await client.get(f"/ec/inventories/{inv_id}", headers=auth)).json()
    assert inv["status"] == "DONE"
    assert inv["mall_product_code"] == "c1133337781"
    assert inv["mall_url"].endswith("c1133337781")
    assert inv["done_at"] is not None
    assert inv["variants"][0]["mall_item_code"] == "RC-10001"
    # A contradicting second report: 200, nothing changes, but it is counted.
    resp = await client.post(
        f"/ec/gateway/tasks/{task['id']}/failed", json={"message": "二重報告"}, headers=auth
    )
    assert resp.status == 200
    inv2 = await (await client.get(f"/ec/inventories/{inv_id}", headers=auth)).json()
    assert inv2["status"] == "DONE" and inv2["mall_product_code"] == "c1133337781"
    resp = await client.post(f"/ec/gateway/tasks/{task['id']}/succeeded", json=body, headers=auth)
    assert resp.status == 200
    st = next(t for t in (await state(client))["tasks"] if t["id"] == task["id"])
    assert st["report_count"] == 3
    assert st["outcome"] == "succeeded"
    assert [r["applied"] for r in st["reports"]] == [True, False, False]
    # Reported: gone from the poll.
    remaining = await poll(client, auth, creds["ec_account_id"])
    assert task["id"] not in {t["id"] for t in remaining}


async def test_failed_report_puts_listing_in_error_with_message(
    client: TestClient, auth: dict[str, str], creds: dict[str, Any]
) -> None:
    task = (await poll(client, auth, creds["ec_account_id"]))[0]
    message = "管理番号 RC-10001: タイトルが65文字を超えています"
    resp = await client.post(
        f"/ec/gateway/tasks/{task['id']}/failed",
        json={"message": message, "detail": {"title": ["too long"]}},
        headers=auth,
    )
    assert resp.status == 200
    listing = next(
        x for x in (await state(client))["listings"] if x["id"] == task["data"]["ec_inventory_id"]
    )
    assert listing["status"] == "ERROR"
    assert listing["status_label"] == "エラー"
    assert listing["error_message"] == message
    page = await (await client.get("/ui/listings?tab=ERROR")).text()
    assert message in page


async def test_report_unknown_task_is_404(client: TestClient, auth: dict[str, str]) -> None:
    resp = await client.post("/ec/gateway/tasks/01NOSUCHTASK/succeeded", json={}, headers=auth)
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "NOT_FOUND"


async def test_unknown_task_type_can_be_issued_polled_filtered_and_failed(
    client: TestClient, auth: dict[str, str], creds: dict[str, Any]
) -> None:
    resp = await client.post("/_sandbox/tasks", json={"type": "FUTURE_THING", "data": {"x": 1}})
    assert resp.status == 201
    issued = (await resp.json())["task"]
    tasks = await poll(client, auth, creds["ec_account_id"], type="FUTURE_THING")
    assert [t["id"] for t in tasks] == [issued["id"]]
    assert tasks[0]["data"] == {"x": 1}
    resp = await client.post(
        f"/ec/gateway/tasks/{issued['id']}/failed",
        json={"message": "未対応のタスク種別です: FUTURE_THING"},
        headers=auth,
    )
    assert resp.status == 200
    assert await poll(client, auth, creds["ec_account_id"], type="FUTURE_THING") == []


async def test_sell_in_store_issues_delete_and_success_ends_listing(
    client: TestClient, auth: dict[str, str], creds: dict[str, Any]
) -> None:
    resp = await client.post("/_sandbox/listings/5002/sell-in-store")
    assert resp.status == 201
    task = (await resp.json())["task"]
    assert task["type"] == "DELETE_INVENTORY" and task["data"] == {"ec_inventory_id": 5002}
    assert task["id"] in {
        t["id"] for t in await poll(client, auth, creds["ec_account_id"], type="DELETE_INVENTORY")
    }
    resp = await client.post(f"/ec/gateway/tasks/{task['id']}/succeeded", json={}, headers=auth)
    assert resp.status == 200
    inv = await (await client.get("/ec/inventories/5002", headers=auth)).json()
    assert inv["status"] == "ENDED"


async def test_update_listing_issues_one_task_per_kind(client: TestClient) -> None:
    resp = await client.post(
        "/_sandbox/listings/5003/update", json={"title": "新しいタイトル", "start_price": 50000}
    )
    assert resp.status == 201
    types = [t["type"] for t in (await resp.json())["tasks"]]
    assert types == ["UPDATE_INVENTORY", "UPDATE_INVENTORY_PRICE"]


ORDER = {
    "mall_order_id": "store-10000001",
    "status": "ORDERED",
    "mall_url": "https://pro.store.yahoo.co.jp/pro.shop/order/manage/detail/store-10000001",
    "ordered_at": 1795400000,
    "payment_total": 58000,
    "payment_method": "Yahoo!かんたん決済",
    "buyer_name": "山田 太郎",
    "buyer_name_kana": "ヤマダ タロウ",
    "shipping_postal_code": "1700013",
    "shipping_state_or_region": "東京都",
    "shipping_city": "豊島区",
    "shipping_address1": "東池袋1-1-1",
    "goods": [
        {
            "mall_item_id": "c1133337781",
            "mall_item_code": "RC-10001",
            "unit_price": 58000,
            "tax": 5272,
            "tax_rate": 10,
            "tax_rate_type": "STANDARD",
        }
    ],
}


async def test_upsert_is_keyed_by_account_and_mall_order_id(
    client: TestClient, auth: dict[str, str], creds: dict[str, Any]
) -> None:
    body = {**ORDER, "ec_account_id": creds["ec_account_id"]}
    resp = await client.post("/ec/gateway/order/upsert", json=body, headers=auth)
    assert resp.status == 200
    first = await resp.json()
    assert first["mall_order_id"] == "store-10000001" and first["status"] == "ORDERED"
    assert first["ec_account"] == {"id": creds["ec_account_id"], "mall_id": "GENERAL"}
    good = first["goods"][0]
    assert good["serial"] == 1 and good["ec_order_id"] == first["id"] and good["quantity"] == 1
    assert good["variant_id"] == 9001  # matched through the 管理番号
    # Same key, new status and a field left out: same order, updated, left-out field kept.
    update = {
        "ec_account_id": creds["ec_account_id"],
        "mall_order_id": "store-10000001",
        "status": "UNSHIPPED",
        "note": "入金確認済み",
        "unknown_field": 1,
    }
    resp = await client.post("/ec/gateway/order/upsert", json=update, headers=auth)
    assert resp.status == 200
    second = await resp.json()
    assert second["id"] == first["id"]
    assert second["status"] == "UNSHIPPED" and second["note"] == "入金確認済み"
    assert second["buyer_name"] == "山田 太郎" and len(second["goods"]) == 1
    resp = await client.get("/ec/orders", params={"statuses": "UNSHIPPED"}, headers=auth)
    orders = await resp.json()
    assert [o["id"] for o in orders] == [first["id"]]
    st = (await state(client))["orders"][0]
    assert st["upsert_count"] == 2
    assert st["ignored_fields"] == ["unknown_field"]
    assert [h["status"] for h in st["status_history"]] == ["ORDERED", "UNSHIPPED"]
    # The sold listing has ended.
    inv = await (await client.get("/ec/inventories/5001", headers=auth)).json()
    assert inv["status"] == "ENDED"


async def test_ship_and_cancel_issue_order_tasks(
    client: TestClient, auth: dict[str, str], creds: dict[str, Any]
) -> None:
    ids = []
    for n in (1, 2):
        body = {**ORDER, "ec_account_id": creds["ec_account_id"], "mall_order_id": f"store-{n}"}
        ids.append(
            (await (await client.post("/ec/gateway/order/upsert", json=body, headers=auth)).json())[
                "id"
            ]
        )
    resp = await client.post(
        f"/_sandbox/orders/{ids[0]}/ship",
        json={"tracking_number": "1234-5678-9012", "carrier": "YAMATO"},
    )
    assert resp.status == 201
    ship = (await resp.json())["task"]
    assert ship["type"] == "SHIP_ORDER"
    assert ship["data"] == {
        "ec_order_id": ids[0],
        "mall_order_id": "store-1",
        "tracking_number": "1234-5678-9012",
        "carrier": "YAMATO",
    }
    resp = await client.post(f"/_sandbox/orders/{ids[1]}/cancel", json={})
    cancel = (await resp.json())["task"]
    assert cancel["type"] == "CANCEL_ORDER"
    assert cancel["data"] == {"ec_order_id": ids[1], "mall_order_id": "store-2"}
    statuses = {
        o["id"]: o["status"] for o in (await (await client.get("/ec/orders", headers=auth)).json())
    }
    assert statuses == {ids[0]: "SHIPPED", ids[1]: "CANCELED"}
    # A shipped order cannot be cancelled: 409 with a Japanese message.
    resp = await client.post(f"/_sandbox/orders/{ids[0]}/cancel", json={})
    assert resp.status == 409
    assert "キャンセルできません" in (await resp.json())["error"]["message"]
    resp = await client.post(
        f"/ec/gateway/tasks/{ship['id']}/failed", json={"message": "伝票番号が不正"}, headers=auth
    )
    assert resp.status == 200
    page = await (await client.get("/ui/orders?tab=SHIPPED")).text()
    assert "伝票番号が不正" in page and "1234-5678-9012" in page


async def test_inventory_detail_in_the_spec_form_is_the_list_object(
    client: TestClient, auth: dict[str, str]
) -> None:
    listed = await (await client.get("/ec/inventories?ids=5001", headers=auth)).json()
    inv = await (await client.get("/ec/inventories/5001", headers=auth)).json()
    # only what ReCORE's spec shows: no Yahoo field, no description, one photo
    assert inv == listed[0]
    assert not {"description", "image_urls", "mall_attributes"} & set(inv)
    assert inv["image_url"] and inv["variants"][0]["price"] == 58000
    assert inv["variants"][0]["allocations"][0]["item_id"]


async def test_inventory_detail_has_description_images_and_mall_attributes(
    client: TestClient, auth: dict[str, str]
) -> None:
    resp = await client.post("/_sandbox/inventories", json={"form": "rich"})
    assert resp.status == 200
    resp = await client.get("/ec/inventories/5001", headers=auth)
    inv = await resp.json()
    assert inv["description"].startswith("<p>")
    assert len(inv["image_urls"]) == 8 and inv["image_url"] == inv["image_urls"][0]
    attrs = inv["mall_attributes"]
    for key in (
        "management_number",
        "category_id",
        "start_price",
        "buyout_price",
        "quantity",
        "duration_days",
        "end_hour",
        "prefecture",
        "city",
        "shipping_payer",
        "payment_methods",
        "shipping_methods",
        "condition",
        "auto_extend",
        "resubmit_count",
        "tax_rate",
        "tax_included",
        "sales_channel",
    ):
        assert key in attrs, key
    assert attrs["condition"] in p.CONDITIONS
    img = await client.get(inv["image_urls"][0].split(str(client.make_url("")).rstrip("/"), 1)[1])
    assert img.status == 200 and img.content_type == "image/jpeg"
    # The list object has no detail fields.
    listed = (
        await (await client.get("/ec/inventories", params={"ids": "5001"}, headers=auth)).json()
    )[0]
    assert "description" not in listed and listed["id"] == 5001
    resp = await client.get("/ec/inventories/99999", headers=auth)
    assert resp.status == 404


async def test_cursor_paging_walks_everything_once(
    client: TestClient, auth: dict[str, str]
) -> None:
    seen: list[int] = []
    cursor = ""
    pages = 0
    while True:
        params = {"limit": 7, "cursor": cursor} if cursor else {"limit": 7, "cursor": ""}
        resp = await client.get("/ec/inventories", params=params, headers=auth)
        assert resp.status == 200
        assert "X-Next-Cursor" in resp.headers
        batch = await resp.json()
        seen += [x["id"] for x in batch]
        pages += 1
        cursor = resp.headers["X-Next-Cursor"]
        if not cursor:
            break
    assert pages == 4  # 26 listings, 7 a page
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 26


async def test_page_paging_and_filters(client: TestClient, auth: dict[str, str]) -> None:
    resp = await client.get("/ec/inventories", params={"limit": 10, "page": 3}, headers=auth)
    assert [x["id"] for x in await resp.json()] == list(range(5021, 5027))
    assert resp.headers["X-Next-Cursor"] == ""
    resp = await client.get("/ec/inventories", params={"limit": 10, "page": 1}, headers=auth)
    assert resp.headers["X-Next-Cursor"] != ""
    resp = await client.get("/ec/inventories?ids=5001&ids=5003,5005", headers=auth)
    assert [x["id"] for x in await resp.json()] == [5001, 5003, 5005]
    resp = await client.get("/ec/inventories", params={"statuses": "DONE"}, headers=auth)
    assert await resp.json() == []
    resp = await client.get(
        "/ec/inventories",
        params={"created_at_from": "2026-11-16 10:00:00", "created_at_to": "2026-11-16 10:05:00"},
        headers=auth,
    )
    assert [x["id"] for x in await resp.json()] == [5001, 5002]


async def test_validate_failed_bodies(
    client: TestClient, auth: dict[str, str], creds: dict[str, Any]
) -> None:
    async def err(resp: Any) -> dict[str, Any]:
        assert resp.status == 400, await resp.text()
        body = await resp.json()
        assert body["error"]["code"] == "VALIDATE_FAILED"
        # seen: the message is Japanese, the per-field detail English
        assert body["error"]["message"] == "入力値が不正です"
        assert all(m.isascii() for ms in body["error"]["detail"].values() for m in ms)
        return body["error"]["detail"]

    assert "ec_account_id" in await err(await client.get("/ec/gateway/tasks", headers=auth))
    assert "ec_account_id" in await err(
        await client.get("/ec/gateway/tasks", params={"ec_account_id": "abc"}, headers=auth)
    )
    assert "ec_account_id" in await err(
        await client.get("/ec/gateway/tasks", params={"ec_account_id": 999}, headers=auth)
    )
    # the task list takes ec_account_id and type only (seen): anything else is refused by name
    for extra in ("limit", "page", "cursor"):
        detail = await err(
            await client.get(
                "/ec/gateway/tasks", params={"ec_account_id": 3, extra: "1"}, headers=auth
            )
        )
        assert list(detail) == [extra] and detail[extra][0].endswith("is not a permitted parameter")
    assert "limit" in await err(await client.get("/ec/inventories?limit=251", headers=auth))
    assert "cursor" in await err(await client.get("/ec/inventories?cursor=%%%", headers=auth))
    bad_cursor = base64.urlsafe_b64encode(b'{"after": "x"}').decode()
    assert "cursor" in await err(
        await client.get(f"/ec/inventories?cursor={bad_cursor}", headers=auth)
    )
    assert "statuses" in await err(await client.get("/ec/inventories?statuses=SOLD", headers=auth))
    assert "created_at_from" in await err(
        await client.get("/ec/inventories?created_at_from=2026/11/16", headers=auth)
    )
    # Upsert: bad JSON, missing fields, bad status, bad goods.
    detail = await err(
        await client.post("/ec/gateway/order/upsert", data=b"{not json", headers=auth)
    )
    assert detail == {"body": ["Body is not valid JSON"]}
    detail = await err(await client.post("/ec/gateway/order/upsert", json={}, headers=auth))
    assert set(detail) == {"ec_account_id", "mall_order_id", "status"}
    detail = await err(
        await client.post(
            "/ec/gateway/order/upsert",
            json={
                "ec_account_id": creds["ec_account_id"],
                "mall_order_id": "x",
                "status": "PAID",
                "ordered_at": "2026-11-16",
                "goods": [{"unit_price": -1}],
            },
            headers=auth,
        )
    )
    assert set(detail) == {"status", "ordered_at", "goods.0.mall_item_code", "goods.0.unit_price"}
    assert "ORDERED" in detail["status"][0]
    # Reports.
    task = (await poll(client, auth, creds["ec_account_id"]))[0]
    detail = await err(
        await client.post(f"/ec/gateway/tasks/{task['id']}/failed", json={}, headers=auth)
    )
    assert set(detail) == {"message"}
    detail = await err(
        await client.post(f"/ec/gateway/tasks/{task['id']}/succeeded", json={}, headers=auth)
    )
    assert set(detail) == {"mall_product_code"}
    detail = await err(
        await client.post(
            f"/ec/gateway/tasks/{task['id']}/succeeded",
            json={"mall_product_code": "c1", "variants": [{"id": 1, "mall_item_code": "X"}]},
            headers=auth,
        )
    )
    assert set(detail) == {"variants.0.id"}
    detail = await err(
        await client.post(f"/ec/gateway/tasks/{task['id']}/succeeded", json=[1], headers=auth)
    )
    assert set(detail) == {"body"}
    # Nothing of that was applied.
    assert task["id"] in {t["id"] for t in await poll(client, auth, creds["ec_account_id"])}


async def test_odd_task_data_is_reported_without_crashing(
    client: TestClient, auth: dict[str, str]
) -> None:
    resp = await client.post(
        "/_sandbox/tasks", json={"type": "CREATE_INVENTORY", "data": {"ec_inventory_id": [1]}}
    )
    task = (await resp.json())["task"]
    resp = await client.post(
        f"/ec/gateway/tasks/{task['id']}/succeeded",
        json={"mall_product_code": "c1", "variants": [{"id": 9001, "mall_item_code": "X"}]},
        headers=auth,
    )
    assert resp.status == 400  # the variant is not one of a listing that does not exist
    resp = await client.post(
        f"/ec/gateway/tasks/{task['id']}/failed",
        json={"message": "出品データがありません"},
        headers=auth,
    )
    assert resp.status == 200


async def test_clock_advance_moves_new_timestamps(client: TestClient) -> None:
    before = (await (await client.get("/_sandbox/state")).json())["now"]
    resp = await client.post("/_sandbox/clock", json={"advance_seconds": 86400})
    assert (await resp.json())["offset_seconds"] == 86400
    task = (await (await client.post("/_sandbox/tasks", json={"type": "CONFIRM_ORDER"})).json())[
        "task"
    ]
    assert task["issued_at"] >= before + 86400
    assert (await client.post("/_sandbox/clock", json={"advance_seconds": -1})).status == 400
