"""競りナビ's item pages, driven as a person would: the create form (direct listing), the edit form
(early end, title and price changes), 「出品開始」 for items registered in a folder, and the bulk
upload.

Values come in as plain text by CSV column (the same values as the bulk-upload file, see
`companion.listing.form_values`); `facts.form` says which field takes which column. What a page
*says* is read by the pure functions in `scrapers.parse`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from playwright.async_api import CDPSession, Page, Response
from playwright.async_api import Error as PlaywrightError

from scrapers import parse
from scrapers.errors import (
    ItemError,
    LayoutChanged,
    ScraperError,
    SessionExpired,
    StoreUnavailable,
)
from scrapers.facts import Facts
from scrapers.parse import LOGIN_KINDS, ListRow, PageKind
from scrapers.reader import StoreReader
from scrapers.session import BrowserSession

log = logging.getLogger(__name__)

# Resolves once the document is parsed and the page's own DOMContentLoaded handlers have run. The
# form is opened up to its commit only (ItemForm.open): what fills it waits for this inside the page,
# so no round trip is spent hearing that the page loaded before the fill is sent.
PAGE_READY_JS = """
() => new Promise((resolve) => {
  const after = () => setTimeout(resolve, 0);
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', after, {once: true});
  } else {
    after();
  }
})
"""

# Sets every field the way a person's typing would reach a framework-controlled form: the native
# value setter (so a React-style wrapper cannot swallow it), then `input` and `change` events.
# A choice is a select (option by value or text) or radios (by label: under a stable name, else
# the group whose labels are the choice's options); checkboxes by their label. Returns the
# problems it met, so no field is skipped silently.
FILL_JS = """
async (spec) => {
  await (PAGE_READY)();
  const problems = [];
  const anchor = document.querySelector(spec.anchor);
  const form = (anchor && anchor.form) || document;
  const norm = (s) => (s || '').replace(/\\s+/g, ' ').trim();
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
  const labelOf = (el) => norm(el.labels && el.labels.length ? el.labels[0].textContent : '');
  for (const [name, value] of Object.entries(spec.values)) {
    const el = form.querySelector(`[name="${name}"]`);
    if (!el) { problems.push({name, rule: 'missing'}); continue; }
    if (el instanceof HTMLSelectElement &&
        !Array.from(el.options).some((o) => o.value === value)) {
      problems.push({name, rule: 'no_option', value}); continue;
    }
    setValue(el, value);
  }
  const radios = Array.from(form.querySelectorAll('input[type="radio"]'));
  const pickRadio = (group, choice) => {
    const hit = group.find((r) => labelOf(r) === choice.label || r.value === choice.value);
    if (!hit) { return false; }
    if (!hit.checked) { hit.click(); }
    return true;
  };
  for (const choice of spec.choices) {
    let found = null;
    for (const name of choice.names) {
      const select = form.querySelector(`select[name="${name}"]`);
      if (select) { found = select; break; }
      const group = radios.filter((r) => r.name === name);
      if (group.length) { found = group; break; }
    }
    if (!found && choice.options.length) {
      // radios with generated names: the group whose every label is one of the options
      const names = [...new Set(radios.map((r) => r.name))];
      const name = names.find((n) => radios.filter((r) => r.name === n)
        .every((r) => choice.options.includes(labelOf(r))));
      if (name !== undefined) { found = radios.filter((r) => r.name === name); }
    }
    if (!found) { problems.push({name: choice.column, rule: 'missing'}); continue; }
    if (found instanceof HTMLSelectElement) {
      const opt = Array.from(found.options).find(
        (o) => o.value === choice.value || norm(o.textContent) === choice.label);
      if (!opt) { problems.push({name: choice.column, rule: 'no_option', value: choice.label}); continue; }
      setValue(found, opt.value);
    } else if (!pickRadio(found, choice)) {
      problems.push({name: choice.column, rule: 'no_radio', value: choice.label});
    }
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
""".replace("PAGE_READY", PAGE_READY_JS.strip())

# One file input of the form, once the page is ready (a DevTools expression: SELECTOR is replaced).
IMAGE_INPUT_JS = (
    "(async () => { await (" + PAGE_READY_JS.strip() + ")(); "
    "return document.querySelector(SELECTOR); })()"
)

# Presses the button a person would, found by role and visible text (its generated class names
# change with every Yahoo release): the first of `texts` that is on the page. Returns the text
# pressed, or null when none is.
PRESS_JS = """
(texts) => {
  const norm = (s) => (s || '').replace(/\\s+/g, ' ').trim();
  const buttons = Array.from(document.querySelectorAll(
    'button, input[type="submit"], input[type="button"], [role="button"]'));
  for (const text of texts) {
    const hit = buttons.find((b) => norm(b.tagName === 'INPUT' ? b.value : b.textContent) === text
      && !b.disabled && b.getClientRects().length > 0);
    if (hit) { hit.click(); return text; }
  }
  return null;
}
"""


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str  # Japanese, for staff (the page's own words when Yahoo refused)
    message_en: str
    changed: bool = False  # False when the item or order was already in the wanted state


def fill_spec(facts: Facts, values: Mapping[str, str]) -> dict[str, Any]:
    """What FILL_JS sets, from values by CSV column: fields by name, choices, checkboxes."""
    form = facts.form
    spec: dict[str, Any] = {
        "anchor": f'[name="{form.anchor}"]',
        "values": {name: values[col] for col, name in form.fields.items() if col in values},
        "choices": [
            {
                "column": col,
                "names": list(choice.names),
                "options": list(choice.options),
                "value": values[col],
                "label": choice.label_of(values[col]),
            }
            for col, choice in form.choices.items()
            if values.get(col)
        ],
        "checkboxes": {
            text: values[col] == "はい" for col, text in form.checkboxes.items() if col in values
        },
    }
    return spec


def fill_problem(facts: Facts, problems: list[dict[str, Any]]) -> ItemError:
    labels = facts.form.label_of_field
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


def page_problem(html: str, step: str, *, maybe_listed: bool, facts: Facts) -> Exception:
    """Why the page after `step` is not the expected one, in the page's own words."""
    kind = parse.classify(html, "", facts)
    if kind in LOGIN_KINDS:
        return SessionExpired()
    fields = parse.field_errors(html, facts)
    labels = facts.form.label_of_field
    if fields:
        texts = [m for msgs in fields.values() for m in msgs]
        ja = "、".join(f"{labels.get(k, k)}: {m}" for k, msgs in fields.items() for m in msgs)
    else:
        texts = parse.error_texts(html)
        ja = "、".join(texts)
    busy = kind == PageKind.BUSY or any(t in ja for t in facts.texts.busy)
    expired = any(t in ja for t in facts.form.draft_expired_texts)
    if not ja:
        ja = f"{step}の後、想定外の画面になりました"
    return ItemError(
        f"ヤフオクのエラー: {ja}",
        f"after {step}: {'; '.join(texts) or 'unexpected page'}",
        maybe_listed=maybe_listed,
        retry=busy or expired,
    )


class _Presser:
    """Presses a page's buttons and reads what the store answers."""

    page: Page
    browser: BrowserSession

    async def _click(self, texts: Sequence[str]) -> str | None:
        try:
            return await self.page.evaluate(PRESS_JS, list(texts))
        except PlaywrightError as exc:
            if "context was destroyed" not in exc.message:
                raise
            return texts[0]  # the page navigated away before the answer came back

    async def _press(self, texts: Sequence[str]) -> str | None:
        """Press the button; returns its text once the next page has loaded, None if there is no
        such button (then nothing navigates and the current page says why)."""
        loaded: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_load(_page: Any) -> None:
            if not loaded.done():
                loaded.set_result(None)

        # registered before the press, so a fast answer cannot slip past
        self.page.once("domcontentloaded", on_load)
        try:
            pressed = await self._click(texts)
            if pressed is not None:
                async with asyncio.timeout(self.browser.timeout_ms / 1000):
                    await loaded
            return pressed
        finally:
            self.page.remove_listener("domcontentloaded", on_load)

    async def _press_for_answer(
        self, texts: Sequence[str], on_redirect: Callable[[str], None] | None = None
    ) -> str | None:
        """Press the button and return the HTML the store answers with (after any redirect),
        read from the response itself: nothing on that page is clicked, so the run need not
        wait for Chromium to show it. None if there is no such button. `on_redirect` hears
        where a redirect on the way leads, while the browser follows it."""
        answer: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

        def on_response(response: Response) -> None:
            if (
                answer.done()
                or response.frame != self.page.main_frame
                or not response.request.is_navigation_request()
            ):
                return
            if not 300 <= response.status < 400:
                answer.set_result(response)
            elif on_redirect is not None:
                location = response.headers.get("location")
                if location:
                    on_redirect(urljoin(response.url, location))

        self.page.on("response", on_response)
        try:
            if await self._click(texts) is None:
                return None
            async with asyncio.timeout(self.browser.timeout_ms / 1000):
                response = await answer
                try:
                    return await response.text()
                except PlaywrightError:
                    # the body is gone (the page moved on): read what the page shows
                    await self.page.wait_for_load_state("domcontentloaded")
                    return await self.page.content()
        finally:
            self.page.remove_listener("response", on_response)


class ItemForm(_Presser):
    """競りナビ 商品の登録 on one browser page: fill, then the steps the form shows (a confirm
    page, or listing at once), then the new auction id from wherever the store shows it."""

    def __init__(
        self, page: Page, browser: BrowserSession, reader: StoreReader, folder_id: int | str = 1
    ) -> None:
        self.page = page
        self.browser = browser
        self.reader = reader
        self.facts = browser.facts
        self.url = browser.urls.item_create(folder_id)
        self.confirm_first = True  # the form leads to a confirm page (learnt by check_layout)
        self._fresh = False  # the page shows an untouched, checked form (after check_layout)
        self.checked_html = ""  # the form as check_layout found it
        self._cdp: CDPSession | None = None

    async def open(self, *, need_html: bool = False) -> str | None:
        """The empty form (logging in on the way if the store asks)."""
        if self._fresh and not need_html:
            self._fresh = False  # the pre-flight's form is used for the first item
            return None
        self._fresh = False
        # up to the commit: the fill waits for the document inside the page (PAGE_READY_JS)
        return await self.browser.open(
            self.page, self.url, need_html=need_html, until_commit=not need_html
        )

    async def check_layout(self) -> bool:
        """Pre-flight: every field, label and button this run needs is on the form. Returns
        whether the form leads to a confirm page (its button says so)."""
        html = await self.open(need_html=True)
        assert html is not None
        missing = parse.missing_on_form(html, self.facts)
        if missing:
            raise LayoutChanged(self.facts.form.page, missing)
        buttons = set(parse.button_texts(html))
        self.confirm_first = bool(buttons & set(self.facts.form.confirm_buttons))
        self._fresh = True
        self.checked_html = html
        return self.confirm_first

    async def fill(self, values: Mapping[str, str], images: Sequence[Path]) -> None:
        """Images into the file inputs and every other field in one pass (see FILL_JS), the
        two sent together (each command is a round trip to the browser)."""
        fields = self.page.evaluate(FILL_JS, fill_spec(self.facts, values))
        # the form may still be loading (see open): it waits no longer than a page may take
        async with asyncio.timeout(self.browser.timeout_ms / 1000):
            problems, missing = await asyncio.gather(fields, self._set_images(images))
        if problems or missing:
            raise fill_problem(self.facts, [*problems, *missing])

    async def _set_images(self, images: Sequence[Path]) -> list[dict[str, Any]]:
        """Each image into its file input with DevTools' DOM.setFileInputFiles, which fires
        `input` and `change` as a person's choice would. It is the call Playwright's
        set_input_files ends in, without that method's per-call checks and waits: three of
        those in a row cost ~50 ms per item here, this ~10 ms. The inputs are found from inside
        the page once it is ready (one round trip, no DOM tree sent over)."""
        form = self.facts.form
        names = [form.image(n) for n in range(1, min(len(images), form.max_images) + 1)]
        if not names:
            return []
        if self._cdp is None:
            self._cdp = await self.page.context.new_cdp_session(self.page)
        cdp = self._cdp
        found = await asyncio.gather(
            *(
                cdp.send(
                    "Runtime.evaluate",
                    {
                        "expression": IMAGE_INPUT_JS.replace(
                            "SELECTOR", json.dumps(f'[name="{name}"]')
                        ),
                        "awaitPromise": True,
                    },
                )
                for name in names
            )
        )
        inputs = [r.get("result", {}).get("objectId") for r in found]
        missing = [
            {"name": n, "rule": "missing"} for n, i in zip(names, inputs, strict=True) if not i
        ]
        if missing:
            return missing
        await asyncio.gather(
            *(
                cdp.send("DOM.setFileInputFiles", {"objectId": i, "files": [str(path)]})
                for i, path in zip(inputs, images, strict=False)
            )
        )
        return []

    async def confirm(self) -> None:
        """Press 確認する when the form leads to a confirm page (checked when listing)."""
        if not self.confirm_first:
            return
        if await self._press(self.facts.form.confirm_buttons) is None:
            raise LayoutChanged(
                self.facts.form.page, [f"「{self.facts.form.confirm_buttons[0]}」ボタン"]
            )

    async def submit(self, management_number: str) -> str:
        """Press the button that lists the item; the new auction id from the answer (a
        completion page) or, when the answer does not show it, from the item list."""
        items_list = urlsplit(self.browser.urls.list_page("items")).path
        early: list[asyncio.Task[ListRow | None]] = []

        def on_redirect(location: str) -> None:
            if not early and urlsplit(location).path == items_list:
                # the store answers with its item list, whose page shows no auction id (or
                # loads its rows later): the new auction is looked up there while the browser
                # follows the redirect, instead of after
                early.append(asyncio.create_task(self.reader.find_live(management_number)))

        try:
            html = await self._answer_to_submit(on_redirect)
            done = parse.parse_completion(html, self.facts)
            if done is not None:
                return done.auction_id
            kind = parse.classify(html, "", self.facts)
            on_form = not parse.missing_on_form(html, self.facts)
            if (
                kind != PageKind.LOGGED_IN
                or on_form
                or parse.error_texts(html)
                or parse.field_errors(html, self.facts)
            ):
                raise page_problem(html, "出品", maybe_listed=True, facts=self.facts)
            # an answer without the id (the item list, say): the list tells the new auction's id
            for lookup in early:
                with contextlib.suppress(ScraperError):
                    found = await lookup
                    if found is not None and found.auction_id:
                        return found.auction_id
            # (again) after the answer: the list may show a new auction a moment later
            found = await self.reader.find_live(management_number)
            if found is not None and found.auction_id:
                return found.auction_id
            raise ItemError(
                "出品した後、ヤフオクの商品一覧に見つかりませんでした",
                "after submit: not on the item list",
                maybe_listed=True,
                retry=True,
            )
        finally:
            for lookup in early:
                if not lookup.done():
                    lookup.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await lookup

    async def _answer_to_submit(self, on_redirect: Callable[[str], None]) -> str:
        """The page the store answers 出品する with."""
        try:
            html = await self._press_for_answer(self.facts.form.list_buttons, on_redirect)
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
            raise page_problem(
                await self.page.content(), "確認", maybe_listed=False, facts=self.facts
            )
        return html


class ItemActions(_Presser):
    """競りナビ item actions for ReCORE's tasks and for registered items: end an auction early,
    edit its title, description and prices, start items registered in a folder. Each runs in
    the browser: these are script-driven pages."""

    def __init__(self, browser: BrowserSession, reader: StoreReader) -> None:
        self.browser = browser
        self.reader = reader
        self.facts = browser.facts
        self.urls = browser.urls

    def _edit_url(self, item: ListRow) -> str:
        if item.edit_url:
            return self.urls.absolute(item.edit_url)
        if item.item_id is None:
            raise ValueError("an item without an id or edit link")
        return self.urls.item_edit(item.item_id)

    async def end_early(self, item: ListRow) -> ActionResult:
        """Press オークションを早期終了する on the item's page."""
        edit, states = self.facts.edit, self.facts.items
        async with self.browser.use():
            self.page = await self.browser.new_page()
            try:
                await self.browser.open(self.page, self._edit_url(item))
                button = self.page.get_by_role("button", name=edit.end_button, exact=True)
                if await button.count() == 0:
                    html = await self.page.content()
                    status = parse.page_text(html, edit.status) or ""
                    if states.status_sold in status:
                        # won on Yahoo meanwhile: not "ended" for ReCORE — a double sale
                        return ActionResult(
                            False,
                            f"オークション {item.auction_id} はすでに落札されています。"
                            "二重販売になるため、ヤフオクの注文と店頭の販売を確認してください。",
                            "auction already won on Yahoo",
                        )
                    if states.status_selling not in status:
                        return ActionResult(
                            True,
                            f"オークション {item.auction_id} はすでに終了しています。",
                            "auction already ended",
                            False,
                        )
                    raise LayoutChanged(edit.page, f"ボタン「{edit.end_button}」")
                html = await self._press_for_answer([edit.end_button]) or ""
            except PlaywrightError as exc:
                # no answer is not a refusal: the task stays open and the next sync tries again
                raise StoreUnavailable("早期終了", exc.message.splitlines()[0]) from None
            finally:
                await self.page.close()
        errors = parse.error_texts(html, edit.error)
        if errors:
            return ActionResult(
                False,
                f"オークション {item.auction_id} を早期終了できませんでした: {' '.join(errors)}",
                "end early refused by Yahoo",
            )
        if not any(text in html for text in edit.ended_texts):
            # neither an error nor the success text (a login page, say): do not claim it ended
            raise StoreUnavailable("早期終了", "no confirmation on the page after the click")
        return ActionResult(
            True, f"オークション {item.auction_id} を早期終了しました。", "auction ended early"
        )

    async def edit(self, item: ListRow, values: Mapping[str, str]) -> ActionResult:
        """Set the named form fields (field name → value) and press フォルダに保存する."""
        edit = self.facts.edit
        async with self.browser.use():
            self.page = await self.browser.new_page()
            try:
                await self.browser.open(self.page, self._edit_url(item))
                spec = {
                    "anchor": f'[name="{self.facts.form.anchor}"]',
                    "values": dict(values),
                    "choices": [],
                    "checkboxes": {},
                }
                problems: list[dict[str, Any]] = await self.page.evaluate(FILL_JS, spec)
                if problems:
                    names = "、".join(str(p.get("name")) for p in problems)
                    raise LayoutChanged(edit.page, names)
                html = await self._press_for_answer([edit.save_button])
                if html is None:
                    raise LayoutChanged(edit.page, f"ボタン「{edit.save_button}」")
            except PlaywrightError as exc:
                raise StoreUnavailable("商品の編集", exc.message.splitlines()[0]) from None
            finally:
                await self.page.close()
        errors = parse.error_texts(html, edit.error)
        if errors:
            return ActionResult(
                False,
                f"オークション {item.auction_id} を編集できませんでした: {' '.join(errors)}",
                "edit refused by Yahoo",
            )
        return ActionResult(True, f"オークション {item.auction_id} を更新しました。", "item edited")

    async def start(self, item: ListRow) -> ActionResult:
        """Start an item registered in a folder: tick it on the item list and press 出品開始,
        where the list offers that button. The new auction id is then read from the list."""
        states, lists = self.facts.items, self.facts.lists
        number = item.management_number or ""
        url = self.urls.list_page("items", 1, **{lists.keyword_param: number})
        async with self.browser.use():
            self.page = page = await self.browser.new_page()
            try:
                await self.browser.open(page, url)
                for selector in lists.loading:
                    await page.locator(selector).first.wait_for(state="detached")
                box = page.locator(f'input[name="{lists.row_checkbox}"][value="{item.item_id}"]')
                button = page.get_by_role("button", name=states.start_button, exact=True)
                if await button.count() == 0:
                    return ActionResult(
                        False,
                        f"管理番号 {number}: この画面からは出品開始できません。"
                        "競りナビの商品管理で出品を開始してください。",
                        "no start button on the item list",
                    )
                if await box.count() == 0:
                    return ActionResult(
                        False,
                        f"管理番号 {number}: 競りナビの商品管理に見つかりませんでした。",
                        "registered item not on the item list",
                    )
                before = parse.error_texts(await page.content(), self.facts.texts.error)
                await box.first.check()
                await button.first.click()
                html = await self._answer_in_place(before)
            except PlaywrightError as exc:
                raise StoreUnavailable("出品開始", exc.message.splitlines()[0]) from None
            finally:
                await page.close()
        errors = [
            e
            for e in parse.error_texts(html, self.facts.texts.error)
            if e not in before and number in e
        ]
        if errors:
            return ActionResult(
                False, f"出品開始できませんでした: {' '.join(errors)}", "start refused by Yahoo"
            )
        found = await self.reader.find_live(number)
        if found is None or not found.auction_id:
            raise StoreUnavailable("出品開始", "started, but no auction id on the item list")
        item.auction_id, item.status = found.auction_id, found.status
        return ActionResult(
            True, f"出品を開始しました（オークションID {found.auction_id}）", "started", True
        )

    async def _answer_in_place(self, before: list[str]) -> str:
        """The page once it says the start went through or shows a new error."""
        states = self.facts.items
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.browser.timeout_ms / 1000
        while True:
            html = await self.page.content()
            if any(t in html for t in states.start_done_texts):
                return html
            if parse.error_texts(html, self.facts.texts.error) != before:
                return html
            if loop.time() > deadline:
                raise StoreUnavailable("出品開始", "no answer on the item list")
            await asyncio.sleep(0.1)


class UploadPage:
    """競りナビ 一括アップロード, as staff use it: attach the file, press 「決定する」 (a real
    click; a confirm dialog is accepted), and read the answer wherever it appears — a new page,
    or the same page once the upload's XHR has finished."""

    def __init__(self, page: Page, browser: BrowserSession) -> None:
        self.page = page
        self.facts = browser.facts
        self.browser = browser

    async def upload(self, path: Path) -> parse.UploadResult:
        up = self.facts.upload
        await self.browser.open(self.page, self.browser.urls.upload())
        file_input = None
        for candidate in up.file_input:
            found = self.page.locator(candidate)
            if await found.count():
                file_input = found.first
                break
        if file_input is None:
            raise LayoutChanged("一括アップロード", "ファイルの選択欄")
        await file_input.set_input_files(str(path))
        self.page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await self.page.get_by_role("link", name=up.submit_link, exact=True).click()
        result = self.page.locator(up.result)
        answered = re.compile("|".join(re.escape(t) for t in up.result_texts))
        await result.filter(has_text=answered).first.wait_for()
        return parse.parse_upload_result(await self.page.content(), self.facts)
