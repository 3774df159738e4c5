"""Seed data (valid and deliberately invalid stock), photos, pages and persistence."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from sandbox.recore.app import create_app, demo_credentials, mint_key, seed_more_listings
from sandbox.recore.images import ImageSpec, render_jpeg
from sandbox.recore.seed import GRADES, RECORE_CATEGORIES, SEEDED_INVALID

from .conftest import ClientFactory
from .helpers import poll, state


def yahoo_title_length(title: str) -> float:
    """Yahoo's count: full-width 1, half-width (ASCII and half-width kana) 0.5."""
    return sum(0.5 if ord(c) < 0x80 or 0xFF61 <= ord(c) <= 0xFF9F else 1 for c in title)


def cp932_ok(text: str) -> bool:
    try:
        text.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


def broken_rules(listing: dict[str, Any], corrupt: bool, duplicate: bool) -> set[str]:
    a = listing["mall_attributes"]
    rules = set()
    if yahoo_title_length(listing["title"]) > 65:
        rules.add("title_too_long")
    if not cp932_ok(listing["title"]):
        rules.add("title_not_cp932")
    # (RC-10021's raw newlines break no rule: the connector turns them into <br>)
    if a["buyout_price"] and a["buyout_price"] < a["start_price"]:
        rules.add("buyout_below_start")
    if len(listing["image_urls"]) > 10:
        rules.add("too_many_images")
    if corrupt:
        rules.add("corrupt_image")
    if a["sales_channel"] == "店頭のみ":
        rules.add("sales_channel_store_only")
    if duplicate:
        rules.add("duplicate_management_number")
    return rules


async def test_seed_has_valid_stock_and_one_broken_rule_per_invalid_item(
    client: TestClient, auth: dict[str, str]
) -> None:
    await client.post("/_sandbox/inventories", json={"form": "rich"})
    listings = await (
        await client.get("/ec/inventories", params={"limit": 250}, headers=auth)
    ).json()
    assert len(listings) == 26
    base = str(client.make_url("")).rstrip("/")
    seen_numbers: set[str] = set()
    found: dict[str, set[str]] = {}
    for summary in listings:
        detail = await (await client.get(f"/ec/inventories/{summary['id']}", headers=auth)).json()
        mn = detail["mall_attributes"]["management_number"]
        corrupt = False
        for url in detail["image_urls"]:
            data = await (await client.get(url.removeprefix(base))).read()
            try:
                Image.open(io.BytesIO(data)).verify()
            except Exception:
                corrupt = True
        assert 1 <= len(detail["image_urls"]) <= 11
        found[f"{mn}#{summary['id']}"] = broken_rules(detail, corrupt, mn in seen_numbers)
        seen_numbers.add(mn)
    invalid = {k: v for k, v in found.items() if v}
    # Exactly the documented items break exactly one rule each.
    assert {k.split("#")[0]: next(iter(v)) for k, v in invalid.items()} == SEEDED_INVALID
    assert all(len(v) == 1 for v in invalid.values())
    assert len(found) - len(invalid) == 19


