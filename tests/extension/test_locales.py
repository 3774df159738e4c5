"""Manifest and message catalogues: minimal permissions, every UI string translated, Japanese by
default (a browser in a language we do not translate gets Japanese, not English)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.extension.conftest import EXT, ExtensionBrowser

MANIFEST = json.loads((EXT / "manifest.json").read_text(encoding="utf-8"))


def catalogue(lang: str) -> dict[str, Any]:
    return json.loads((EXT / "_locales" / lang / "messages.json").read_text(encoding="utf-8"))


def protocol_list(name: str) -> tuple[int, ...]:
    """A list of numbers from the extension's protocol.js (`export const NAME = …([…])`)."""
    text = (EXT / "common" / "protocol.js").read_text(encoding="utf-8")
    found = re.search(rf"export const {name} = Object\.freeze\(\[([\d, ]*)\]\)", text)
    assert found, name
    return tuple(int(n) for n in found.group(1).split(","))


def used_keys() -> set[str]:
    """Message keys the pages and scripts ask for (literal keys only)."""
    keys: set[str] = set()
    for path in EXT.rglob("*"):
        if path.suffix not in {".html", ".js", ".json"} or "_locales" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r'data-i18n(?:-placeholder|-title)?="([A-Za-z0-9_]+)"', text))
        keys |= set(re.findall(r'\bt\("([A-Za-z0-9_]+)"', text))
        keys |= set(re.findall(r'localError\([^)]*?"[A-Z_]+",\s*"([A-Za-z0-9_]+)"', text))
        keys |= set(re.findall(r'"(err[A-Z][A-Za-z]+|hint[A-Z][A-Za-z]+)"', text))
        keys |= set(re.findall(r"__MSG_([A-Za-z0-9_]+)__", text))
    # the interval dropdowns' labels are made from the lists (ui/messaging.js fillIntervals)
    keys |= {f"interval{n}" for n in protocol_list("SYNC_INTERVALS")}
    return keys


def test_the_interval_dropdowns_offer_what_the_companion_accepts() -> None:
    from companion.settings import FULL_SYNC_INTERVALS_MINUTES, SYNC_INTERVALS_MINUTES

    assert protocol_list("SYNC_INTERVALS") == SYNC_INTERVALS_MINUTES
    assert protocol_list("FULL_SYNC_INTERVALS") == FULL_SYNC_INTERVALS_MINUTES


def test_manifest_is_mv3_with_minimal_permissions() -> None:
    assert MANIFEST["manifest_version"] == 3
    assert MANIFEST["default_locale"] == "ja"
    # nativeMessaging: the companion's host starts it and pairs (companion/native_host.py)
    assert sorted(MANIFEST["permissions"]) == [
        "alarms",
        "downloads",
        "nativeMessaging",
        "notifications",
        "storage",
    ]
    # 127.0.0.1 only: localhost may resolve to ::1, where another program could answer
    assert MANIFEST["host_permissions"] == ["http://127.0.0.1/*"]
    assert "content_scripts" not in MANIFEST
    assert "externally_connectable" not in MANIFEST
    assert MANIFEST["background"] == {
        "service_worker": "background/service_worker.js",
        "type": "module",
    }


def test_icons_exist_in_every_size() -> None:
    for size, path in MANIFEST["icons"].items():
        with Image.open(EXT / path) as image:
            assert image.size == (int(size), int(size))


def test_both_catalogues_have_the_same_keys_and_every_used_key() -> None:
    ja, en = catalogue("ja"), catalogue("en")
    assert set(ja) == set(en)
    missing = used_keys() - set(ja)
    assert not missing, f"keys used but not translated: {sorted(missing)}"
    # same substitutions ($1 …) in both languages
    for key in ja:
        assert sorted(re.findall(r"\$\d", ja[key]["message"])) == sorted(
            re.findall(r"\$\d", en[key]["message"])
        ), key
    assert ja["lang"]["message"] == "ja" and en["lang"]["message"] == "en"


def test_no_hard_coded_japanese_in_scripts() -> None:
    """UI text lives in the catalogues; only data values (status names) may be Japanese in code."""
    allowed = {
        "未処理",
        "入金済み",
        "発送済み",
        "対応終了",
        "キャンセル",
        "保留中",
        "未出荷",
        "出荷済み",
        "キャンセル済み",
    }
    for path in EXT.rglob("*.js"):
        for literal in re.findall(
            r'"([^"\n]*[\u3040-\u30ff\u4e00-\u9fff][^"\n]*)"', path.read_text()
        ):
            assert literal in allowed, f"{path.relative_to(EXT)}: {literal}"


@pytest.mark.browser
@pytest.mark.parametrize(
    ("lang", "heading", "button"),
    [
        ("de", "ReCORE Connector 設定", "ペアリング"),  # not translated → the default, Japanese
        ("en", "ReCORE Connector settings", "Pair"),
    ],
)
def test_browser_language_picks_the_catalogue(
    playwright: Any, tmp_path: Path, lang: str, heading: str, button: str
) -> None:
    browser = ExtensionBrowser(playwright, tmp_path / "profile", lang=lang)
    browser.launch()
    try:
        page = browser.open("options.html")
        assert page.locator("h1").inner_text() == heading
        assert page.locator("#pair").inner_text() == button
    finally:
        browser.close()
