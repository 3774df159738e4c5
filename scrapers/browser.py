"""Where Chromium is, and how we start it.

On a user's machine Playwright's own Chromium works (executable None): headless, Playwright runs
its headless shell. On Debian the same split is made by hand: `chromium-headless-shell` from apt
for the store's pages (headless, no extensions; about 0.1 s less per listed item here than the
full browser), `chromium` for everything with a window or the extension.
`RECORE_CONNECTOR_CHROMIUM` overrides both, `RECORE_CONNECTOR_HEADLESS_CHROMIUM` the headless one.
"""

from __future__ import annotations

import os
import shutil

CHROMIUM_ENV = "RECORE_CONNECTOR_CHROMIUM"
HEADLESS_CHROMIUM_ENV = "RECORE_CONNECTOR_HEADLESS_CHROMIUM"

# Flags that keep Chromium quiet on a closed network and working as root in CI.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


# Playwright passes its own `--disable-features` list and a second flag replaces it (Chromium keeps
# the last), so the store pages' flag repeats Playwright 1.65's list and adds RenderDocument: with
# it a same-site navigation keeps its frame instead of building a new one per page, about 30 ms
# less per item here (three navigations each).
PLAYWRIGHT_DISABLED_FEATURES: tuple[str, ...] = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
)
STORE_PAGE_ARGS: tuple[str, ...] = (
    *CHROMIUM_ARGS,
    "--disable-features=" + ",".join((*PLAYWRIGHT_DISABLED_FEATURES, "RenderDocument")),
)


def chromium_executable(*, headless: bool = False) -> str | None:
    """Path to a Chromium binary, or None to let Playwright use its own.

    `headless=True` is for pages without the extension: the headless shell is taken when there is
    one (what Playwright itself runs headless), else the full browser.
    """
    if headless:
        override = os.environ.get(HEADLESS_CHROMIUM_ENV) or os.environ.get(CHROMIUM_ENV)
        if override:
            return override
        shell = shutil.which("chromium-headless-shell")
        if shell:
            return shell
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        return override
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None
