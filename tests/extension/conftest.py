"""Fixtures for the extension tests: the real companion as a subprocess, the real extension in
real Chromium (headless, persistent profile), driven through Playwright's sync API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scrapers.browser import CHROMIUM_ARGS, chromium_executable
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "extension"
CLI = [sys.executable, "-m", "companion.cli"]
# writes flow in the demo (確認モード off), except where a test of that mode switches it on
ENV = {
    **os.environ,
    "RECORE_CONNECTOR_NO_KEYRING": "1",
    "RECORE_CONNECTOR_CONFIRM_FIRST_WRITES": "off",
}


# ---- the companion ----------------------------------------------------------------------------


class Companion:
    """`recore-connector serve` on a free 127.0.0.1 port with its own data dir; restartable."""

    def __init__(self, data_dir: Path, port: int, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir  # the companion's own data dir (what `pair` needs)
        self.port = port
        self.env = env or ENV  # e.g. RECORE_CONNECTOR_DATABASE_URL for a shared database
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = data_dir.parent / f"{data_dir.name}.out"

    def command(self) -> list[str]:
        return [*CLI, "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]

    def start(self) -> None:
        with self._log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.request("GET", "/health")
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"companion did not start:\n{self._log.read_text()}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
        self.proc = None

    def pairing_code(self) -> str:
        out = subprocess.run(
            [*CLI, "pair", "--data-dir", str(self.data_dir)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.strip().splitlines()[-1]

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        """One API call from Python (no Origin header, like the CLI)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + "/api/v1" + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (loopback)
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


class Demo(Companion):
    """`recore-connector demo`: the companion wired to seeded ReCORE and Yahoo sandboxes."""

    def __init__(
        self, root: Path, world: str = "classic", env: dict[str, str] | None = None
    ) -> None:
        self.root = root
        self.world = world  # the Yahoo sandbox's store world
        self.recore_port = free_port()
        self.yahoo_port = free_port()
        super().__init__(root / "companion", free_port(), env)
        self._log = root / "demo.out"

    def command(self) -> list[str]:
        return [
            *CLI,
            "demo",
            "--data-dir",
            str(self.root),
            "--port",
            str(self.port),
            "--recore-port",
            str(self.recore_port),
            "--yahoo-port",
            str(self.yahoo_port),
            "--world",
            self.world,
        ]