async def test_seeded_listings_allocate_items_with_code_grade_photos_and_category(
    client: TestClient, auth: dict[str, str]
) -> None:
    """In the spec form, what the connector needs comes from the item and its catalogue."""
    listings = await (await client.get("/ec/inventories", headers=auth)).json()
    item_ids = [x["variants"][0]["allocations"][0]["item_id"] for x in listings]
    resp = await client.get("/items", params={"ids": ",".join(map(str, item_ids))}, headers=auth)
    assert resp.status == 200
    items = {i["id"]: i for i in await resp.json()}
    assert set(items) == set(item_ids)
    world = (await state(client))["listings"]
    numbers = {x["id"]: x["management_number"] for x in world}
    for listing, item_id in zip(listings, item_ids, strict=True):
        item = items[item_id]
        assert item["code"] == numbers[listing["id"]]  # the 管理番号 is the item's code
        assert item["grade"]["name"] in GRADES
        assert item["image_urls"] and item["image_urls"][0] == listing["image_url"]
        assert item["store"] == {"id": 1, "name": "本店"}
    assert len(items[item_ids[0]]["image_urls"]) == 8
    assert items[item_ids[0]]["condition_note"].count("\n") == 1  # ReCORE's notes: lines
    products = await (
        await client.get(
            "/products",
            params={"ids": ",".join(str(i["product_id"]) for i in items.values())},
            headers=auth,
        )
    ).json()
    first = next(p for p in products if p["id"] == items[item_ids[0]]["product_id"])
    assert first["category"] == {
        "id": 101,
        "name": "一眼レフカメラ",
        "ancestors": [{"id": 100, "name": "カメラ"}],
    }
    assert all(p["category"]["id"] in RECORE_CATEGORIES for p in products)
    # each scope on its own: a key without item:index is refused (403)
    limited = mint_key(client.app, ["ec:inventory:index"])  # type: ignore[arg-type]
    resp = await client.get("/items?ids=1", headers={"X-Identification": limited})
    assert resp.status == 403


def test_images_are_deterministic_jpegs_of_roughly_the_asked_size() -> None:
    spec = ImageSpec(seed="RC-10001#0", label="RC-10001", kb=40)
    data = render_jpeg(spec)
    assert data == render_jpeg(spec)
    assert data[:3] == b"\xff\xd8\xff"
    assert 20 * 1024 < len(data) < 60 * 1024
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG" and img.width >= 320
    other = render_jpeg(ImageSpec(seed="RC-10002#0", label="RC-10002", kb=40))
    assert other != data


def test_seed_is_deterministic() -> None:
    a, b = create_app(), create_app()
    assert demo_credentials(a) == demo_credentials(b)
    from sandbox.recore.app import WORLD_KEY

    wa, wb = a[WORLD_KEY].to_json(), b[WORLD_KEY].to_json()
    assert wa == wb


async def test_bulk_seed_adds_listings_with_tasks(
    client: TestClient, app: Any, auth: dict[str, str], creds: dict[str, Any]
) -> None:
    ids = seed_more_listings(app, 300, images_per_item=2, image_kb=10)
    assert len(ids) == len(set(ids)) == 300
    tasks = await poll(client, auth, creds["ec_account_id"], type="CREATE_INVENTORY")
    assert len(tasks) == 326  # every open one: the task list does not page (seen)
    resp = await client.post(
        "/_sandbox/listings", json={"count": 5, "images_per_item": 1, "image_kb": 8}
    )
    assert resp.status == 201 and (await resp.json())["count"] == 5
    inv = await (await client.get(f"/ec/inventories/{ids[-1]}", headers=auth)).json()
    item_id = inv["variants"][0]["allocations"][0]["item_id"]
    [item] = await (await client.get(f"/items?ids={item_id}", headers=auth)).json()
    assert len(item["image_urls"]) == 2 and item["code"] == "BM-000300"


async def test_create_listings_control_validates_all_items_first(client: TestClient) -> None:
    before = len((await state(client))["listings"])
    resp = await client.post(
        "/_sandbox/listings", json={"items": [{"title": "ok"}, {"image_count": 99}, 5]}
    )
    assert resp.status == 400
    assert set((await resp.json())["error"]["detail"]) == {"items.1.image_count", "items.2"}
    assert len((await state(client))["listings"]) == before
    resp = await client.post(
        "/_sandbox/listings",
        json={
            "items": [
                {
                    "title": "テスト出品",
                    "management_number": "T-1",
                    "image_count": 2,
                    "corrupt_images": [1],
                    "mall_attributes": {"start_price": 500},
                }
            ]
        },
    )
    assert resp.status == 201
    body = await resp.json()
    assert body["listings"][0]["management_number"] == "T-1"
    assert body["tasks"][0]["type"] == "CREATE_INVENTORY"


