"""Page objects for the 競りナビ pages the direct listing drives: one class per page.

Each knows its URL, makes its locators once, and offers verbs (`open`, `fill`, `confirm`,
`submit`). What a page *says* is read by the pure functions in `scrapers.parse`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import APIRequestContext, CDPSession, Page, Response
from playwright.async_api import Error as PlaywrightError

from companion.domain import Listing
from companion.listing import yahoo_format as yf
from scrapers import parse, site
from scrapers.errors import ItemError, LayoutChanged, SessionLost
from scrapers.parse import PageKind
from scrapers.session import BrowserSession, WallError
from scrapers.site import YahooUrls

log = logging.getLogger(__name__)

# Sets every field the way a person's typing would reach a framework-controlled form: the native
# value setter (so a React-style wrapper cannot swallow it), then `input` and `change` events.
# Radios and checkboxes are chosen by their visible label. Returns the problems it met, so no
# field is skipped silently.
FILL_JS = """
(spec) => {
  const problems = [];
  const anchor = document.querySelector(spec.anchor);
  const form = (anchor && anchor.form) || document;
  const fire = (el) => {
    el.dispatchEvent(new Event('input', {bubbles: true}));
    el.dispatchEvent(new Event('change', {bubbles: true}));
  };
  const setValue = (el, value) => {
    const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype
      : el instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, value);
    fire(el);
  };
  const norm = (s) => (s || '').replace(/\\s+/g, ' ').trim();
  for (const [name, value] of Object.entries(spec.values)) {
    const el = form.querySelector(`[name="${name}"]`);
    if (!el) { problems.push({name, rule: 'missing'}); continue; }
    if (el instanceof HTMLSelectElement &&
        !Array.from(el.options).some((o) => o.value === value)) {
      problems.push({name, rule: 'no_option', value}); continue;
    }
    setValue(el, value);
  }
  for (const [name, label] of Object.entries(spec.radios)) {
    const radios = Array.from(form.querySelectorAll(`input[type="radio"][name="${name}"]`));
    const hit = radios.find((r) => r.labels && Array.from(r.labels).some((l) => norm(l.textContent) === label));
    if (!hit) { problems.push({name, rule: 'no_radio', value: label}); continue; }
    if (!hit.checked) { hit.click(); }
  }
  const labels = Array.from(form.querySelectorAll('label'));
  for (const [label, on] of Object.entries(spec.checkboxes)) {
    const l = labels.find((x) => norm(x.textContent) === label);
    const box = l && (l.control || l.querySelector('input[type="checkbox"]'));
    if (!box) { problems.push({name: label, rule: 'no_checkbox'}); continue; }
    if (box.checked !== on) { box.click(); }
  }
  return problems;
}
"""


# Presses the button a person would, found by role and visible text (its generated class names
# change with every Yahoo release). False when no such visible button is on the page.
PRESS_JS = """
(text) => {
  const norm = (s) => (s || '').replace(/\\s+/g, ' ').trim();
  const buttons = Array.from(document.querySelectorAll(
    'button, input[type="submit"], input[type="button"], [role="button"]'));
  const hit = buttons.find((b) => norm(b.tagName === 'INPUT' ? b.value : b.textContent) === text
    && !b.disabled && b.getClientRects().length > 0);
  if (!hit) { return false; }
  hit.click();
  return true;
}
"""


@dataclass(frozen=True)
class FormValues:
    """What goes into the form for one listing: values by field name, radios and checkboxes by
    label, images as files."""

    values: dict[str, str]
    radios: dict[str, str]
    checkboxes: dict[str, bool]
    labels: dict[str, str]  # field name → Japanese label, for error messages


def form_values(listing: Listing) -> FormValues:
    """A Listing → the item form's values. Same value mapping as the CSV (`yahoo_format`)."""
    f = site.ITEM_FORM
    text = yf.text
    pref = listing.prefecture or ""
    pref_code = str(yf.PREFECTURES.index(pref) + 1) if pref in yf.PREFECTURES else ""
    values = {
        f.management_number: text(listing.management_number),
        f.title: text(listing.title),
        f.category: text(listing.category_id),
        f.description: text(listing.description),
        f.keywords: text(listing.keywords),
        f.start_price: text(listing.start_price),
        f.buyout_price: text(listing.buyout_price) if listing.buyout_price else "0",
        f.quantity: text(listing.quantity or 1),
        f.duration: text(listing.duration_days or 7),
        f.end_hour: text(22 if listing.end_hour is None else listing.end_hour),
        f.resubmit: text(listing.resubmit_count or 0),
        f.prefecture: pref_code,
        f.city: text(listing.city),
        f.delivery_group: text(listing.delivery_group or 1),
        f.lead_time: text(listing.lead_time_code or "1"),
        f.tax_rate: text(10 if listing.tax_rate is None else listing.tax_rate),
    }
    radios: dict[str, str] = {}
    if listing.shipping_payer:
        radios[f.shipping_payer] = listing.shipping_payer
    if listing.condition:
        radios[f.condition] = listing.condition
    checkboxes = {
        # 説明 with tags goes in as HTML (Yahoo shows it as text otherwise)
        f.html_mode_label: "<" in (listing.description or ""),
        f.auto_extend_label: bool(listing.auto_extend),
        f.tax_included_label: bool(listing.tax_included),
        f.bad_rating_limit_label: bool(listing.bad_rating_limit),
        f.bidder_auth_limit_label: bool(listing.bidder_auth_limit),
    }
    labels = {name: label for label, name in _field_names().items()}
    return FormValues(values, radios, checkboxes, labels)


