"""The extension sends nothing secret to a server that has not proven it is the paired companion,
and talks to 127.0.0.1 only; 「ペアリングを解除」 and re-pairing end tokens on the companion.

Real Chromium with the real extension, the real companion (`serve`), and impostors on 127.0.0.1
(and ::1) that write down everything they receive: the tests assert that no token, proof key or
password ever reaches them.
"""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.extension.conftest import Companion, ExtensionBrowser
from tests.other_user import SYSTEM_PYTHON, other_user_home, popen_as_other_user

pytestmark = pytest.mark.browser

IMPOSTOR = Path(__file__).with_name("impostor.py")
PASSWORD = "yp-typed-on-the-options-page-5e1f"


@contextmanager
def impostor_as_other_user(host: str, port: int) -> Iterator[list[dict[str, Any]]]:
    """The impostor listening on host:port as `nobody`; yields the list its records land in
    (filled when the block ends). Its first record says whether it could listen at all."""
    records: list[dict[str, Any]] = []
    with other_user_home() as home:
        proc = popen_as_other_user(
            [SYSTEM_PYTHON, str(IMPOSTOR), host, str(port)],
            home,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        records.append(json.loads(proc.stdout.readline()))
        try:
            yield records
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=10)
            records.extend(json.loads(line) for line in out.decode().splitlines() if line)


def _secrets(ext_browser: ExtensionBrowser) -> list[str]:
    stored = ext_browser.storage()
    return [s for s in (stored["token"], stored.get("proofKey"), PASSWORD) if s]


def _leaked(records: list[dict[str, Any]], secrets: list[str]) -> list[str]:
    text = json.dumps(records)
    return [s[:6] + "…" for s in secrets if s in text]


def _press_everything(ext_browser: ExtensionBrowser) -> dict[str, Any]:
    """What staff would do next: open the popup, the options page, save a password, download,
    and the worker's own polling. Returns the popup's notice."""
    popup = ext_browser.open("popup.html")
    notice = {
        "text": popup.locator("#notice-text").inner_text(),
        "state": popup.locator("#conn-state").get_attribute("data-state"),
    }
    popup.close()
    ext_browser.open("options.html").close()
    replies = [
        ext_browser.send({"type": "putSettings", "patch": {"yahoo_password": PASSWORD}}),
        ext_browser.send({"type": "download", "source": "pending"}),
        ext_browser.send({"type": "refreshBadge"}),
    ]
    notice["codes"] = [r.get("error", {}).get("code") for r in replies if not r["ok"]]
    return notice


def test_a_program_squatting_on_the_stopped_companions_port_gets_nothing_secret(
    ext_browser: ExtensionBrowser, own_companion: Companion
) -> None:
    ext_browser.pair(own_companion)
    secrets = _secrets(ext_browser)
    own_companion.stop()
    with impostor_as_other_user("127.0.0.1", own_companion.port) as records:
        assert "listening" in records[0], records[0]
        notice = _press_everything(ext_browser)
        unpaired = ext_browser.send({"type": "unpair"})
    assert _leaked(records, secrets) == []
    # the extension did talk to it (so the test could fail): health and the challenge only
    paths = {r["path"] for r in records[1:]}
    assert "/api/v1/prove" in paths
    assert paths <= {"/api/v1/health", "/api/v1/prove"}, paths
    assert not any("Authorization" in r["headers"] for r in records[1:])
    assert notice["state"] == "unverified"
    assert "確認できませんでした" in notice["text"]
    assert set(notice["codes"]) <= {"COMPANION_UNVERIFIED"} and notice["codes"]
    # unpairing still forgets the token here; the companion could not be told
    assert unpaired["ok"] and unpaired["data"] == {"paired": False, "revoked": False}
    assert "token" not in ext_browser.storage()


