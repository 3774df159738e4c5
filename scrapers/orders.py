"""Order actions in ストアクリエイターPro 注文管理, over HTTP with the session's cookies.

The order pages are classic HTML forms (no script needed), so each action is the form POST a
browser would send: the form is read from the order's detail page first (its action URL and hidden
fields, e.g. a CSRF token), then submitted. Each action is idempotent from the caller's side: an
order already in the wanted state is a success, so a retried ReCORE task never fails for having
worked the first time. The carrier is chosen by its option's label (the values are the store's
own codes).
"""

from __future__ import annotations

import logging

from scrapers import parse
from scrapers.errors import LayoutChanged
from scrapers.listing import ActionResult
from scrapers.parse import OrderDetail
from scrapers.reader import StoreReader

log = logging.getLogger(__name__)


def _ok(ja: str, en: str, changed: bool = True) -> ActionResult:
    return ActionResult(True, ja, en, changed)


def _refused(ja: str, en: str) -> ActionResult:
    return ActionResult(False, ja, en)


class OrderActions:
    def __init__(self, reader: StoreReader) -> None:
        self.reader = reader
        self.urls = reader.urls
        self.facts = reader.facts
        self.orders = reader.facts.orders

    async def detail(self, order_id: str) -> tuple[OrderDetail, str]:
        await self.reader.start()
        html = await self.reader.get(self.urls.order_detail(order_id), self.orders.detail_name)
        return parse.parse_order_detail(html, self.facts), html

    def _form(self, html: str, action: str) -> tuple[str, dict[str, str]]:
        """The action form's URL and fields."""
        url, fields = parse.form_fields(html, f'form[action$="/{action}"]')
        return (self.urls.absolute(url, self.urls.store_pro_origin) if url else ""), fields

    async def _submit(
        self, order_id: str, html: str, action: str, extra: dict[str, str] | None = None
    ) -> tuple[bool, str | None]:
        url, fields = self._form(html, action)
        if not url:
            raise LayoutChanged(self.orders.detail_name, f"{action} のフォーム")
        fields.update(extra or {})
        got = await self.reader.request("POST", url, f"注文 {order_id} の操作", fields)
        error = parse.page_text(got.text, self.orders.error)
        if got.status >= 500:
            return False, "ヤフオクが一時的に応答しません。"
        return (got.status < 400 and error is None), error

    async def ship(self, order_id: str, carrier: str | None, tracking: str | None) -> ActionResult:
        """発送伝票番号 (when given) then 出荷済み. Already shipped: success."""
        of = self.orders
        detail, html = await self.detail(order_id)
        if detail.order_status == of.status_cancelled:
            return _refused(
                f"注文 {order_id} はヤフオクでキャンセルされているため出荷にできません。",
                f"order {order_id} is cancelled on Yahoo",
            )
        if tracking and detail.tracking_number != tracking:
            wanted = of.carrier_labels.get((carrier or "OTHER").upper(), of.carrier_labels["OTHER"])
            code = parse.option_value(html, of.carrier_field, wanted)
            if code is None:
                return _refused(
                    f"注文 {order_id}: 配送会社「{wanted}」をヤフオクの画面で選べませんでした。",
                    f"order {order_id}: no carrier option labelled {wanted!r}",
                )
            ok, error = await self._submit(
                order_id,
                html,
                of.ship_info_action,
                {of.carrier_field: code, of.tracking_field: tracking},
            )
            if not ok:
                return _refused(
                    f"注文 {order_id} の発送伝票番号を登録できませんでした: {error}",
                    f"order {order_id}: tracking number refused",
                )
            detail, html = await self.detail(order_id)
        if (
            detail.ship_status in of.shipped_statuses
            or detail.store_status in of.shipped_store_statuses
        ):
            return _ok(
                f"注文 {order_id} はすでに出荷済みです。",
                f"order {order_id} already shipped",
                changed=bool(tracking),
            )
        ok, error = await self._submit(order_id, html, of.ship_action)
        if not ok:
            if error and any(t in error for t in of.already_shipped_texts):
                return _ok(f"注文 {order_id} はすでに出荷済みです。", "already shipped", False)
            return _refused(
                f"注文 {order_id} を出荷済みにできませんでした: {error}",
                f"order {order_id}: ship refused",
            )
        return _ok(f"注文 {order_id} を出荷済みにしました。", f"order {order_id} shipped")

    async def cancel(self, order_id: str) -> ActionResult:
        of = self.orders
        detail, html = await self.detail(order_id)
        # the official 注文ステータス decides: a store-defined label alone cancels nothing
        if detail.order_status == of.status_cancelled:
            return _ok(f"注文 {order_id} はすでにキャンセル済みです。", "already cancelled", False)
        ok, error = await self._submit(order_id, html, of.cancel_action)
        if not ok:
            if error and any(t in error for t in of.already_cancelled_texts):
                return _ok(
                    f"注文 {order_id} はすでにキャンセル済みです。", "already cancelled", False
                )
            return _refused(
                f"注文 {order_id} をヤフオクでキャンセルできませんでした: {error}",
                f"order {order_id}: cancel refused",
            )
        return _ok(f"注文 {order_id} をキャンセルしました。", f"order {order_id} cancelled")
