"""The shop's own facts file: `facts.toml` in the data directory, laid over the built-in facts.

When a real store page differs from what the connector knows (a renamed field, another button
text, another path), support sends one file instead of a release. It has the sections and keys of
`scrapers/facts.toml`, only those that differ. It is checked when the companion starts (and when
`diagnose`, `sync --once` or `login` run): a file that does not fit is refused with its line and
the reason, the built-in facts stay in use, and /status and the diagnosis say so.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from scrapers.facts import FACTS, Facts, FactsError, load_facts

log = logging.getLogger(__name__)

FACTS_FILE_NAME = "facts.toml"

_TOML_LINE = re.compile(r"at line (\d+)")
_HEADER = re.compile(r"^\s*\[\[?\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(
    r"^\s*((?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+))*)\s*="
)
_DOTTED_PART = re.compile(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_-]+)")


@dataclass(frozen=True)
class ShopFacts:
    """The facts in use and where they came from."""

    facts: Facts
    path: Path
    state: str  # "none" (no file), "applied", "refused"
    line: int | None = None  # where a refused file is wrong, when known
    reason: str = ""  # English, for the log and support

    @property
    def message_ja(self) -> str:
        if self.state == "applied":
            return f"お店用の設定ファイル（{self.path.name}）の内容で画面を読んでいます。"
        if self.state == "refused":
            where = f"{self.line}行目" if self.line else "ファイル"
            return (
                f"お店用の設定ファイル（{self.path}）の{where}に誤りがあるため使っていません"
                f"（標準の設定で動いています）。IT担当の方はサポートから届いたファイルを"
                f"そのまま置き直してください。理由: {self.reason}"
            )
        return ""

    def describe(self) -> dict[str, object]:
        return {
            "state": self.state,
            "path": str(self.path),
            "line": self.line,
            "reason": self.reason,
            "message": self.message_ja,
        }


def _dotted(text: str) -> list[str]:
    return [a or b or c for a, b, c in _DOTTED_PART.findall(text)]


def line_of(text: str, where: str) -> int | None:
    """The line of the file that sets the key named by a schema error's place
    (`facts.form.fields.タイトル`, `facts.login.handle[1]`): the longest key path that starts it."""
    target = [p for p in re.sub(r"\[\d+\]", "", where).split(".") if p][1:]  # drop "facts"
    best: tuple[int, int] | None = None  # (matched length, line)
    table: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if header := _HEADER.match(line):
            table = _dotted(header.group(1))
            path = table
        elif key := _KEY.match(line):
            path = table + _dotted(key.group(1))
        else:
            continue
        n = len(path)
        if path == target[:n] and (best is None or n > best[0]):
            best = (n, number)
    return best[1] if best else None


def load_shop_facts(data_dir: Path) -> ShopFacts:
    """The built-in facts with the shop's file laid over them, or the built-in facts alone when
    there is no file or it is refused (never an exception: a bad file must not stop the start)."""
    path = data_dir / FACTS_FILE_NAME
    if not path.is_file():
        return ShopFacts(FACTS, path, "none")
    try:
        text = path.read_text(encoding="utf-8")
        tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        return _refused(path, None, f"cannot be read ({exc})")
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        # "at end of document": the last line is where it went wrong
        line = int(found.group(1)) if found else len(text.splitlines()) or None
        return _refused(path, line, f"not TOML: {exc}")
    try:
        facts = load_facts(path)
    except FactsError as exc:
        message = str(exc)
        where, _, reason = message.partition(": ")
        unknown = re.match(r"unknown key\(s\) ([^,]+)", reason)
        line = line_of(text, f"{where}.{unknown.group(1)}" if unknown else where)
        return _refused(path, line, message)
    log.info("the shop's facts file %s is in use", path)
    return ShopFacts(facts, path, "applied")


def _refused(path: Path, line: int | None, reason: str) -> ShopFacts:
    log.error(
        "the shop's facts file %s is refused (line %s: %s); the built-in facts are in use",
        path,
        line if line is not None else "?",
        reason,
    )
    return ShopFacts(FACTS, path, "refused", line, reason)