class _Relay(BaseHTTPRequestHandler):
    """Passes every request on to the real companion (with the Host it expects) and back."""

    target = ""
    records: list[dict[str, Any]] = []

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "origin")}
        type(self).records.append({"path": self.path, "headers": headers, "body": repr(body)})
        request = urllib.request.Request(
            self.target + self.path, data=body, headers=headers, method=self.command
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 (loopback)
                status, data = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, data = err.code, err.read()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = _relay

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_a_relay_to_the_real_companion_cannot_pass_its_proof_off_as_its_own(
    ext_browser: ExtensionBrowser, own_companion: Companion
) -> None:
    """Another address that passes the challenge on to the real companion gets the companion's
    answer for the companion's own address, which the extension does not accept for the relay."""
    ext_browser.pair(own_companion)
    secrets = _secrets(ext_browser)
    relay_port = free_port()
    handler = type("Relay", (_Relay,), {"target": own_companion.url, "records": []})
    server = ThreadingHTTPServer(("127.0.0.1", relay_port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        ext_browser.set_storage({"companionUrl": f"http://127.0.0.1:{relay_port}"})
        notice = _press_everything(ext_browser)
    finally:
        server.shutdown()
        server.server_close()
        ext_browser.set_storage({"companionUrl": own_companion.url})
    assert _leaked(handler.records, secrets) == []
    proves = [r for r in handler.records if r["path"] == "/api/v1/prove"]
    assert proves  # the challenge went through, and the real companion answered it
    assert notice["state"] == "unverified"
    # back at the real address, the same pairing works: nothing was wrong with it
    popup = ext_browser.open("popup.html")
    assert popup.locator("#conn-state").get_attribute("data-state") == "ok"
    popup.close()


def test_localhost_never_leads_the_extension_to_a_listener_on_ipv6(
    ext_browser: ExtensionBrowser, own_companion: Companion
) -> None:
    ext_browser.pair(own_companion)
    secrets = _secrets(ext_browser)
    # an address saved as localhost (older versions accepted it; Chromium tries ::1 first)
    ext_browser.set_storage({"companionUrl": f"http://localhost:{own_companion.port}"})
    with impostor_as_other_user("::1", own_companion.port) as records:
        popup = ext_browser.open("popup.html")
        state = popup.locator("#conn-state").get_attribute("data-state")
        popup.close()
        saved = ext_browser.send({"type": "putSettings", "patch": {"yahoo_password": PASSWORD}})
    assert _leaked(records, secrets) == []
    # the companion holds [::1]:PORT itself, and the extension goes to 127.0.0.1 anyway
    assert "refused" in records[0], records[0]
    assert state == "ok" and saved["ok"], saved
    status, settings = own_companion.request("GET", "/settings", token=secrets[0])
    assert status == 200 and settings["yahoo_password"] == {"set": True}


# ---- tokens that end (item 4) -----------------------------------------------------------------


def test_unpair_ends_the_token_on_the_companion(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    token = ext_browser.pair(companion)
    assert companion.request("GET", "/status", token=token)[0] == 200
    page = ext_browser.open("options.html")
    page.click("#unpair")
    page.locator("#pair-state").filter(has_text="未ペアリング").wait_for()
    assert page.locator("#pair-message").inner_text() == "ペアリングを解除しました。"
    page.close()
    assert "token" not in ext_browser.storage()
    assert companion.request("GET", "/status", token=token)[0] == 401


def test_pairing_again_ends_the_old_token(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    first = ext_browser.pair(companion)
    second = ext_browser.pair(companion)
    assert first != second
    assert companion.request("GET", "/status", token=first)[0] == 401
    assert companion.request("GET", "/status", token=second)[0] == 200


def test_the_options_page_lists_pairings_and_ends_another_one(
    ext_browser: ExtensionBrowser, companion: Companion
) -> None:
    mine = ext_browser.pair(companion)
    # a script paired after the extension (no Origin): listed, and staff can end it
    status, script = companion.request("POST", "/pair", {"code": companion.pairing_code()})
    assert status == 200
    page = ext_browser.open("options.html")
    rows = page.locator("#pairing-list li")
    rows.nth(1).wait_for()
    assert rows.count() == 2
    assert "この拡張機能" in rows.nth(0).inner_text()
    assert ext_browser.extension_id in rows.nth(0).inner_text()
    assert "拡張機能以外" in rows.nth(1).inner_text()
    rows.nth(1).locator("button").click()
    page.locator("#pair-message").filter(has_text="解除しました").wait_for()
    assert rows.count() == 1
    page.close()
    assert companion.request("GET", "/status", token=script["token"])[0] == 401
    assert companion.request("GET", "/status", token=mine)[0] == 200
