"""Which Chromium the companion starts: the headless shell for the store's pages when there is
one, the full browser for windows and the extension, and the settings that override both."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrapers.browser import (
    CHROMIUM_ENV,
    HEADLESS_CHROMIUM_ENV,
    PLAYWRIGHT_DISABLED_FEATURES,
    STORE_PAGE_ARGS,
    StoreBrowser,
    chromium_executable,
    store_browser,
)


def _program(folder: Path, name: str) -> str:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(CHROMIUM_ENV, raising=False)
    monkeypatch.delenv(HEADLESS_CHROMIUM_ENV, raising=False)
    return tmp_path


def test_headless_prefers_the_shell_and_windows_get_the_full_browser(bin_dir: Path) -> None:
    full = _program(bin_dir, "chromium")
    shell = _program(bin_dir, "chromium-headless-shell")
    assert chromium_executable(headless=True) == shell
    assert chromium_executable() == full


def test_without_the_shell_headless_uses_the_full_browser(bin_dir: Path) -> None:
    full = _program(bin_dir, "chromium")
    assert chromium_executable(headless=True) == full


def test_nothing_installed_leaves_it_to_playwright(bin_dir: Path) -> None:
    assert chromium_executable() is None
    assert chromium_executable(headless=True) is None


def test_overrides(bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _program(bin_dir, "chromium")
    _program(bin_dir, "chromium-headless-shell")
    monkeypatch.setenv(CHROMIUM_ENV, "/opt/chrome/chrome")
    # a chosen browser is used for everything, the shell on PATH included
    assert chromium_executable() == "/opt/chrome/chrome"
    assert chromium_executable(headless=True) == "/opt/chrome/chrome"
    monkeypatch.setenv(HEADLESS_CHROMIUM_ENV, "/opt/shell/headless_shell")
    assert chromium_executable(headless=True) == "/opt/shell/headless_shell"
    assert chromium_executable() == "/opt/chrome/chrome"


def test_store_page_flag_keeps_playwrights_own_disabled_features() -> None:
    # Chromium keeps only the last --disable-features: ours must carry Playwright's list too
    flags = [a for a in STORE_PAGE_ARGS if a.startswith("--disable-features=")]
    assert len(flags) == 1
    features = flags[0].split("=", 1)[1].split(",")
    assert set(PLAYWRIGHT_DISABLED_FEATURES) < set(features)
    assert "RenderDocument" in features


def test_windows_and_macos_run_the_store_pages_in_the_installed_chrome_or_edge(
    bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Chromium on PATH and no override: a shop PC's own Chrome, else Edge, else Playwright's."""
    edge = r"%PROGRAMFILES(X86)%\Microsoft\Edge\Application\msedge.exe"
    chrome = "/Applications/Google Chrome.app"
    only_edge = store_browser(platform="win32", exists=lambda p: p == edge)
    assert only_edge == StoreBrowser(channel="msedge")
    assert "Microsoft Edge" in only_edge.describe()
    both = store_browser(platform="darwin", exists=lambda p: p in (chrome, edge))
    assert both == StoreBrowser(channel="chrome")
    assert store_browser(platform="win32", exists=lambda p: False) == StoreBrowser()
    assert "playwright install chromium" in StoreBrowser().describe()
    # Linux keeps Debian's browsers; an override wins everywhere
    assert store_browser(platform="linux", exists=lambda p: True) == StoreBrowser()
    monkeypatch.setenv(CHROMIUM_ENV, "/opt/chrome/chrome")
    assert store_browser(platform="win32", exists=lambda p: True).executable == "/opt/chrome/chrome"
