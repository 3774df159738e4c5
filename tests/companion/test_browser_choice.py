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
    chromium_executable,
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
