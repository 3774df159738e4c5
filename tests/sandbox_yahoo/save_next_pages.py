"""Save world next's list pages as a browser shows them after rendering (`page.content()`), so
parsers can be tested on them without a browser:

    .venv/bin/python -m tests.sandbox_yahoo.save_next_pages

Writes tests/sandbox_yahoo/pages/next/{items,selling,sold,upload_result}.html from a seeded
in-process sandbox (deterministic: same seed, same pages). Run again when the pages change and
review the diff.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright

from sandbox.yahoo.app import WORLD, create_app
from scrapers.browser import STORE_PAGE_ARGS, chromium_executable
from tests.sandbox_yahoo.helpers import csv_bytes, good_row
from tests.sandbox_yahoo.test_next_browser import login_next, rendered

PAGES = Path(__file__).with_name("pages") / "next"


async def save() -> None:
    PAGES.mkdir(parents=True, exist_ok=True)
    app = create_app(world="next")
    world = app[WORLD]
    # a registered item and a started one beside the seed, so the item list shows 未出品 too
    world.register_item(
        good_row("REG-0001", 商品保存先フォルダパス="新NEW上池袋在庫"), [], "upload"
    )
    started = world.register_item(good_row("REG-0002"), [], "upload")
    world.start_item(started)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")

    def write(name: str, html: str) -> None:
        (PAGES / name).write_text(html, encoding="utf-8")
        print("saved", PAGES / name)

    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=chromium_executable(headless=True),
                args=list(STORE_PAGE_ARGS),
                headless=True,
            )
            page = await (await browser.new_context(locale="ja-JP")).new_page()
            await login_next(page, base, "/serinavi")
            for name, path in (
                ("items.html", "/serinavi/items?folder_id=&sort=-update_date&page=1"),
                ("selling.html", "/serinavi/sellings?page=1"),
                ("sold.html", "/serinavi/sold-list?page=1"),
            ):
                await page.goto(base + path)
                await rendered(page)
                write(name, await page.content())
            await page.goto(base + "/serinavi/upload")
            with tempfile.TemporaryDirectory() as tmp:
                csv_file = Path(tmp) / "upload.csv"
                csv_file.write_bytes(
                    csv_bytes([good_row("UP-0001"), good_row("UP-0002", 期間="9")])
                )
                await page.set_input_files("input[name=uploadFile]", str(csv_file))
                page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
                await page.get_by_role("link", name="決定する").click()
                await page.wait_for_selector("#uploadResult table")
            write("upload_result.html", await page.content())
            await browser.close()
    finally:
        await server.close()


if __name__ == "__main__":
    asyncio.run(save())
