"""The co-api client against the ReCORE sandbox over real HTTP, and its pure conversions."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion.domain import Order, OrderLine, OrderStatus
from companion.recore import client as rc
from companion.recore.client import (
    RecoreClient,
    RecoreRateLimited,
    RecoreRejected,
    RecoreUnauthorized,
    RecoreUnavailable,
    listing_from_inventory,
)
from sandbox.recore.app import mint_key
from tests.conftest import free_port
from tests.recore.conftest import Sandbox, SandboxFactory, valid_item


async def test_poll_fetch_and_report(sandbox: Sandbox, client: RecoreClient) -> None:
    [created] = await sandbox.create_listings(valid_item("T-0001", start_price=1200))
    tasks = await client.poll_tasks()
    assert [t["type"] for t in tasks] == ["CREATE_INVENTORY"]
    assert tasks[0]["data"]["ec_inventory_id"] == created["id"]

    inventory = await client.get_inventory(created["id"])
    listing = listing_from_inventory(inventory)
    assert listing.ec_inventory_id == created["id"]
    assert listing.management_number == "T-0001"
    assert listing.start_price == 1200
    assert listing.variant_id == created["variant_ids"][0]
    assert listing.image_urls and listing.image_urls[0].startswith(sandbox.url)
    assert listing.unparsed == {}

    body = rc.succeeded_body(listing, auction_id="x123456789", auction_url="https://example.jp/a")
    await client.report_succeeded(tasks[0]["id"], body)
    state = await sandbox.state()
    [stored] = state["listings"]
    assert stored["status"] == "DONE"
    assert stored["mall_product_code"] == "x123456789"
    assert stored["mall_item_codes"] == ["T-0001"]
    assert await client.poll_tasks() == []  # reported tasks leave the poll


async def test_the_poll_sends_only_what_the_spec_lists(sandbox: Sandbox) -> None:
    """`ec_account_id` and nothing else: no page, limit or cursor (the spec's query table)."""
    sent: list[dict[str, str]] = []

    async def record(_session: Any, _ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        if params.url.path == "/ec/gateway/tasks":
            sent.append(dict(params.url.query))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(record)
    async with aiohttp.ClientSession(trace_configs=[trace]) as http:
        client = sandbox.client(http, rate=100.0)
        await sandbox.issue_task("SHIP_ORDER", {"ec_order_id": 1, "mall_order_id": "o-1"})
        assert len(await client.poll_tasks()) == 1
        assert len(await client.poll_tasks("SHIP_ORDER")) == 1
    assert sent == [
        {"ec_account_id": "3"},
        {"ec_account_id": "3", "type": "SHIP_ORDER"},
    ]


async def test_a_parameter_refused_by_name_is_left_out_and_the_call_made_again(
    sandbox: Sandbox, client: RecoreClient, caplog: pytest.LogCaptureFixture
) -> None:
    # the spec's order list has no mall_order_ids filter; the sandbox refuses it by name (400)
    await sandbox.control("faults", {"reset": True})
    with caplog.at_level("WARNING"):
        assert await client.list_orders(mall_order_ids=["none-such"]) == []
        assert await client.list_orders(mall_order_ids=["none-such"]) == []
    refused = [r for r in caplog.records if "refused query parameter" in r.getMessage()]
    assert len(refused) == 1 and "mall_order_ids" in refused[0].getMessage()
    state = await sandbox.state()
    # one 400, then only calls without it
    assert state["requests"]["by_status"].get("400") == 1


async def test_paging_follows_next_cursor(sandbox: Sandbox, client: RecoreClient) -> None:
    for n in range(7):
        await sandbox.issue_task("SHIP_ORDER", {"ec_order_id": n, "mall_order_id": f"o-{n}"})
    # the spec shows no paging on the task list; a ReCORE that pages anyway is followed
    await sandbox.faults(task_page_size=3)  # three pages, joined by X-Next-Cursor
    tasks = await client.poll_tasks()
    assert [t["data"]["mall_order_id"] for t in tasks] == [f"o-{n}" for n in range(7)]


async def test_bad_key_is_unauthorized_in_japanese(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    bad = sandbox.client(http, api_key="not-a-jwt")
    with pytest.raises(RecoreUnauthorized) as info:
        await bad.poll_tasks()
    assert info.value.status == 401
    assert "APIキー" in info.value.message
    assert "not-a-jwt" not in str(info.value) + info.value.message  # the key never leaks


async def test_missing_scope_names_the_scope(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    key = mint_key(sandbox.app, ["ec:gateway:task:index"])
    limited = sandbox.client(http, api_key=key)
    assert await limited.poll_tasks() == []
    with pytest.raises(RecoreUnauthorized) as info:
        await limited.get_inventory(5001)
    assert info.value.status == 403
    assert "ec:inventory:index" in info.value.message


async def test_validation_error_is_rejected_with_detail(
    sandbox: Sandbox, client: RecoreClient
) -> None:
    await sandbox.create_listings(valid_item("T-0002"))
    [task] = await client.poll_tasks()
    with pytest.raises(RecoreRejected) as info:
        await client.report_succeeded(task["id"], {"mall_url": "ftp://nope"})
    err = info.value
    assert err.status == 400 and err.code == "VALIDATE_FAILED"
    assert {"mall_product_code", "mall_url"} <= set(err.detail)
    assert "mall_product_code" in err.message


async def test_unknown_listing_is_rejected_404(client: RecoreClient) -> None:
    with pytest.raises(RecoreRejected) as info:
        await client.get_inventory(999999)
    assert info.value.status == 404


async def test_down_5xx_and_network_errors_are_unavailable(
    sandbox: Sandbox, client: RecoreClient, http: aiohttp.ClientSession
) -> None:
    await sandbox.faults(down_seconds=30)
    with pytest.raises(RecoreUnavailable) as info:
        await client.poll_tasks()
    assert info.value.status == 503 and not isinstance(info.value, RecoreRateLimited)
    assert info.value.retry_after is not None and 1 <= info.value.retry_after <= 30
    await sandbox.faults(reset=True, error_5xx=1)
    with pytest.raises(RecoreUnavailable):
        await client.poll_tasks()
    assert await client.poll_tasks() == []  # the fault was one request long

    closed = RecoreClient(f"http://127.0.0.1:{free_port()}", "k", 3, None, http, timeout=2)
    with pytest.raises(RecoreUnavailable) as info:
        await closed.poll_tasks()
    assert "接続できません" in info.value.message


async def test_timeout_is_unavailable(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    await sandbox.faults(slow_ms=1500)
    impatient = sandbox.client(http, timeout=0.2)
    with pytest.raises(RecoreUnavailable) as info:
        await impatient.poll_tasks()
    assert "タイムアウト" in info.value.message


async def test_429_carries_retry_after_and_slows_the_bucket(
    sandbox: Sandbox, client: RecoreClient
) -> None:
    await sandbox.faults(rate_limit_storm=1)
    with pytest.raises(RecoreRateLimited) as info:
        await client.poll_tasks()
    assert info.value.retry_after == 1.0
    bucket = client.bucket(rc.EP_TASKS)
    assert bucket.penalties == 1 and bucket.rate < bucket.max_rate
    assert await client.poll_tasks() == []  # after waiting Retry-After, it gets through


async def test_pacing_keeps_a_burst_under_the_real_limit(
    make_sandbox: SandboxFactory, http: aiohttp.ClientSession
) -> None:
    sandbox = await make_sandbox(rate_limit=5)  # the real 5 requests/s per endpoint
    client = sandbox.client(http)  # default pacing
    results = await asyncio.gather(
        *(client.poll_tasks() for _ in range(12)), return_exceptions=True
    )
    limited = [r for r in results if isinstance(r, RecoreRateLimited)]
    assert [r for r in results if not isinstance(r, RecoreRateLimited)] == [[]] * (
        12 - len(limited)
    )
    state = await sandbox.state()
    # Paced at 90 % of the limit: arrivals bunched by the loopback scheduler may still hit
    # an occasional 429 (which the outbox would retry); a burst of 12 unpaced would get 7.
    assert len(limited) <= 1
    assert state["requests"]["by_status"].get("429", 0) == len(limited)
    assert state["requests"]["by_status"].get("200") == 12 - len(limited)


# ---- conversions ------------------------------------------------------------------------------
def _inventory(**attrs: Any) -> dict[str, Any]:
    return {
        "id": 5001,
        "title": "タイトル",
        "description": "<p>説明</p>",
        "image_urls": ["http://127.0.0.1/images/1.jpg"],
        "variants": [{"id": 9001}],
        "mall_attributes": {"management_number": "A-1", **attrs},
    }


def test_values_that_do_not_parse_are_kept_by_field() -> None:
    listing = listing_from_inventory(
        _inventory(
            start_price="abc",
            buyout_price="1,500",
            quantity="１",
            auto_extend="maybe",
            payment_methods=[1, 2],
            category_id=2084261685,
            end_hour=22.0,
        )
    )
    assert listing.unparsed == {
        "start_price": "abc",
        "auto_extend": "maybe",
        "payment_methods": [1, 2],
    }
    assert listing.buyout_price == 1500 and listing.quantity == 1 and listing.end_hour == 22
    assert listing.category_id == "2084261685"
    assert listing.start_price is None and listing.auto_extend is True  # default kept
    problems = {p.field: p.message for p in rc.inventory_problems(_inventory(start_price="abc"))}
    assert problems == {"start_price": '開始価格: 数値ではありません（"abc"）'}


def test_not_an_object_is_one_problem() -> None:
    listing = listing_from_inventory(["junk"])
    assert listing.ec_inventory_id == 0 and "inventory" in listing.unparsed
    bad_attrs = listing_from_inventory({"id": 7, "mall_attributes": "x"})
    assert bad_attrs.ec_inventory_id == 7 and bad_attrs.unparsed == {"mall_attributes": "x"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
attr_names = st.sampled_from(
    ["start_price", "quantity", "auto_extend", "payment_methods", "management_number", "title",
     "category_id", "condition", "end_hour", "tax_included", "listed_on_other_malls"]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    attrs=st.dictionaries(attr_names, json_values, max_size=8),
    top=st.dictionaries(
        st.sampled_from(["id", "title", "description", "image_urls", "image_url", "variants"]),
        json_values,
        max_size=6,
    ),
)
def test_conversion_never_raises(attrs: dict[str, Any], top: dict[str, Any]) -> None:
    listing = listing_from_inventory({**top, "mall_attributes": attrs})
    assert isinstance(listing.ec_inventory_id, int)
    for name in listing.unparsed:
        assert isinstance(name, str)
    for p in rc.inventory_problems({**top, "mall_attributes": attrs}):
        assert p.message and p.message_en


def test_order_body_and_status_enums() -> None:
    order = Order(
        mall_order_id="store-10001",
        status=OrderStatus.UNSHIPPED,
        store_status="入金済み",
        payment_total=12800,
        prefecture="大阪府",
        tracking_number="1234-5678",
        carrier="ヤマト運輸",
        lines=[OrderLine("RC-10001", "x1000001", 12800)],
    )
    body = rc.order_upsert_body(order, 3)
    assert body["status"] == "UNSHIPPED" and body["ec_account_id"] == 3
    assert body["goods"] == [
        {
            "mall_item_id": "x1000001",
            "mall_item_code": "RC-10001",
            "unit_price": 12800,
            "quantity": 1,
            "tax_rate_type": None,
        }
    ]
    assert "1234-5678" in body["comment"]
    # sub_status is ReCORE's own enum (unseen): never sent; the store's status goes into note
    assert "sub_status" not in body
    assert body["note"] == "ヤフオクのストアステータス: 入金済み"
    # the spelling of ReCORE's statuses is a table: a corrected one is what is sent
    names = {**rc.ORDER_STATUS_TO_RECORE, OrderStatus.UNSHIPPED: "WAIT_SHIPPING"}
    assert rc.order_upsert_body(order, 3, names)["status"] == "WAIT_SHIPPING"
    assert rc.order_status_from_recore("WAIT_SHIPPING", names) == OrderStatus.UNSHIPPED
    assert {rc.ORDER_STATUS_TO_RECORE[s] for s in OrderStatus} == {
        "ORDERED",
        "UNSHIPPED",
        "SHIPPED",
        "CANCELED",
    }
    assert all(rc.order_status_from_recore(rc.ORDER_STATUS_TO_RECORE[s]) == s for s in OrderStatus)
    assert rc.order_status_from_recore("BOGUS") is None
    assert rc.succeeded_body() == {}
    assert rc.failed_body("  ")["message"]
