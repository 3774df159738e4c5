"""One parser for both store worlds: the same seeded store, saved as world classic serves it (tables
with headers, server HTML) and as world next shows it after rendering (repeated `ul`/`li` blocks,
generated class names, a pager block with its own checkbox), reads as the same rows. And every
login step of both worlds is recognised by what it shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from sandbox.yahoo.app import create_app
from scrapers import parse
from scrapers.facts import FACTS, ListFacts, facts_from_dict, load_facts
from scrapers.parse import PageKind
from tests.sync.conftest import PAGES

NEXT_PAGES = Path(__file__).parents[1] / "sandbox_yahoo" / "pages" / "next"
LISTS = FACTS.lists


def rows(path: Path, lst: ListFacts) -> dict[str, parse.ListRow]:
    page = parse.parse_list(path.read_text(encoding="utf-8"), lst)
    assert not page.problems and not page.shell
    assert len(page.rows) == page.total, "the pager block's checkbox is not a row"
    return {r.auction_id or r.item_id or "": r for r in page.rows}


@pytest.mark.parametrize(
    ("lst", "classic"),
    [
        (LISTS.selling, "selling_p1.html"),
        (LISTS.sold, "sold_p1.html"),
        (LISTS.items, "items_p1.html"),
    ],
)
def test_both_worlds_read_as_the_same_rows(lst: ListFacts, classic: str) -> None:
    before = rows(PAGES / classic, lst)
    after = rows(NEXT_PAGES / f"{lst.key}.html", lst)
    assert set(before) <= set(after)  # world next's seed has two more items (REG-…)
    fields = ("management_number", "auction_id", "price", "bids", "end_time", "sold_at", "winner")
    for key, row in before.items():
        other = after[key]
        assert [getattr(row, f) for f in fields] == [getattr(other, f) for f in fields], key
        if lst is LISTS.items:
            assert (row.item_id, row.status) == (other.item_id, other.status)


def test_a_registered_item_has_no_auction_and_says_so() -> None:
    items = rows(NEXT_PAGES / "items.html", LISTS.items)
    registered = next(r for r in items.values() if r.management_number == "REG-0001")
    assert registered.auction_id is None and registered.status == "未出品"
    assert FACTS.items.is_live(registered.status), "a registered item blocks listing it again"
    assert registered.item_id and registered.edit_url


def test_the_lists_json_when_the_facts_know_its_keys() -> None:
    data = {
        "page": 1, "pageSize": 50, "totalCount": 2, "hasNext": False,
        "items": [
            {"itemId": 5000041, "businessCommodityId": "REG-0001", "title": "t", "status":
             "registered", "statusLabel": "未出品", "auctionId": "", "currentPrice": 1000,
             "bidCount": 0, "updateDate": "2026/11/22 09:00", "editUrl": "/e?item_id=5000041"},
            {"itemId": 5000042, "businessCommodityId": "REG-0002", "title": "u", "status":
             "selling", "statusLabel": "出品中", "auctionId": "x1100000041",
             "currentPrice": 1200, "bidCount": 2, "updateDate": "2026/11/22 09:00",
             "editUrl": "/e?item_id=5000042"},
        ],
    }  # fmt: skip
    page = parse.list_from_json(data, LISTS.items)
    assert page is not None and page.total == 2
    first, second = page.rows
    assert (first.item_id, first.auction_id, first.status) == ("5000041", None, "未出品")
    assert (second.auction_id, second.price, second.bids) == ("x1100000041", 1200, 2)
    # a shape the facts do not know is not guessed at: the rendered page is read instead
    renamed = json.loads(json.dumps(data).replace("statusLabel", "stateText"))
    assert parse.list_from_json(renamed, LISTS.items) is None
    assert parse.list_from_json({"rows": []}, LISTS.items) is None


def test_a_shell_without_rows_is_told_apart_from_an_empty_list() -> None:
    shell = '<div id="__next"><div id="js-loadingWrapper">読み込み中</div></div>'
    assert parse.parse_list(shell, LISTS.selling).shell
    empty = '<div id="__next"><p>出品中の商品はありません。</p></div>'
    got = parse.parse_list(empty, LISTS.selling)
    assert got.rows == [] and not got.shell


# --- login steps ------------------------------------------------------------------------------
@pytest.fixture
async def next_store(aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(world="next"))


async def kind(client: TestClient, path: str, **data: str) -> PageKind:
    if data:
        r = await client.post(path, data=data)
    else:
        r = await client.get(path)
    return parse.classify(await r.text(), str(r.url))


async def test_every_login_step_of_world_next_is_recognised(next_store: TestClient) -> None:
    client = next_store
    done = ".done=/pro.recore-demo"
    assert await kind(client, f"/pro.recore-demo?{done}") == PageKind.CHOOSER  # via the bridge
    assert await kind(client, f"/config/login?.src=bizmgr&{done}") == PageKind.LOGIN_HANDLE
    # the password comes back on the same page after a wrong one (no longer hidden)
    wrong = {"handle": "shop-demo", "passwd": "wrong", ".done": "/pro.recore-demo"}
    assert await kind(client, "/config/login", **wrong) == PageKind.LOGIN_PASSWORD
    await client.post("/_sandbox/faults", json={"sms_wall": True})
    right = {**wrong, "passwd": "demo-pass-1234"}
    assert await kind(client, "/config/login", **right) == PageKind.ONE_TIME_CODE
    await client.post("/_sandbox/faults", json={"sms_wall": False})
    assert await kind(client, "/config/login", **right) == PageKind.BUSINESS
    # a login path is never a logged-in store page, whatever it shows
    assert parse.classify("<p>ようこそ</p>", "http://x/yidlogin?a=1") == PageKind.LOGIN_CHANGED
    assert parse.classify("<p>ようこそ</p>", "https://login.yahoo.co.jp/") == PageKind.LOGIN_CHANGED


def test_a_shops_facts_override_is_checked_before_use(tmp_path: Path) -> None:
    override = tmp_path / "facts.toml"
    override.write_text('[navigation.selling]\ntexts = ["出品中の商品"]\n', encoding="utf-8")
    assert load_facts(override).navigation.selling.texts == ("出品中の商品",)
    assert load_facts(override).navigation.sold.texts == FACTS.navigation.sold.texts
    for bad in (
        '[login]\nhandel = ["#x"]\n',
        '[texts]\nyen_pattern = "[("\n',
        "[lists]\npage_param = 3\n",
    ):
        override.write_text(bad, encoding="utf-8")
        with pytest.raises(ValueError):
            load_facts(override)
    with pytest.raises(ValueError, match="missing"):
        facts_from_dict({"origins": {}})
