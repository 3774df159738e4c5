"""What the diagnosis writes is redacted first: no secret, no buyer's personal data, no session.

- Known values: every secret of the settings, the Yahoo ID and ビジネスID, and every buyer name,
  kana, address, postal code, phone and e-mail the diagnosis read (ReCORE's orders, the store's
  order list and details) are replaced wherever they appear, longest first.
- Shapes: e-mail addresses, Japanese phone numbers and postal codes anywhere in a text.
- Pages: hidden inputs (tokens), `<script>` bodies other than `__NEXT_DATA__`'s key tree (kept
  apart), and the cell beside a personal label (注文者氏名, 住所 …) are dropped.
- Ids: order and auction ids become stable hashes (`id-1a2b3c4d`), the same in every file, so
  support can follow one order through the bundle without learning it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from selectolax.lexbor import LexborHTMLParser

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(
    r"(?<![\d-])(?:0\d{1,4}[-‐ー－ ]?\d{1,4}[-‐ー－ ]?\d{3,4}|\+81[\d -]{9,13})(?![\d-])"
)
POSTAL = re.compile(r"〒?\s?(?<!\d)\d{3}[-‐－]\d{4}(?!\d)")
MASK = "[redacted]"


def stable_hash(value: str) -> str:
    return "id-" + hashlib.sha256(value.encode()).hexdigest()[:10]


class Redactor:
    def __init__(
        self,
        *,
        secrets: Iterable[str | None] = (),
        personal_labels: Iterable[str] = (),
        id_patterns: Iterable[re.Pattern[str]] = (),
    ) -> None:
        self._values: set[str] = set()
        self._ids: set[str] = set()
        self.personal_labels = {t for t in personal_labels if t}
        self.id_patterns = list(id_patterns)
        self.add_values(secrets)
        self._compiled: re.Pattern[str] | None = None

    def add_values(self, values: Iterable[str | None]) -> None:
        """Personal values or secrets: replaced wherever they appear (and their parts, for names
        and addresses written with a space in one place and without in another)."""
        for value in values:
            if not isinstance(value, str):
                continue
            value = value.strip()
            if len(value) < 2:
                continue
            self._values.add(value)
            for part in value.replace("\u3000", " ").split():
                if len(part) >= 2:
                    self._values.add(part)
            self._compiled = None

    def add_ids(self, values: Iterable[str | None]) -> None:
        """Order ids and auction ids seen: written as stable hashes."""
        self._ids.update(v.strip() for v in values if isinstance(v, str) and len(v.strip()) >= 3)
        self._compiled = None

    def _pattern(self) -> re.Pattern[str] | None:
        if self._compiled is None and (self._values or self._ids):
            words = sorted(self._values | self._ids, key=len, reverse=True)
            self._compiled = re.compile("|".join(map(re.escape, words)))
        return self._compiled

    def _replace(self, found: re.Match[str]) -> str:
        text = found.group(0)
        return stable_hash(text) if text in self._ids else MASK

    def text(self, text: str) -> str:
        pattern = self._pattern()
        if pattern is not None:
            text = pattern.sub(self._replace, text)
        for id_pattern in self.id_patterns:
            text = id_pattern.sub(lambda m: stable_hash(m.group(0)), text)
        text = EMAIL.sub(MASK, text)
        text = POSTAL.sub(MASK, text)
        return PHONE.sub(MASK, text)

    def html(self, html: str) -> str:
        """A page without tokens, scripts' contents or the cells beside personal labels, then
        redacted as text."""
        tree = LexborHTMLParser(html)
        for node in tree.css('input[type="hidden" i]'):
            node.decompose()
        for node in tree.css("script"):
            if node.attributes.get("src") is None:  # inline data (__NEXT_DATA__ is kept apart)
                node.decompose()
        for node in tree.css("th, dt"):
            label = " ".join((node.text() or "").split())
            if label in self.personal_labels:
                cell = node.next
                while cell is not None and cell.tag not in ("td", "dd"):
                    cell = cell.next
                if cell is not None:
                    for part in list(cell.traverse(include_text=True)):
                        if part.tag == "-text" and (part.text_content or "").strip():
                            part.replace_with(MASK)
        for node in tree.css("input[value]"):
            # a field's value may be a secret (a login form) or personal: keep only its shape
            kind = (node.attributes.get("type") or "text").lower()
            if kind in ("text", "password", "email", "tel", "search", ""):
                node.attrs["value"] = MASK if node.attributes.get("value") else ""
        return self.text(tree.html or "")

    def data(self, value: Any) -> Any:
        """A JSON value with every string redacted (keys kept: they are the page's shape)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {str(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        return value


def key_tree(value: Any, depth: int = 0) -> Any:
    """The shape of a JSON value: keys and value types, one example of each list's items."""
    if depth > 12:
        return "…"
    if isinstance(value, dict):
        return {str(k): key_tree(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [key_tree(value[0], depth + 1)] if value else []
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"