@pytest.fixture(scope="session")
def companion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Companion]:
    server = Companion(tmp_path_factory.mktemp("companion"), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_companion(tmp_path: Path) -> Iterator[Companion]:
    """A companion of this test alone (a test may stop it, squat on its port or point the
    extension at another one)."""
    server = Companion(tmp_path / "companion", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, store_world: str) -> Iterator[Demo]:
    """One `recore-connector demo` per test module (and store world)."""
    server = Demo(tmp_path_factory.mktemp("demo"), store_world)
    server.start()
    yield server
    server.stop()


# ---- the browser with the extension -----------------------------------------------------------


def _locale_available(lang: str) -> bool:
    """Chromium shows (and chrome.i18n picks) only UI languages it has a locales/*.pak for."""
    if lang.startswith("en"):
        return True
    exe = chromium_executable()
    dirs = [Path("/usr/lib/chromium/locales")]
    if exe:
        dirs.insert(0, Path(os.path.realpath(exe)).parent / "locales")
    found = [d for d in dirs if d.is_dir()]
    # Unknown layout (e.g. Playwright's own build): assume the full set, as those builds ship it.
    return not found or any((d / f"{lang}.pak").exists() for d in found)


class ExtensionBrowser:
    """A persistent Chromium profile with the unpacked extension loaded; can be restarted."""

    def __init__(
        self, playwright: Any, profile_dir: Path, lang: str = "ja", extension_dir: Path = EXT
    ) -> None:
        self.playwright = playwright
        self.extension_dir = extension_dir
        self.profile_dir = profile_dir
        self.download_dir = profile_dir.parent / f"{profile_dir.name}-downloads"
        self.download_dir.mkdir(exist_ok=True)
        self.lang = lang
        self.context: Any = None
        self.extension_id = ""

    def _write_preferences(self) -> None:
        # chrome.downloads keeps the server's file name only with Chrome's own download handling,
        # into this directory, without a Save-as prompt.
        prefs_file = self.profile_dir / "Default" / "Preferences"
        prefs_file.parent.mkdir(parents=True, exist_ok=True)
        prefs = json.loads(prefs_file.read_text()) if prefs_file.exists() else {}
        prefs.setdefault("download", {}).update(
            {"default_directory": str(self.download_dir), "prompt_for_download": False}
        )
        prefs.setdefault("savefile", {})["default_directory"] = str(self.download_dir)
        prefs.setdefault("intl", {})["app_locale"] = self.lang
        prefs_file.write_text(json.dumps(prefs))

    def launch(self) -> None:
        if not _locale_available(self.lang):
            pytest.fail(
                f"Chromium has no '{self.lang}' UI locale, so the extension would run in English: "
                "install Debian's chromium-l10n (apt-get install chromium-l10n)"
            )
        self._write_preferences()
        self.context = self.playwright.chromium.launch_persistent_context(
            str(self.profile_dir),
            executable_path=chromium_executable(),
            headless=True,
            locale=self.lang,
            timezone_id="Asia/Tokyo",  # where the staff are; catches UTC/local mix-ups
            env={**os.environ, "LANGUAGE": self.lang, "LANG": f"{self.lang}.UTF-8"},
            args=[
                *CHROMIUM_ARGS,
                f"--lang={self.lang}",
                f"--disable-extensions-except={self.extension_dir}",
                f"--load-extension={self.extension_dir}",
            ],
        )
        workers = self.context.service_workers
        worker = workers[0] if workers else self.context.wait_for_event("serviceworker")
        self.extension_id = worker.url.split("/")[2]
        page = self.context.pages[0] if self.context.pages else self.context.new_page()
        cdp = self.context.new_cdp_session(page)
        cdp.send(
            "Browser.setDownloadBehavior",
            {"behavior": "default", "eventsEnabled": True},
        )
        cdp.detach()

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
            self.context = None

    def restart(self) -> None:
        self.close()
        self.launch()

    @property
    def worker(self) -> Any:
        return self.context.service_workers[0]

    def url(self, page: str) -> str:
        return f"chrome-extension://{self.extension_id}/{page}"

    def open(self, page_name: str) -> Any:
        """Open popup.html or options.html as a tab and wait until its script has loaded it."""
        page = self.context.new_page()
        page.goto(self.url(page_name))
        page.wait_for_selector("body[data-ready='true']", state="attached")
        return page

    def storage(self) -> dict[str, Any]:
        """Everything in chrome.storage.local, as the extension sees it."""
        page = self.context.new_page()
        try:
            page.goto(self.url("popup.html"))
            return page.evaluate("chrome.storage.local.get(null)")
        finally:
            page.close()

    def set_storage(self, values: dict[str, Any]) -> None:
        page = self.context.new_page()
        try:
            page.goto(self.url("popup.html"))
            page.evaluate("(v) => chrome.storage.local.set(v)", values)
        finally:
            page.close()

    def send(self, message: dict[str, Any]) -> Any:
        """A message to the service worker's router, sent from an extension page."""
        page = self.context.new_page()
        try:
            page.goto(self.url("options.html"))
            return page.evaluate("(m) => chrome.runtime.sendMessage(m)", message)
        finally:
            page.close()

    def pair(self, companion: Companion) -> str:
        """Pair through the options page as staff would; returns the token the extension stored."""
        page = self.open("options.html")
        try:
            page.fill("#companion_url", companion.url)
            page.fill("#pairing_code", companion.pairing_code())
            page.click("#pair")
            page.wait_for_selector("#settings:not([hidden])")
        finally:
            page.close()
        return self.storage()["token"]


@pytest.fixture(scope="module")
def ext_browser(
    playwright: Any, tmp_path_factory: pytest.TempPathFactory, store_world: str
) -> Iterator[ExtensionBrowser]:
    """One browser per test module and store world (a fresh profile: not paired)."""
    browser = ExtensionBrowser(playwright, tmp_path_factory.mktemp(f"profile-{store_world}") / "p")
    browser.launch()
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def token(ext_browser: ExtensionBrowser, demo: Demo) -> str:
    """The module's browser paired with its demo through the options page: the token it stored."""
    return ext_browser.pair(demo)