async def test_pages_render_with_their_buttons(
    client: TestClient, auth: dict[str, str], creds: dict[str, Any]
) -> None:
    html = await (await client.get("/ui/pending")).text()
    assert "出品待ち" in html and html.count(">出品</button>") == 3 and "出品する" in html
    html = await (await client.get("/ui/listings")).text()
    for label in ("待機中", "出品処理中", "出品中", "エラー", "出品終了"):
        assert label in html
    # List a pending item through its button: it appears under 待機中 with a task.
    resp = await client.post("/ui/pending/1/list", allow_redirects=False)
    assert resp.status == 303 and "tab=WAITING" in resp.headers["Location"]
    html = await (await client.get(resp.headers["Location"])).text()
    assert "RC-10031" in html and "CREATE_INVENTORY" in html
    # 店頭で販売 shows on listed items only.
    task = (await poll(client, auth, creds["ec_account_id"]))[0]
    await client.post(
        f"/ec/gateway/tasks/{task['id']}/succeeded",
        json={"mall_product_code": "x123456789"},
        headers=auth,
    )
    html = await (await client.get("/ui/listings?tab=DONE")).text()
    assert html.count("店頭で販売</button>") == 1 and "x123456789" in html
    resp = await client.post(
        f"/ui/listings/{task['data']['ec_inventory_id']}/sell-in-store?tab=DONE",
        allow_redirects=False,
    )
    assert resp.status == 303
    # Orders: tabs, then 出荷 with a tracking number and キャンセル.
    for n in (1, 2):
        body = {
            "ec_account_id": creds["ec_account_id"],
            "mall_order_id": f"o-{n}",
            "status": "UNSHIPPED",
            "buyer_name": "佐藤 花子",
            "payment_total": 1000,
            "goods": [],
        }
        await client.post("/ec/gateway/order/upsert", json=body, headers=auth)
    html = await (await client.get("/ui/orders?tab=UNSHIPPED")).text()
    for label in ("保留中", "未出荷", "出荷済み", "キャンセル済み"):
        assert label in html
    assert html.count(">出荷</button>") == 2 and html.count(">キャンセル</button>") == 2
    assert 'name="tracking_number"' in html
    st = await state(client)
    first, second = (o["id"] for o in st["orders"])
    resp = await client.post(
        f"/ui/orders/{first}/ship",
        data={"carrier": "SAGAWA", "tracking_number": "4455-6677-8899"},
        allow_redirects=False,
    )
    assert resp.status == 303 and "err" not in resp.headers["Location"]
    resp = await client.post(
        f"/ui/orders/{second}/ship", data={"carrier": "NOPE"}, allow_redirects=False
    )
    assert "err=" in resp.headers["Location"]
    html = await (await client.get(resp.headers["Location"])).text()
    assert "配送業者は" in html
    await client.post(f"/ui/orders/{second}/cancel", allow_redirects=False)
    types = [t["type"] for t in (await state(client))["tasks"][-3:]]
    assert types == ["DELETE_INVENTORY", "SHIP_ORDER", "CANCEL_ORDER"]
    ship = (await state(client))["tasks"][-2]
    assert (
        ship["data"]["tracking_number"] == "4455-6677-8899" and ship["data"]["carrier"] == "SAGAWA"
    )
    # New listing form, and its error path.
    resp = await client.post(
        "/ui/listings/new",
        data={
            "title": "新品 テスト",
            "management_number": "N-1",
            "start_price": "1500",
            "image_count": "2",
        },
        allow_redirects=False,
    )
    assert "msg=" in resp.headers["Location"]
    resp = await client.post(
        "/ui/listings/new", data={"title": "", "start_price": "abc"}, allow_redirects=False
    )
    assert "err=" in resp.headers["Location"]
    assert (await client.get("/ui/tasks")).status == 200


async def test_store_only_pending_item_cannot_be_listed(client: TestClient) -> None:
    resp = await client.post("/_sandbox/listings", json={"items": [{"title": "a"}]})
    assert resp.status == 201
    resp = await client.post("/_sandbox/pending/99/list")
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "NOT_FOUND"


