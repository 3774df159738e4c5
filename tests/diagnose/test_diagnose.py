"""`recore-connector diagnose` against both sandboxes (real servers, real Chromium, SQLite): what is
needed is found on the demo; the layout-change switch is named and fails the run; with ReCORE down
the Yahoo part still runs; the bundle holds no secret and nothing personal of the sandbox's buyers.
"""

from __future__ import annotations

import asyncio
import sys
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from companion.diagnose.bundle import run_diagnosis
from companion.keys import SETTINGS, STORE
from tests.conftest import both_worlds
from tests.direct.conftest import Wired, WiredFactory

pytestmark = pytest.mark.browser

READ_ONLY_PAGES = {"top", "upload", "item_create", "items", "selling", "sold", "orders"}


async def diagnose(wired: Wired, out: Path) -> Any:
    app = wired.client.app
    async with aiohttp.ClientSession() as http:
        return await run_diagnosis(app[SETTINGS], app[STORE], http, out)


def bundle_texts(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name).decode("utf-8") for name in zf.namelist()}


@both_worlds
async def test_everything_needed_is_found_on_the_demo(
    make_wired: WiredFactory, tmp_path: Path
) -> None:
    wired = await make_wired(listings=2)
    before = await wired.sb.yahoo_state()
    result = await diagnose(wired, tmp_path / "out")
    assert result.missing == [], result.summary_ja
    assert result.ok, result.summary_ja
    assert "問題は見つかりませんでした" in result.summary_ja
    assert result.zip_path.name.isascii() and result.zip_path.suffix == ".zip"
    files = bundle_texts(result.zip_path)
    pages = {name.split("/")[1] for name in files if name.startswith("yahoo/")}
    assert READ_ONLY_PAGES <= pages
    assert "order_detail" in pages and "item_edit" in pages
    assert "summary-ja.txt" in files and "recore.json" in files
    recore = result.recore
    assert recore["reachable"] and recore["inventory_trees"], recore
    assert recore["error_shape"]["code"] == "VALIDATE_FAILED"
    # read only: the store holds exactly what it held
    after = await wired.sb.yahoo_state()
    assert after["counts"] == before["counts"]
    assert after["listings"] == before["listings"]


@both_worlds
async def test_a_changed_layout_is_named_and_fails(
    make_wired: WiredFactory, tmp_path: Path
) -> None:
    wired = await make_wired(listings=0)
    await wired.sb.yahoo_faults(layout_changed=True)
    result = await diagnose(wired, tmp_path)
    assert not result.ok
    assert {"page": "item_create", "fact": "form.fields.タイトル"} in result.missing
    assert "form.fields.タイトル" in result.summary_ja and "titleInputText" in result.summary_ja


async def test_recore_down_is_said_and_the_yahoo_part_still_runs(
    make_wired: WiredFactory, tmp_path: Path
) -> None:
    wired = await make_wired(listings=0)
    await wired.sb.recore.close()  # nothing answers there any more
    result = await diagnose(wired, tmp_path)
    assert not result.ok
    assert result.recore["reachable"] is False
    assert "ReCOREに接続できません" in result.summary_ja
    assert "ヤフオク「商品登録フォーム」の画面を読み取れます" in result.summary_ja
    assert result.missing == []


async def test_the_bundle_holds_no_secret_and_no_buyer(
    make_wired: WiredFactory, tmp_path: Path
) -> None:
    wired = await make_wired(listings=1)
    state = await wired.sb.yahoo_state()
    assert state["orders"], "the seeded store has orders"
    result = await diagnose(wired, tmp_path)
    files = bundle_texts(result.zip_path)
    account = state["account"]
    secrets = [account["password"], account["business_password"], account["yahoo_id"]]
    settings = wired.client.app[SETTINGS]
    secrets.append(await settings.secret("recore_api_key"))
    personal: list[str] = []
    for order in state["orders"]:
        for key in ("buyer_name", "buyer_kana", "address", "phone", "mail", "postal_code"):
            value = order.get(key)
            if value:
                personal += [value, value.replace(" ", "")]
        personal.append(order["buyer_id"])
    leaks = {
        (name, value)
        for name, text in files.items()
        for value in [*secrets, *personal]
        if value and value in text
    }
    assert leaks == set()
    # ids are kept as stable hashes: the first order's id appears nowhere, its hash does
    order_id = state["orders"][0]["order_id"]
    assert not any(order_id in text for text in files.values())
    detail = files.get("yahoo/order_detail/rendered.html", "")
    assert "[redacted]" in detail and 'type="hidden"' not in detail


async def test_the_command_exits_non_zero_when_something_is_missing(
    make_wired: WiredFactory, data_dir: Path, tmp_path: Path
) -> None:
    wired = await make_wired(listings=0)
    await wired.sb.yahoo_faults(layout_changed=True)
    out = tmp_path / "bundle"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "companion.cli",
        "diagnose",
        "--data-dir",
        str(data_dir),
        "--yahoo-base-url",
        wired.sb.yahoo_url,
        "--out",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await proc.communicate()
    text = stdout.decode()
    assert proc.returncode == 1, (text, stderr.decode()[-2000:])
    assert "form.fields.タイトル" in text
    assert [p.suffix for p in out.iterdir()] == [".zip"]
    assert "missing on item_create: form.fields.タイトル" in stderr.decode()


async def test_the_shops_facts_file_is_shown_and_corrects_the_diagnosis(
    make_wired: WiredFactory, data_dir: Path, tmp_path: Path
) -> None:
    from tests.direct.test_shop_facts import CORRECTION

    (data_dir / "facts.toml").write_text(CORRECTION, encoding="utf-8")
    wired = await make_wired(listings=0)
    await wired.sb.yahoo_faults(layout_changed=True)
    result = await diagnose(wired, tmp_path)
    assert result.missing == [], result.summary_ja
    assert "お店用の設定ファイル" in result.summary_ja
    files = bundle_texts(result.zip_path)
    assert files["facts/shop-facts.toml"] == CORRECTION
    assert '"state": "applied"' in files["report.json"]


async def test_the_options_page_route_runs_it(make_wired: WiredFactory, data_dir: Path) -> None:
    wired = await make_wired(listings=0)
    await wired.sb.yahoo_faults(layout_changed=True)
    status, body = await wired.post("/api/v1/diagnose")
    assert status == 200, body
    assert body["ok"] is False
    assert {"page": "item_create", "fact": "form.fields.タイトル"} in body["missing"]
    assert "接続診断" in body["summary"]
    assert body["zip_name"].startswith("recore-connector-diagnosis-")
    assert body["zip"] in {str(p) for p in (data_dir / "exports" / "diagnosis").iterdir()}
    # only the paired extension may run it
    resp = await wired.client.post("/api/v1/diagnose")
    assert resp.status == 401
