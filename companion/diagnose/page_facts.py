"""Every selector and text of the facts that a store page must carry, counted on a page.

One `Check` is one fact: a CSS selector, a button, link or label text, a text on the page, or a
pattern. Counted on the page as fetched over HTTP and as rendered by Chromium, it is found (once,
or at least once where many are normal), ambiguous (a field name that should be unique appears
more than once) or missing (in neither). A missing check that the connector needs makes the
diagnosis fail and is named in the summary by its place in the facts (`form.fields.タイトル`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from scrapers.facts import Facts
from scrapers.parse import button_texts, doc, label_texts, node_text


@dataclass(frozen=True)
class Check:
    fact: str  # where in the facts: form.fields.タイトル
    kind: str  # css, button, link, label, text, pattern
    values: tuple[str, ...]  # any one of these
    unique: bool = False  # more than one match is ambiguous
    needed: bool = True


@dataclass
class Counted:
    fact: str
    kind: str
    values: list[str]
    needed: bool
    raw: int
    rendered: int
    result: str  # found, ambiguous, missing

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class PageView:
    """What the checks look at on one HTML page (parsed once)."""

    def __init__(self, html: str) -> None:
        self.html = html
        self.tree = doc(html)
        self.text = node_text(self.tree.body) if self.tree.body is not None else ""
        self.buttons = button_texts(html)
        self.links = [node_text(a) for a in self.tree.css("a")]
        self.labels = label_texts(html)

    def count(self, check: Check) -> int:
        total = 0
        for value in check.values:
            if check.kind == "css":
                try:
                    total += len(self.tree.css(value))
                except (ValueError, SyntaxError):  # a shop's selector that does not parse
                    continue
            elif check.kind == "button":
                total += self.buttons.count(value)
            elif check.kind == "link":
                total += self.links.count(value) + self.buttons.count(value)
            elif check.kind == "label":
                total += self.labels.count(value)
            elif check.kind == "text":
                total += self.text.count(value)
            elif check.kind == "pattern":
                total += len(re.findall(value, self.html))
        return total


def count_checks(checks: list[Check], raw: PageView, rendered: PageView | None) -> list[Counted]:
    out = []
    for check in checks:
        n_raw = raw.count(check)
        n_rendered = rendered.count(check) if rendered is not None else 0
        best = max(n_raw, n_rendered)
        if best == 0:
            result = "missing"
        elif check.unique and min(n for n in (n_raw, n_rendered) if n) > 1:
            result = "ambiguous"
        else:
            result = "found"
        out.append(
            Counted(
                check.fact, check.kind, list(check.values), check.needed, n_raw, n_rendered, result
            )
        )
    return out


def _name(name: str) -> str:
    return f'[name="{name}"]'


def checks_for(page: str, facts: Facts, *, has_rows: bool = False) -> list[Check]:
    """The facts a page of this kind must carry (`has_rows`: a list page that shows rows)."""
    if page == "top":
        nav = facts.navigation
        return [
            *(
                Check(f"navigation.{key}.texts", "link", getattr(nav, key).texts, needed=False)
                for key in ("items", "selling", "sold", "orders")
            ),
            Check("paths.store_id_pattern", "pattern", (facts.paths.store_id_pattern.pattern,)),
        ]
    if page == "upload":
        up = facts.upload
        return [
            Check("upload.file_input", "css", up.file_input),
            Check("upload.submit_link", "link", (up.submit_link,)),
        ]
    if page == "item_create":
        form = facts.form
        checks = [Check("form.anchor", "css", (_name(form.anchor),), unique=True)]
        checks += [
            Check(f"form.fields.{column}", "css", (_name(name),), unique=True)
            for column, name in form.fields.items()
        ]
        for column, choice in form.choices.items():
            if choice.names:
                checks.append(
                    Check(
                        f"form.choices.{column}.names",
                        "css",
                        tuple(_name(n) for n in choice.names),
                        needed=not choice.options,
                    )
                )
            if choice.options:
                checks += [
                    Check(f"form.choices.{column}.options", "label", (o,), needed=not choice.names)
                    for o in choice.options
                ]
        checks.append(Check("form.image_input", "css", (_name(form.image(1)),), unique=True))
        checks += [
            Check(f"form.checkboxes.{column}", "label", (text,))
            for column, text in form.checkboxes.items()
        ]
        checks.append(
            Check(
                "form.confirm_buttons|list_buttons",
                "button",
                form.confirm_buttons + form.list_buttons,
            )
        )
        return checks
    if page == "item_edit":
        edit = facts.edit
        return [
            Check("edit.title_field", "css", (_name(edit.title_field),), unique=True),
            Check("edit.description_field", "css", (_name(edit.description_field),), unique=True),
            Check("edit.start_price_field", "css", (_name(edit.start_price_field),), unique=True),
            Check(
                "edit.buyout_price_field", "css", (_name(edit.buyout_price_field),), needed=False
            ),
            Check("edit.save_button", "button", (edit.save_button,)),
            Check("edit.end_button", "button", (edit.end_button,), needed=False),
        ]
    if page in ("items", "selling", "sold"):
        lists = facts.lists
        items = has_rows and page == "items"  # 出品開始 ticks a row's box; edits follow its link
        return [
            Check(
                "lists.row_checkbox", "css", (f'input[name="{lists.row_checkbox}"]',), needed=items
            ),
            Check(
                "lists.edit_link_marker",
                "css",
                (f'a[href*="{lists.edit_link_marker}"]',),
                needed=items,
            ),
            Check("lists.total_pattern", "pattern", (lists.total_pattern.pattern,), needed=False),
        ]
    if page == "orders":
        labels = facts.orders.list_labels
        return [
            Check(f"orders.list_labels.{key}", "text", (text,), needed=has_rows)
            for key, text in labels.items()
        ]
    if page == "order_detail":
        orders = facts.orders
        return [
            Check("orders.detail_table", "css", (orders.detail_table,)),
            *(
                Check(
                    f"orders.detail_labels.{key}",
                    "text",
                    (text,),
                    needed=key in orders.detail_required,
                )
                for key, text in orders.detail_labels.items()
            ),
        ]
    return []
