"""Native messaging in real Chromium: with the host registered in the profile
(`<profile>/NativeMessagingHosts/`, where Chromium looks on Linux), opening the popup with no
companion running ends connected, no code typed, and the companion runs on afterwards; an
extension with another id gets nothing from the host."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from companion.native_host import EXTENSION_ID, HOST_NAME, host_manifest, launcher_text
from tests.conftest import free_port
from tests.extension.conftest import EXT, ExtensionBrowser
from tests.install.helpers import ENV, ROOT, companions_of, stop_companions

pytestmark = pytest.mark.browser


SEEN_LOADING = """
window.seenLoading = [];
document.addEventListener("DOMContentLoaded", () => {
  const loading = document.getElementById("loading");
  new MutationObserver(() => window.seenLoading.push(loading.textContent)).observe(loading, {
    childList: true,
    characterData: true,
    subtree: true,
  });
});
"""


def register_host(profile: Path, data_dir: Path, port: int, origins: list[str]) -> None:
    """A host manifest allowing `origins` (setup only ever allows the extension's own id)."""
    launcher = profile.parent / "host"
    launcher.write_text(launcher_text(data_dir, port, windows=False))
    launcher.chmod(0o755)
    hosts = profile / "NativeMessagingHosts"
    hosts.mkdir(parents=True, exist_ok=True)
    manifest = host_manifest(launcher, origins)
    (hosts / f"{HOST_NAME}.json").write_text(json.dumps(manifest))


def popup_state(browser: ExtensionBrowser) -> str:
    popup = browser.open("popup.html")
    try:
        return popup.locator("#conn-state").get_attribute("data-state") or ""
    finally:
        popup.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    yield path
    stop_companions(path)


def test_the_popup_ends_connected_without_a_code(
    playwright: Any, tmp_path: Path, data_dir: Path
) -> None:
    profile = tmp_path / "profile"
    port = free_port()
    # registered as the IT person would, into this profile only
    setup = subprocess.run(
        [sys.executable, "-m", "companion.cli", "setup", "--profile", str(profile)]
        + ["--data-dir", str(data_dir), "--port", str(port)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert setup.returncode == 0, setup.stderr
    browser = ExtensionBrowser(playwright, profile)
    browser.launch()
    try:
        assert browser.extension_id == EXTENSION_ID  # the manifest key makes the id stable
        popup = browser.context.new_page()
        # every text the loading line shows, as it shows it
        popup.add_init_script(SEEN_LOADING)
        popup.goto(browser.url("popup.html"))
        popup.wait_for_selector("body[data-ready='true']", state="attached")
        assert popup.locator("#conn-state").get_attribute("data-state") == "ok"
        assert "コンパニオンを起動しています…" in popup.evaluate("window.seenLoading")
        popup.close()
        stored = browser.storage()
        assert stored["companionUrl"] == f"http://127.0.0.1:{port}"
        assert stored["token"] and stored["keyId"] and stored["proofKey"]
        assert companions_of(data_dir)  # started by the host, and still running
        # the pairing ended on the companion's side: the next popup is paired anew by the host
        ended = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/pairings/current",
            headers={"Authorization": f"Bearer {stored['token']}"},
            method="DELETE",
        )
        with urllib.request.urlopen(ended, timeout=10) as resp:  # noqa: S310 - loopback
            assert resp.status == 200
        assert popup_state(browser) == "ok"
        assert browser.storage()["token"] != stored["token"]
    finally:
        browser.close()
    assert companions_of(data_dir)  # it outlives the browser too


def test_an_extension_with_another_id_gets_nothing_from_the_host(
    playwright: Any, tmp_path: Path, data_dir: Path
) -> None:
    # the same extension without its key: Chromium gives it another id
    other = tmp_path / "other-extension"
    shutil.copytree(EXT, other)
    manifest = json.loads((other / "manifest.json").read_text())
    del manifest["key"]
    (other / "manifest.json").write_text(json.dumps(manifest))
    profile = tmp_path / "profile"
    browser = ExtensionBrowser(playwright, profile, extension_dir=other)
    browser.launch()
    try:
        other_id = browser.extension_id
        assert other_id != EXTENSION_ID
        # even a host manifest that lets Chromium call the host for it: the host says no
        port = free_port()
        register_host(profile, data_dir, port, [f"chrome-extension://{other_id}/"])
        assert popup_state(browser) != "ok"
        assert "token" not in browser.storage()
    finally:
        browser.close()
    assert companions_of(data_dir) == []
    log = (data_dir / "logs" / "native-host.log").read_text()
    assert "refused origin" in log  # Chromium did run the host: the refusal was the host's


def test_a_companion_that_cannot_start_is_said_so_in_plain_japanese(
    playwright: Any, tmp_path: Path, data_dir: Path
) -> None:
    """The port is held by something that answers no HTTP: the companion the host starts cannot
    listen and exits, and the popup says so at once, without a command line."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    stop = threading.Event()

    def refuse() -> None:
        holder.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = holder.accept()
                connection.close()
            except OSError:
                continue

    thread = threading.Thread(target=refuse, daemon=True)
    thread.start()
    profile = tmp_path / "profile"
    register_host(profile, data_dir, port, [f"chrome-extension://{EXTENSION_ID}/"])
    browser = ExtensionBrowser(playwright, profile)
    browser.launch()
    try:
        popup = browser.open("popup.html")
        text = popup.locator("#notice-text").inner_text()
        hint = popup.locator("#notice-hint").inner_text()
        state = popup.locator("#conn-state").get_attribute("data-state")
        popup.close()
    finally:
        browser.close()
        stop.set()
        thread.join()
        holder.close()
    assert state == "down"
    assert "コンパニオンを起動できませんでした" in text and str(port) in text
    assert "IT担当者" in hint and "recore-connector" not in text + hint
