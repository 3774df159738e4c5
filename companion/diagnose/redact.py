"""What the diagnosis writes is redacted first: no secret, no buyer's personal data, no session.

- Known values: every secret of the settings, the Yahoo ID and ビジネスID, and every buyer name,
  kana, address, postal code, phone and e-mail the diagnosis read (ReCORE's orders, the store's
  order list and details) are replaced wherever they appear, longest first.
- Shapes: e-mail addresses, Japanese phone numbers and postal codes anywhere in a text.
- Pages: hidden inputs (tokens), `<script>` bodies other than `__NEXT_DATA__`'s key tree (kept
  apart), and the cell beside a personal label (注文者氏名, 住所 …) are dropped.
- Ids: order and auction ids become stable hashes of the same shape (`c1133337781` →
  `q5820941736`), the same in every file, so support can follow one order through the bundle
  without learning it, and the pages still parse (a bundle can be served again as a store).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(
    r"(?<![\d-])(?:0\d{1,4}[-‐ー－ ]?\d{1,4}[-‐ー－ ]?\d{3,4}|\+81[\d -]{9,13})(?![\d-])"
)
POSTAL = re.compile(r"〒?\s?(?<![A-Za-z\d-])\d{3}[-‐－]\d{4}(?!\d)")
MASK = "[redacted]"


TOKEN_PARAMS = ("crumb", "token", "sig", "session", "key", "auth", "ticket", "code")


def url_without_tokens(url: str) -> str:
    """A request URL with the values of token-like query parameters dropped."""
    parts = urlsplit(url)
    query = [
        (k, MASK if any(t in k.lower() for t in TOKEN_PARAMS) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def stable_hash(value: str) -> str:
    """The same made-up id for the same id, in the same shape (a letter stays a letter, a digit a
    digit), so the parsers read a redacted page as they read the original."""
    digest = hashlib.sha256(value.encode()).digest()
    out = []
    for i, char in enumerate(value):
        byte = digest[i % len(digest)] ^ i
        if char.isascii() and char.isdigit():
            out.append(str(byte % 10))
        elif char.isascii() and char.islower():
            out.append(chr(ord("a") + byte % 26))
        elif char.isascii() and char.isupper():
            out.append(chr(ord("A") + byte % 26))
        else:
            out.append(char)
    return "".join(out)


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
        self._kept: set[str] = set()
        self.personal_labels = {t for t in personal_labels if t}
        self.id_patterns = list(id_patterns)
        self._compiled: re.Pattern[str] | None = None
        self.add_values(secrets)

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

    def keep(self, values: Iterable[str | None]) -> None:
        """Values that are never personal (the shop's 管理番号): a cell read as a buyer by
        mistake must not blank them out of every page."""
        self._kept.update(v.strip() for v in values if isinstance(v, str) and v.strip())
        self._compiled = None

    def add_ids(self, values: Iterable[str | None]) -> None:
        """Order ids and auction ids seen: written as stable hashes."""
        self._ids.update(v.strip() for v in values if isinstance(v, str) and len(v.strip()) >= 3)
        self._compiled = None

    def _pattern(self) -> re.Pattern[str]:
        """One pass: known values and ids (longest first), then the id shapes."""
        if self._compiled is None:
            words = sorted((self._values - self._kept) | self._ids, key=len, reverse=True)
            parts = [*map(re.escape, words), *(p.pattern for p in self.id_patterns)]
            self._compiled = re.compile("|".join(f"(?:{p})" for p in parts) or r"(?!)")
        return self._compiled

    def _replace(self, found: re.Match[str]) -> str:
        text = found.group(0)
        return MASK if text in self._values and text not in self._kept else stable_hash(text)

    def text(self, text: str) -> str:
        # contacts first (on the original text), then names, secrets and ids in one pass
        text = EMAIL.sub(MASK, text)
        text = POSTAL.sub(MASK, text)
        text = PHONE.sub(MASK, text)
        return self._pattern().sub(self._replace, text)

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
