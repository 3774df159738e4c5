"""Save the Yahoo sandbox's pages that the parsers read, as fixtures for `test_parse.py`.

    .venv/bin/python -m tests.direct.save_pages

Plain HTTP against an in-process sandbox (the pages are server-rendered); run again when the
sandbox's pages change, and review the diff.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from sandbox.yahoo.app import WORLD, create_app

PAGES = Path(__file__).with_name("pages")

FORM = "/serinavi/items/create?action=create&folder_id=1"
GOOD = {
    "businessCommodityIdInputText": "FX-0001",
    "titleInputText": "テスト商品 SEIKO 腕時計",
    "categoryIdInputText": "23828",
    "Description_plain": "説明<br>です",
    "startPriceInputText": "1000",
    "bidOrBuyPriceInputText": "0",
    "quantityInputText": "1",
    "durationSelect": "7",
    "endTimeSelect": "22",
    "numResubmitSelect": "0",
    "changePriceRatioResubmitSelect": "0",
    "prefectureCodeSelect": "13",
    "cityNameInputText": "豊島区",
    "chargeForShippingRadio": "buyer",
    "istatus": "used20",
    "deliveryGroupSelect": "1",
    "leadTimeSelect": "1",
    "taxRateSelect": "10",
    "_step": "input",
}


async def save() -> None:
    PAGES.mkdir(exist_ok=True)
    app = create_app(seed=True)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    world = app[WORLD]
    url = lambda path: str(server.make_url(path))  # noqa: E731

    def write(name: str, html: str) -> None:
        (PAGES / name).write_text(html, encoding="utf-8")
        print("saved", name)

    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as anon:
            async with anon.get(url("/config/login?.src=bizmgr&.done=/serinavi")) as r:
                write("login_handle.html", await r.text())
            async with anon.post(url("/config/login"), data={"handle": "shop-demo"}) as r:
                write("login_password.html", await r.text())
            async with anon.post(
                url("/config/login"), data={"handle": "shop-demo", "passwd": "wrong"}
            ) as r:
                write("login_wrong_password.html", await r.text())
        world.failed_logins["shop-demo"] = 3
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as anon:
            async with anon.post(url("/config/login"), data={"handle": "shop-demo"}) as r:
                write("login_captcha.html", await r.text())
        world.failed_logins.clear()
        world.faults["sms_wall"] = True
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as anon:
            data = {"handle": "shop-demo", "passwd": "demo-pass-1234"}
            async with anon.post(url("/config/login"), data=data) as r:
                write("login_sms.html", await r.text())
        world.faults["sms_wall"] = False
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as anon:
            data = {"handle": "shop-demo", "passwd": "demo-pass-1234"}
            async with anon.post(url("/config/login"), data=data) as r:
                write("login_business.html", await r.text())

        sid = world.new_session("full").sid
        async with aiohttp.ClientSession(cookies={"T": sid}) as s:
            async with s.get(url("/pro.recore-demo")) as r:
                write("store_top.html", await r.text())
            async with s.get(url(FORM)) as r:
                write("item_form.html", await r.text())
            async with s.post(url(FORM), data={**GOOD, "categoryIdInputText": "12a"}) as r:
                write("item_form_errors.html", await r.text())
            async with s.post(url(FORM), data=GOOD) as r:
                confirm = await r.text()
                write("item_confirm.html", confirm)
            draft = confirm.split('name="draft_id" value="')[1].split('"')[0]
            data = {"draft_id": draft, "_step": "confirm"}
            async with s.post(url(FORM), data=data) as r:
                write("item_complete.html", await r.text())
            async with s.post(url(FORM), data=data) as r:
                write("item_draft_expired.html", await r.text())
            world.bulk(60, 0)  # 101 items: three pages of 50
            async with s.get(url("/serinavi/items?folder_id=&sort=-update_date&page=1")) as r:
                write("item_list_p1.html", await r.text())
            async with s.get(url("/serinavi/items?folder_id=&sort=-update_date&page=3")) as r:
                write("item_list_p3.html", await r.text())
            async with s.get(url("/serinavi/items?folder_id=&sort=-update_date&page=9")) as r:
                write("item_list_empty.html", await r.text())
            world.faults["layout_changed"] = True
            async with s.get(url(FORM)) as r:
                write("item_form_layout_changed.html", await r.text())
            async with s.get(url("/serinavi/items?folder_id=&sort=-update_date&page=1")) as r:
                write("item_list_layout_changed.html", await r.text())
            world.faults["layout_changed"] = False
            world.faults["error_5xx"] = 1
            async with s.get(url(FORM)) as r:
                write("busy_503.html", await r.text())
    finally:
        await server.close()


if __name__ == "__main__":
    asyncio.run(save())