async def test_state_survives_restart(tmp_path: Path, aiohttp_client: ClientFactory) -> None:
    path = tmp_path / "recore.json"
    app = create_app(state_file=path, rate_limit=10_000)
    client = await aiohttp_client(app)
    creds = demo_credentials(app)
    auth = {"X-Identification": creds["api_key"]}
    task = (await poll(client, auth, creds["ec_account_id"]))[0]
    await client.post(
        f"/ec/gateway/tasks/{task['id']}/succeeded", json={"mall_product_code": "c99"}, headers=auth
    )
    body = {
        "ec_account_id": creds["ec_account_id"],
        "mall_order_id": "keep-me",
        "status": "ORDERED",
    }
    await client.post("/ec/gateway/order/upsert", json=body, headers=auth)
    await client.post("/_sandbox/tasks", json={"type": "RETURN_ORDER", "data": {"ec_order_id": 1}})
    before = await state(client)
    await client.close()
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == 2
    assert os.listdir(tmp_path) == ["recore.json"]  # no temp file left behind

    app2 = create_app(state_file=path, rate_limit=10_000)
    client2 = await aiohttp_client(app2)
    after = await state(client2)
    assert after["listings"] == before["listings"]
    assert after["orders"] == before["orders"]
    assert [t["id"] for t in after["tasks"]] == [t["id"] for t in before["tasks"]]
    assert after["api_key"] == before["api_key"]
    inv = await (
        await client2.get(f"/ec/inventories/{task['data']['ec_inventory_id']}", headers=auth)
    ).json()
    assert inv["status"] == "DONE" and inv["mall_product_code"] == "c99"
    # New ids continue after the old ones.
    resp = await client2.post("/_sandbox/tasks", json={"type": "CONFIRM_ORDER"})
    new_id = (await resp.json())["task"]["id"]
    assert new_id not in {t["id"] for t in before["tasks"]}


def test_first_version_state_file_gets_items_and_a_catalogue(tmp_path: Path) -> None:
    """A state file written before items existed keeps its world, its stock gains items."""
    from sandbox.recore.app import WORLD_KEY

    world = create_app()[WORLD_KEY].to_json()
    old = {k: v for k, v in world.items() if k not in ("items", "products", "categories", "grades")}
    path = tmp_path / "recore.json"
    path.write_text(json.dumps({**old, "version": 1}), encoding="utf-8")
    upgraded = create_app(state_file=path)[WORLD_KEY]
    assert len(upgraded.listings) == 26 and len(upgraded.pending) == 3
    first = upgraded.listings[5001]
    item = upgraded.items[first["variants"][0]["allocations"][0]["item_id"]]
    assert item["code"] == "RC-10001" and upgraded.grades[item["grade_id"]] == "中古A"
    assert upgraded.products[item["product_id"]]["category_id"] == 101


def test_unreadable_state_file_is_an_error_not_a_silent_reset(tmp_path: Path) -> None:
    path = tmp_path / "recore.json"
    path.write_text('{"version": 99}', encoding="utf-8")
    with pytest.raises(ValueError, match="version"):
        create_app(state_file=path)


async def test_reset_control(client: TestClient) -> None:
    await client.post("/_sandbox/tasks", json={"type": "CONFIRM_ORDER"})
    resp = await client.post("/_sandbox/reset", json={"seed": False})
    assert (await resp.json()) == {"listings": 0, "tasks": 0}
    resp = await client.post("/_sandbox/reset")
    assert (await resp.json())["listings"] == 26


async def test_slow_saves_are_coalesced_and_flushed(tmp_path: Path) -> None:
    from sandbox.recore.world import World

    path = tmp_path / "w.json"
    world = World(path)
    world.save()
    world._last_save_cost = 5.0  # pretend a write is slow (a world of thousands of listings)
    world.issue_task("CONFIRM_ORDER", {})
    world.changed()
    assert json.loads(path.read_text(encoding="utf-8"))["tasks"] == []  # not yet written
    world.flush()
    assert len(json.loads(path.read_text(encoding="utf-8"))["tasks"]) == 1
