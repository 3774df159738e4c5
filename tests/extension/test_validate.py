"""The extension's input rules (common/validate.js, common/time.js), run in the extension itself."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.extension.conftest import Companion, ExtensionBrowser

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(ext_browser: ExtensionBrowser) -> Any:
    page = ext_browser.open("options.html")
    yield page
    page.close()


def call(page: Any, module: str, function: str, *args: Any) -> Any:
    return page.evaluate(
        "async ([m, f, a]) => (await import(m))[f](...a)", [f"/common/{module}.js", function, args]
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "  https://co-api.recore-pos.com/ ",
            {"ok": True, "value": "https://co-api.recore-pos.com"},
        ),
        ("https://Example.test/api//", {"ok": True, "value": "https://example.test/api"}),
        ("http://127.0.0.1:8766/", {"ok": True, "value": "http://127.0.0.1:8766"}),
        ("http://localhost", {"ok": True, "value": "http://localhost"}),
        ("http://co-api.recore-pos.com", {"ok": False, "error": "errUrlHttps"}),
        ("http://127.0.0.2", {"ok": False, "error": "errUrlHttps"}),
        ("ftp://co-api.recore-pos.com", {"ok": False, "error": "errUrlInvalid"}),
        ("co-api.recore-pos.com", {"ok": False, "error": "errUrlInvalid"}),
        ("https://user:pw@example.test", {"ok": False, "error": "errUrlInvalid"}),
        ("https://example.test/?key=1", {"ok": False, "error": "errUrlInvalid"}),
        ("   ", {"ok": False, "error": "errUrlRequired"}),
    ],
)
def test_recore_api_url(page: Any, raw: str, expected: dict[str, Any]) -> None:
    assert call(page, "validate", "normalizeApiUrl", raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://127.0.0.1:8765/", {"ok": True, "value": "http://127.0.0.1:8765"}),
        # never a name that may resolve to ::1, where another program could answer
        (" http://localhost:9000 ", {"ok": True, "value": "http://127.0.0.1:9000"}),
        ("http://[::1]:8765", {"ok": False, "error": "errCompanionUrl"}),
        ("https://127.0.0.1:8765", {"ok": False, "error": "errCompanionUrl"}),
        ("http://192.168.1.5:8765", {"ok": False, "error": "errCompanionUrl"}),
        ("http://127.0.0.1:8765/api/v1", {"ok": False, "error": "errCompanionUrl"}),
    ],
)
def test_companion_url(page: Any, raw: str, expected: dict[str, Any]) -> None:
    assert call(page, "validate", "normalizeCompanionUrl", raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12345678", {"ok": True, "value": "12345678"}),
        ("１２３４ ５６７８", {"ok": True, "value": "12345678"}),  # full-width from an IME
        ("1234-5678", {"ok": True, "value": "12345678"}),
        ("12345", {"ok": False, "error": "errPairingCode"}),
        ("12345a78", {"ok": False, "error": "errPairingCode"}),
    ],
)
def test_pairing_code(page: Any, raw: str, expected: dict[str, Any]) -> None:
    assert call(page, "validate", "normalizePairingCode", raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", {"ok": True, "value": None}),
        (" 12 ", {"ok": True, "value": 12}),
        ("0", {"ok": False, "error": "errPositiveInt"}),
        ("1.5", {"ok": False, "error": "errPositiveInt"}),
        ("-3", {"ok": False, "error": "errPositiveInt"}),
        ("99999999999999999999", {"ok": False, "error": "errPositiveInt"}),
    ],
)
def test_optional_id(page: Any, raw: str, expected: dict[str, Any]) -> None:
    assert call(page, "validate", "parseOptionalId", raw) == expected


def test_times_without_a_zone_are_utc(page: Any) -> None:
    utc = call(page, "time", "parseTime", "2026-11-22T12:00:00Z")
    assert call(page, "time", "parseTime", "2026-11-22T12:00:00") == utc
    assert call(page, "time", "parseTime", "2026-11-22T21:00:00+09:00") == utc
    assert call(page, "time", "parseTime", "2026-11-22T12:00:00.000000") == utc
    assert math.isnan(call(page, "time", "parseTime", None))
    # the page runs in Japan's time zone (see conftest): a zone-less time read as local would differ
    assert page.evaluate("Date.parse('2026-11-22T12:00:00')") != utc


def test_pairing_with_a_stopped_companion_names_the_address_tried(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    from tests.conftest import free_port

    nowhere = f"http://127.0.0.1:{free_port()}"
    reply = ext_browser.send({"type": "pair", "companionUrl": nowhere, "code": "12345678"})
    assert reply["ok"] is False
    assert reply["error"]["code"] == "COMPANION_DOWN"
    assert nowhere in reply["error"]["text"]
    # what to do next, in plain words: no command line for staff
    hint = reply["error"]["hint"]
    assert "再試行" in hint and "recore-connector" not in hint