def _field_names() -> dict[str, str]:
    f = site.ITEM_FORM
    return {label: css.split('"')[1] for label, css in f.named_fields.items()}


class ItemCreatePage:
    """競りナビ 商品の登録 → 出品内容の確認 → 出品が完了しました, on one browser page."""

    def __init__(self, page: Page, session: BrowserSession, folder_id: int | str = 1) -> None:
        self.page = page
        self.session = session
        self.url = session.urls.item_create(folder_id)
        self._fresh = False  # the page shows an untouched, checked form (after check_layout)
        self._cdp: CDPSession | None = None

    async def open(self, *, need_html: bool = False) -> str | None:
        """The empty form (logging in on the way if the store asks)."""
        if self._fresh and not need_html:
            self._fresh = False  # the pre-flight's form is used for the first item
            return None
        self._fresh = False
        return await self.session.open(self.page, self.url, need_html=need_html)

    async def check_layout(self) -> None:
        """Pre-flight: every selector, label and button this run needs is on the form."""
        html = await self.open(need_html=True)
        assert html is not None
        missing = missing_on_form(html)
        if missing:
            raise LayoutChanged("商品登録フォーム", missing)
        self._fresh = True

    async def fill(self, listing: Listing, images: Sequence[Path]) -> None:
        """Images into the file inputs and every other field in one pass (see FILL_JS), the
        two sent together (each command is a round trip to the browser)."""
        fv = form_values(listing)
        f = site.ITEM_FORM
        fields = self.page.evaluate(
            FILL_JS,
            {
                "anchor": f.by_name(f.management_number),
                "values": fv.values,
                "radios": fv.radios,
                "checkboxes": fv.checkboxes,
            },
        )
        problems, missing = await asyncio.gather(fields, self._set_images(images))
        if problems or missing:
            raise _fill_problem([*problems, *missing], fv.labels)

    async def _set_images(self, images: Sequence[Path]) -> list[dict[str, Any]]:
        """Each image into its file input with DevTools' DOM.setFileInputFiles, which fires
        `input` and `change` as a person's choice would. It is the call Playwright's
        set_input_files ends in, without that method's per-call checks and waits: three of
        those in a row cost ~50 ms per item here, this ~20 ms."""
        f = site.ITEM_FORM
        names = [f.image_input.format(n=n) for n in range(1, min(len(images), yf.MAX_IMAGES) + 1)]
        if not names:
            return []
        if self._cdp is None:
            self._cdp = await self.page.context.new_cdp_session(self.page)
        cdp = self._cdp
        root = (await cdp.send("DOM.getDocument", {"depth": 0}))["root"]["nodeId"]
        found = await asyncio.gather(
            *(
                cdp.send("DOM.querySelector", {"nodeId": root, "selector": f.by_name(name)})
                for name in names
            )
        )
        missing = [
            {"name": n, "rule": "missing"}
            for n, r in zip(names, found, strict=True)
            if not r["nodeId"]
        ]
        if missing:
            return missing
        await asyncio.gather(
            *(
                cdp.send("DOM.setFileInputFiles", {"nodeId": r["nodeId"], "files": [str(path)]})
                for r, path in zip(found, images, strict=False)
            )
        )
        return []

    async def _click(self, text: str) -> bool:
        """Click the visible button labelled `text`; False if there is none."""
        try:
            return bool(await self.page.evaluate(PRESS_JS, text))
        except PlaywrightError as exc:
            if "context was destroyed" not in exc.message:
                raise
            return True  # the page navigated away before the answer came back

    async def _press(self, text: str) -> bool:
        """Press the button; True once the next page has loaded, False if there is no such
        button (then nothing navigates and the current page says why)."""
        loaded: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_load(_page: Any) -> None:
            if not loaded.done():
                loaded.set_result(None)

        # registered before the press, so a fast answer cannot slip past
        self.page.once("domcontentloaded", on_load)
        try:
            pressed = await self._click(text)
            if pressed:
                async with asyncio.timeout(self.session.timeout_ms / 1000):
                    await loaded
            return pressed
        finally:
            self.page.remove_listener("domcontentloaded", on_load)

    async def _press_for_answer(self, text: str) -> str | None:
        """Press the button and return the HTML the store answers with (after any redirect),
        read from the response itself: nothing on that page is clicked, so the run need not
        wait for Chromium to show it. None if there is no such button."""
        answer: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

        def on_response(response: Response) -> None:
            if (
                not answer.done()
                and response.frame == self.page.main_frame
                and response.request.is_navigation_request()
                and not 300 <= response.status < 400
            ):
                answer.set_result(response)

        self.page.on("response", on_response)
        try:
            if not await self._click(text):
                return None
            async with asyncio.timeout(self.session.timeout_ms / 1000):
                response = await answer
                try:
                    return await response.text()
                except PlaywrightError:
                    # the body is gone (the page moved on): read what the page shows
                    await self.page.wait_for_load_state("domcontentloaded")
                    return await self.page.content()
        finally:
            self.page.remove_listener("response", on_response)

    async def confirm(self) -> None:
        """Press 確認する: the confirm page follows (checked when 出品する is pressed)."""
        if not await self._press(site.ITEM_FORM.confirm_button):
            raise LayoutChanged("商品登録フォーム", [f"「{site.ITEM_FORM.confirm_button}」ボタン"])

    async def submit(self) -> parse.Completion:
        """Press 出品する and read the new auction id from the completion page."""
        try:
            html = await self._press_for_answer(site.ITEM_CONFIRM.submit_button)
        except (PlaywrightError, TimeoutError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ItemError(
                "出品するを押した後、ヤフオクから応答がありませんでした",
                f"no answer after submit: {first}",
                maybe_listed=True,
                retry=True,
            ) from exc
        if html is None:
            # still on the form: the store refused the input (its errors say why), or the
            # session expired on the way (a login page)
            raise page_problem(await self.page.content(), "確認", maybe_listed=False)
        done = parse.parse_completion(html)
        if done is not None:
            return done
        raise page_problem(html, "出品", maybe_listed=True)


def missing_on_form(html: str) -> list[str]:
    f = site.ITEM_FORM
    missing = parse.missing_selectors(html, f.named_fields)
    present = set(parse.label_texts(html))
    missing += [
        f"{name}（{text}）" for name, text in f.checkbox_labels.items() if text not in present
    ]
    if f.confirm_button not in parse.button_texts(html):
        missing.append(f"「{f.confirm_button}」ボタン")
    return missing


def _fill_problem(problems: list[dict[str, Any]], labels: dict[str, str]) -> ItemError:
    parts_ja, parts_en = [], []
    for p in problems:
        label = labels.get(p["name"], p["name"])
        value = p.get("value")
        if p["rule"] == "no_option":
            parts_ja.append(f"{label}: 「{value}」は選択肢にありません")
        elif p["rule"] == "no_radio":
            parts_ja.append(f"{label}: 「{value}」を選べません")
        else:
            parts_ja.append(f"{label}: 入力欄が見つかりません")
        parts_en.append(f"{p['name']}: {p['rule']} {value or ''}".strip())
    return ItemError(
        "フォームに入力できませんでした（" + "、".join(parts_ja) + "）", "; ".join(parts_en)
    )


def page_problem(html: str, step: str, *, maybe_listed: bool) -> Exception:
    """Why the page after `step` is not the expected one, in the page's own words."""
    kind = parse.classify(html)
    if kind in (
        PageKind.LOGIN_HANDLE,
        PageKind.LOGIN_PASSWORD,
        PageKind.BUSINESS,
        PageKind.SMS,
        PageKind.CAPTCHA,
    ):
        return SessionLost()
    fields = parse.field_errors(html)
    texts = [m for msgs in fields.values() for m in msgs]
    labels = {name: label for label, name in _field_names().items()}
    if fields:
        ja = "、".join(f"{labels.get(k, k)}: {m}" for k, msgs in fields.items() for m in msgs)
    else:
        texts = parse.error_texts(html)
        ja = "、".join(texts)
    busy = kind == PageKind.BUSY or any(t in ja for t in site.BUSY_TEXTS)
    expired = any(t in ja for t in site.DRAFT_EXPIRED_TEXTS)
    if not ja:
        ja = f"{step}の後、想定外の画面になりました"
    return ItemError(
        f"ヤフオクのエラー: {ja}",
        f"after {step}: {'; '.join(texts) or 'unexpected page'}",
        maybe_listed=maybe_listed,
        retry=busy or expired,
    )


class ItemListPage:
    """競りナビ 商品管理 (all folders), read over HTTP with the browser's session: no rendering."""

    def __init__(self, request: APIRequestContext, session: BrowserSession) -> None:
        self.request = request
        self.session = session
        self.urls: YahooUrls = session.urls

    async def fetch(self, page_no: int) -> parse.ItemListPage:
        resp = await self.request.get(self.urls.item_list(page_no), timeout=self.session.timeout_ms)
        html = await resp.text()
        kind = parse.classify(html)
        if kind == PageKind.BUSY or resp.status >= 500:
            raise ItemError(
                "ヤフオクの商品一覧を読めませんでした（混雑）",
                f"item list page {page_no}: HTTP {resp.status}",
                retry=True,
            )
        if kind != PageKind.OTHER:
            raise SessionLost()
        parsed = parse.parse_item_list(html)
        if not parsed.complete:
            raise LayoutChanged(
                "商品管理（一覧）", [f"商品の選択欄（{site.ITEM_LIST.row_checkbox}）"]
            )
        return parsed

    async def fetch_retrying(self, page_no: int, attempts: int = 3) -> parse.ItemListPage:
        for attempt in range(1, attempts + 1):
            try:
                return await self.fetch(page_no)
            except ItemError:
                if attempt == attempts:
                    raise
                await asyncio.sleep(self.session.busy_delay * attempt)
        raise AssertionError("unreachable")

    async def all_items(self, concurrency: int = 4, attempts: int = 3) -> list[parse.ListedItem]:
        """Every item on the store (every page): page 1 says how many pages there are. A list
        that moved during the read (see `parse.merge_list_pages`) is read again."""
        sem = asyncio.Semaphore(concurrency)

        async def one(n: int) -> parse.ItemListPage:
            async with sem:
                return await self.fetch_retrying(n)

        for attempt in range(1, attempts + 1):
            first = await self.fetch_retrying(1)
            pages = [first]
            pages += await asyncio.gather(*(one(n) for n in range(2, first.last_page + 1)))
            rows = parse.merge_list_pages(pages)
            if rows is not None:
                return rows
            log.info("the item list changed while it was read (attempt %d); reading again", attempt)
            await asyncio.sleep(self.session.busy_delay * attempt)
        raise ItemError(
            "ヤフオクの商品一覧が読み取り中に変わり続けました",
            "the item list kept changing while it was read",
            retry=True,
        )

    async def management_numbers(self) -> dict[str, parse.ListedItem]:
        """管理番号 → the item on the store (the newest one when a number appears twice)."""
        out: dict[str, parse.ListedItem] = {}
        for item in await self.all_items():
            # an ended auction of the same 管理番号 (a relisted item) does not count
            if site.ITEM_LIST.is_live(item.status):
                out.setdefault(item.management_number, item)  # newest first (sort=-update_date)
        return out

    async def find(self, management_number: str, pages: int = 1) -> parse.ListedItem | None:
        """Look for one 管理番号 among the most recently updated items (after a doubtful submit)."""
        for n in range(1, pages + 1):
            page = await self.fetch_retrying(n)
            for item in page.items:
                if item.management_number == management_number and site.ITEM_LIST.is_live(
                    item.status
                ):
                    return item
            if n >= page.last_page:
                break
        return None


__all__ = [
    "FormValues",
    "ItemCreatePage",
    "ItemListPage",
    "WallError",
    "form_values",
    "missing_on_form",
]
