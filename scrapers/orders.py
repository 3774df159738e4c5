"""Order actions in ストアクリエイターPro 注文管理, over HTTP with the session's cookies.

The order pages are classic HTML forms (no script needed), so each action is the form POST a
browser would send: the form is read from the order's detail page first (its action URL and hidden
fields, e.g. a CSRF token), then submitted. Each action is idempotent from the caller's side: an
order already in the wanted state is a success, so a retried ReCORE task never fails for having
worked the first time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from scrapers import sync_pages as pages
from scrapers import sync_site as site
from scrapers.sync_reader import StoreHttp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str  # Japanese, for staff (the page's own words when Yahoo refused)
    message_en: str
    changed: bool = False  # False when the order was already in the wanted state


def _ok(ja: str, en: str, changed: bool = True) -> ActionResult:
    return ActionResult(True, ja, en, changed)


def _refused(ja: str, en: str) -> ActionResult:
    return ActionResult(False, ja, en)


class OrderActions:
    def __init__(self, http: StoreHttp, urls: site.SyncUrls) -> None:
        self.http = http
        self.urls = urls
        self.facts = site.ORDER_DETAIL

    async def detail(self, order_id: str) -> tuple[pages.OrderDetail, str]:
        html = await self.http.get(self.urls.order_detail(order_id), "注文詳細")
        return pages.parse_order_detail(html), html

    def _form(self, html: str, action: str) -> tuple[str, dict[str, str]]:
        """The action form's URL and fields; falls back to the documented URL."""
        url, fields = pages.form_fields(html, f'form[action$="/{action}"]')
        return (self.urls.absolute(url) if url else ""), fields

    async def _submit(
        self, order_id: str, html: str, action: str, extra: dict[str, str] | None = None
    ) -> tuple[bool, str | None]:
        url, fields = self._form(html, action)
        if not url:
            raise pages.LayoutChanged("注文詳細", f"{action} のフォーム")
        fields.update(extra or {})
        got = await self.http.request("POST", url, f"注文 {order_id} の操作", fields)
        error = pages.page_text(got.text, self.facts.error)
        if got.status >= 500:
            return False, "ヤフオクが一時的に応答しません。"
        return (got.status < 400 and error is None), error

    async def ship(self, order_id: str, carrier: str | None, tracking: str | None) -> ActionResult:
        """発送伝票番号 (when given) then 出荷済み. Already shipped: success."""
        detail, html = await self.detail(order_id)
        if detail.order_status == site.ORDER_STATUS_CANCELLED:
            return _refused(
                f"注文 {order_id} はヤフオクでキャンセルされているため出荷にできません。",
                f"order {order_id} is cancelled on Yahoo",
            )
        if tracking and detail.tracking_number != tracking:
            code = self.facts.carriers.get((carrier or "OTHER").upper(), "other")
            ok, error = await self._submit(
                order_id,
                html,
                self.facts.action_ship_info,
                {self.facts.carrier_field: code, self.facts.tracking_field: tracking},
            )
            if not ok:
                return _refused(
                    f"注文 {order_id} の発送伝票番号を登録できませんでした: {error}",
                    f"order {order_id}: tracking number refused",
                )
            detail, html = await self.detail(order_id)
        if detail.ship_status == "出荷済み" or detail.store_status in ("発送済み", "対応終了"):
            return _ok(
                f"注文 {order_id} はすでに出荷済みです。",
                f"order {order_id} already shipped",
                changed=bool(tracking),
            )
        ok, error = await self._submit(order_id, html, self.facts.action_ship)
        if not ok:
            if error and any(t in error for t in self.facts.already_shipped_texts):
                return _ok(f"注文 {order_id} はすでに出荷済みです。", "already shipped", False)
            return _refused(
                f"注文 {order_id} を出荷済みにできませんでした: {error}",
                f"order {order_id}: ship refused",
            )
        return _ok(f"注文 {order_id} を出荷済みにしました。", f"order {order_id} shipped")

    async def cancel(self, order_id: str) -> ActionResult:
        detail, html = await self.detail(order_id)
        # the official 注文ステータス decides: a store-defined label alone cancels nothing
        if detail.order_status == site.ORDER_STATUS_CANCELLED:
            return _ok(f"注文 {order_id} はすでにキャンセル済みです。", "already cancelled", False)
        ok, error = await self._submit(order_id, html, self.facts.action_cancel)
        if not ok:
            if error and any(t in error for t in self.facts.already_cancelled_texts):
                return _ok(
                    f"注文 {order_id} はすでにキャンセル済みです。", "already cancelled", False
                )
            return _refused(
                f"注文 {order_id} をヤフオクでキャンセルできませんでした: {error}",
                f"order {order_id}: cancel refused",
            )
        return _ok(f"注文 {order_id} をキャンセルしました。", f"order {order_id} cancelled")
