"""競りナビ item actions for sync's ReCORE tasks: find an item by 管理番号 (HTTP), end its auction
early, and edit its title / description / prices (both in the browser: 競りナビ's edit page is a
script-driven form, so these go through Chromium like a person's clicks).

Rules (Yahoo's, mirrored by the sandbox): an auction with bids cannot be ended early, and its start
price cannot change; both are refused with the page's own words.
"""

from __future__ import annotations

import logging
from typing import Any

from playwright.async_api import Error as PlaywrightError

from scrapers import sync_pages as pages
from scrapers import sync_site as site
from scrapers.orders import ActionResult
from scrapers.pages import FILL_JS
from scrapers.parse import error_texts
from scrapers.session import BrowserSession
from scrapers.site import ITEM_FORM
from scrapers.sync_reader import StoreHttp, YahooUnavailable

log = logging.getLogger(__name__)


async def find_items(
    http: StoreHttp, urls: site.SyncUrls, management_number: str
) -> list[pages.ItemRow]:
    """Every 競りナビ item whose 管理番号 is exactly `management_number` (search, then filter)."""
    found = await http.read_list(
        "商品管理（検索）",
        lambda n: urls.items(n, keyword=management_number),
        pages.parse_items,
    )
    return [r for r in found.rows if r.management_number == management_number]


class ItemActions:
    def __init__(self, browser: BrowserSession, urls: site.SyncUrls) -> None:
        self.browser = browser
        self.urls = urls
        self.facts = site.ITEM_EDIT

    def _edit_url(self, item: pages.ItemRow) -> str:
        if item.edit_url:
            return self.urls.absolute(item.edit_url)
        return self.urls.absolute(f"/serinavi/items/create?item_id={item.item_id}&action=edit")

    async def end_early(self, item: pages.ItemRow) -> ActionResult:
        """Press オークションを早期終了する on the item's page."""
        async with self.browser.use():
            page = await self.browser.new_page()
            try:
                await self.browser.open(page, self._edit_url(item))
                button = page.get_by_role("button", name=self.facts.end_button, exact=True)
                if await button.count() == 0:
                    html = await page.content()
                    status = pages.page_text(html, self.facts.status_selector) or ""
                    if site.ITEM_STATUS_SOLD in status:
                        # won on Yahoo meanwhile: not "ended" for ReCORE — a double sale
                        return ActionResult(
                            False,
                            f"オークション {item.auction_id} はすでに落札されています。"
                            "二重販売になるため、ヤフオクの注文と店頭の販売を確認してください。",
                            "auction already won on Yahoo",
                        )
                    if site.ITEM_STATUS_SELLING not in status:
                        return ActionResult(
                            True,
                            f"オークション {item.auction_id} はすでに終了しています。",
                            "auction already ended",
                            False,
                        )
                    raise pages.LayoutChanged(
                        "商品情報の編集", f"ボタン「{self.facts.end_button}」"
                    )
                async with page.expect_navigation(wait_until="domcontentloaded"):
                    await button.click()
                html = await page.content()
            except PlaywrightError as exc:
                # no answer is not a refusal: the task stays open and the next sync tries again
                raise YahooUnavailable("早期終了", exc.message.splitlines()[0]) from None
            finally:
                await page.close()
        errors = error_texts(html, self.facts.error)
        if errors:
            return ActionResult(
                False,
                f"オークション {item.auction_id} を早期終了できませんでした: {' '.join(errors)}",
                "end early refused by Yahoo",
            )
        if not any(text in html for text in self.facts.ended_texts):
            # neither an error nor the success text (a login page, say): do not claim it ended
            raise YahooUnavailable("早期終了", "no confirmation on the page after the click")
        return ActionResult(
            True, f"オークション {item.auction_id} を早期終了しました。", "auction ended early"
        )

    async def edit(self, item: pages.ItemRow, values: dict[str, str]) -> ActionResult:
        """Set the named form fields (field name → value) and press フォルダに保存する."""
        async with self.browser.use():
            page = await self.browser.new_page()
            try:
                await self.browser.open(page, self._edit_url(item))
                problems: list[dict[str, Any]] = await page.evaluate(
                    FILL_JS,
                    {
                        "anchor": ITEM_FORM.by_name(ITEM_FORM.management_number),
                        "values": values,
                        "radios": {},
                        "checkboxes": {},
                    },
                )
                if problems:
                    names = "、".join(str(p.get("name")) for p in problems)
                    raise pages.LayoutChanged("商品情報の編集", names)
                button = page.get_by_role("button", name=self.facts.save_button, exact=True)
                if await button.count() == 0:
                    raise pages.LayoutChanged(
                        "商品情報の編集", f"ボタン「{self.facts.save_button}」"
                    )
                async with page.expect_navigation(wait_until="domcontentloaded"):
                    await button.first.click()
                html = await page.content()
            except PlaywrightError as exc:
                raise YahooUnavailable("商品の編集", exc.message.splitlines()[0]) from None
            finally:
                await page.close()
        errors = error_texts(html, self.facts.error)
        if errors:
            return ActionResult(
                False,
                f"オークション {item.auction_id} を編集できませんでした: {' '.join(errors)}",
                "edit refused by Yahoo",
            )
        return ActionResult(True, f"オークション {item.auction_id} を更新しました。", "item edited")
