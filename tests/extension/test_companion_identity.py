"""The extension knows who answers on the companion's port: another program (Anki-Connect's
default port is also 8765) is recognised as such, and an extension or companion of another API
version gets 「更新してください」 instead of odd errors. Real Chromium, real extension, real
HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import free_port
from tests.extension.conftest import Companion, ExtensionBrowser

pytestmark = pytest.mark.browser

ANKI_CONNECT = {"apiVersion": "AnkiConnect v.6"}  # what Anki-Connect answers a plain GET


class _Fixed(BaseHTTPRequestHandler):
    """Answers every request with one JSON body and notes the path and headers."""

    reply: dict[str, Any] = {}
    records: list[dict[str, Any]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        type(self).records.append(
            {"path": self.path, "headers": dict(self.headers), "body": body.decode()}
        )
        data = json.dumps(self.reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


@contextmanager
def answering(port: int, reply: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    handler = type("Fixed", (_Fixed,), {"reply": reply, "records": []})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler.records
    finally:
        server.shutdown()
        server.server_close()


def _popup(ext_browser: ExtensionBrowser) -> dict[str, str]:
    popup = ext_browser.open("popup.html")
    try:
        return {
            "state": popup.locator("#conn-state").get_attribute("data-state") or "",
            "text": popup.locator("#notice-text").inner_text(),
        }
    finally:
        popup.close()


def test_another_program_on_the_port_is_named_as_such_and_gets_nothing(
    ext_browser: ExtensionBrowser, own_companion: Companion
) -> None:
    ext_browser.pair(own_companion)
    token = ext_browser.storage()["token"]
    assert _popup(ext_browser)["state"] == "ok"
    own_companion.stop()
    with answering(own_companion.port, ANKI_CONNECT) as records:
        shown = _popup(ext_browser)
    assert shown["state"] == "foreign"
    assert "別のプログラム" in shown["text"]
    assert records  # it was asked (so the test could fail) ...
    # ... who it is, and at most a challenge from the badge's poll: nothing secret
    assert {r["path"] for r in records} <= {"/api/v1/health", "/api/v1/prove"}
    assert not any("Authorization" in r["headers"] for r in records)
    assert token not in json.dumps(records)


def test_a_pairing_code_is_not_given_to_another_program(ext_browser: ExtensionBrowser) -> None:
    port = free_port()
    with answering(port, ANKI_CONNECT) as records:
        reply = ext_browser.send(
            {"type": "pair", "companionUrl": f"http://127.0.0.1:{port}", "code": "12345678"}
        )
    assert not reply["ok"]
    assert reply["error"]["code"] == "NOT_COMPANION"
    assert [r["path"] for r in records] == ["/api/v1/health"]


@pytest.mark.parametrize(
    ("health", "said"),
    [
        ({"app": "recore-connector", "api_version": 0}, "コンパニオンを更新してください"),
        ({"app": "recore-connector"}, "コンパニオンを更新してください"),
        (
            {"app": "recore-connector", "api_version": 2, "min_extension_api": 2},
            "拡張機能を更新してください",
        ),
    ],
)
def test_an_outdated_side_is_told_to_update(
    ext_browser: ExtensionBrowser, health: dict[str, Any], said: str
) -> None:
    port = free_port()
    ext_browser.set_storage({"companionUrl": f"http://127.0.0.1:{port}"})
    with answering(port, {"ok": True, **health}) as records:
        shown = _popup(ext_browser)
        paired = ext_browser.send(
            {"type": "pair", "companionUrl": f"http://127.0.0.1:{port}", "code": "12345678"}
        )
    assert shown["state"] == "outdated"
    assert said in shown["text"]
    assert paired["error"]["text"] == shown["text"]
    # (the badge's poll may also ask for a proof: that carries nothing secret)
    assert "/api/v1/pair" not in {r["path"] for r in records}
    assert not any("Authorization" in r["headers"] for r in records)


def test_every_call_carries_the_extensions_api_version(
    ext_browser: ExtensionBrowser, own_companion: Companion
) -> None:
    """The companion refuses an extension API it does not speak: the header must arrive."""
    port = free_port()
    ext_browser.set_storage({"companionUrl": f"http://127.0.0.1:{port}"})
    with answering(port, {"ok": True, "app": "recore-connector", "api_version": 1}) as records:
        _popup(ext_browser)
    assert records
    assert all(r["headers"].get("X-ReCORE-API") == "1" for r in records), records
    ext_browser.set_storage({"companionUrl": own_companion.url})
